"""Disbursing an approved loan: its schedule starts, its pricing is fixed.

Idempotent on the request id (`DisburseLoanRequest.request_id`): a retry of the same
disbursement answers the loan and writes nothing; the same id with other terms is a
conflict.
"""

from __future__ import annotations

from typing import Any

from loan_service.domain import Loan
from loan_service.domain.lifecycle import LoanDisbursed
from loan_service.service_layer.commands import DisburseLoan
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.ports import UserDirectory
from loan_service.service_layer.unit_of_work import Change, UnitOfWork
from shared.dates import parse_date
from shared.errors import Conflict, IllegalState, ValidationError
from shared.permissions import Permission, Principal

CHANNELS = ("cash", "bank", "mobile_money")


async def disburse(uow: UnitOfWork, users: UserDirectory, cmd: DisburseLoan) -> dict[str, Any]:
    errors: list[tuple[str, str]] = []
    on = collect(errors, lambda: parse_date(cmd.disbursement_date, "disbursement_date"))
    first = collect(
        errors,
        lambda: parse_date(cmd.first_repayment_date, "first_repayment_date", required=False),
    )
    channel = cmd.channel or "cash"
    if channel not in CHANNELS:
        errors.append(("channel", "must be cash, bank or mobile_money"))
    if on is not None and first is not None and first <= on:
        errors.append(("first_repayment_date", "must be after the disbursement date"))
    if errors:
        raise ValidationError("the disbursement is invalid", field_errors=errors)
    assert on is not None
    request_id = cmd.request_id
    # What a retry must repeat to be the same request (see DisburseLoanRequest.request_id).
    request = {
        "request_id": request_id,
        "disbursement_date": on.isoformat(),
        "first_repayment_date": first.isoformat() if first else "",
        "channel": channel,
    }

    async def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change | None:
        done = doc.get("disbursement_request") or {}
        if request_id and done.get("request_id") == request_id:
            if done != request:
                raise Conflict(
                    f"Idempotency-Key {request_id!r} was used for another disbursement",
                    reason="IDEMPOTENCY_KEY_REUSED",
                    metadata={"loan_id": cmd.loan_id},
                )
            return None  # a retry of the disbursement that was applied: nothing to do
        if doc.get("requires_kyc_verified"):
            borrower = await users.borrower(doc["borrower_id"])
            if borrower.kyc_status != "verified":
                raise IllegalState(
                    f"the product lends only to borrowers whose identity was verified; borrower "
                    f"{borrower.id} is {borrower.kyc_status.replace('_', ' ')}: review their "
                    "documents (PUT /v1/borrowers/{id}/kyc-status) before disbursing",
                    reason="KYC_NOT_VERIFIED",
                    metadata={"borrower_id": borrower.id, "kyc_status": borrower.kyc_status},
                )
        if loan.first_repayment_date is not None and loan.first_repayment_date <= on:
            loan.first_repayment_date = None
        loan.disburse(on, first)
        return Change(
            note=f"disbursed by {channel}",
            set_fields={
                "disbursement_channel": channel,
                "disbursement_request": request if request_id else None,
            },
            event_fields={LoanDisbursed: {"channel": channel}},
            business_date=on,
            reprice=True,
        )

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_DISBURSE, action)
    return after
