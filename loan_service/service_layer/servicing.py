"""Servicing a disbursed loan beyond its repayments: writing it off, rescheduling it.

Both are dated (today when not given), never before the disbursement, and noted with their
reason in the loan's history.
"""

from __future__ import annotations

from typing import Any

from loan_service.domain import Loan
from loan_service.domain import ValidationError as DomainValidationError
from loan_service.service_layer.clock import today
from loan_service.service_layer.commands import RescheduleLoan, WriteOffLoan
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.unit_of_work import Change, UnitOfWork
from shared.dates import parse_date
from shared.errors import ValidationError
from shared.money import fmt, parse_decimal
from shared.permissions import Permission, Principal


async def write_off(uow: UnitOfWork, cmd: WriteOffLoan) -> dict[str, Any]:
    """Writes the loan off; what was owed then is stored (``written_off_amounts``)."""
    day = parse_date(cmd.date, "date", required=False) or today()

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        if loan.disbursement_date is not None and day < loan.disbursement_date:
            raise ValidationError.of("date", "must not be before the disbursement date")
        owed = loan.write_off(day, by=p.user_id, reason=cmd.reason)
        currency = doc["currency"]
        return Change(
            note=cmd.reason.strip(),
            set_fields={
                "written_off_amounts": {
                    "principal": fmt(owed.principal, currency),
                    "interest": fmt(owed.interest, currency),
                    "fees": fmt(owed.fees, currency),
                    "penalties": fmt(owed.penalties, currency),
                    "total": fmt(owed.total, currency),
                }
            },
            business_date=day,
        )

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_WRITE_OFF, action)
    return after


async def reschedule(uow: UnitOfWork, cmd: RescheduleLoan) -> dict[str, Any]:
    """A new schedule for what is left (a new term, rate or grace on principal); the old
    one is kept in the loan's ``schedule_history``."""
    errors: list[tuple[str, str]] = []
    day = collect(errors, lambda: parse_date(cmd.date, "date", required=False)) or today()
    rate = collect(
        errors,
        lambda: (
            parse_decimal(cmd.new_annual_interest_rate, "new_annual_interest_rate")
            if cmd.new_annual_interest_rate
            else None
        ),
    )
    if cmd.new_term < 0:
        errors.append(("new_term", "must be at least 1 installment"))
    if cmd.grace_on_principal < 0:
        errors.append(("grace_on_principal", "must not be negative"))
    if errors:
        raise ValidationError("the reschedule is invalid", field_errors=errors)

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        try:
            loan.reschedule(
                day,
                by=p.user_id,
                reason=cmd.reason,
                new_term=cmd.new_term or None,
                new_annual_rate=rate,
                grace_on_principal=cmd.grace_on_principal,
            )
        except DomainValidationError as exc:
            names = {"new_annual_rate": "new_annual_interest_rate", "on": "date"}
            raise ValidationError(
                exc.message,
                field_errors=[(names.get(f, f), m) for f, m in exc.field_errors],
                reason=exc.reason,
            ) from None
        return Change(note=cmd.reason.strip(), business_date=day, reprice=True)

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_RESCHEDULE, action)
    return after
