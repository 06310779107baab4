"""What each event the service consumes leads to: the loans' read model kept, the borrower's
message composed, alerts judged, webhooks fanned out. Every step is idempotent (a message or
alert has an id derived from what made it, a delivery one per endpoint and event, the read
model keeps the newest version), so a redelivered event changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from notification_service.domain.facts import BusinessDayClosed, Event, LoanFact, PaymentFact
from notification_service.domain.positions import LoanPosition, new_position
from notification_service.domain.templates import Kind
from notification_service.service_layer.alerts import Alerting
from notification_service.service_layer.business_days import BusinessDays
from notification_service.service_layer.messages import Messenger, money
from notification_service.service_layer.ports import Positions, SuspenseBook, SuspenseItem
from notification_service.service_layer.webhooks import Webhooks


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else ""


class Intake:
    def __init__(
        self,
        positions: Positions,
        suspense: SuspenseBook,
        messenger: Messenger,
        alerting: Alerting,
        webhooks: Webhooks,
        days: BusinessDays,
    ) -> None:
        self.positions = positions
        self.suspense = suspense
        self.messenger = messenger
        self.alerting = alerting
        self.webhooks = webhooks
        self.days = days

    async def loan_event(self, fact: LoanFact) -> None:
        """Raises BorrowerNotFound when the loan's borrower does not exist (dead-letter)."""
        position = await self._keep(fact)
        message = self._message(fact, position)
        if message is not None:
            kind, values = message
            await self.messenger.compose(
                kind=kind,
                event_id=fact.event.id,
                institution_id=fact.event.institution_id,
                borrower_id=fact.borrower_id,
                loan_id=fact.loan_id,
                values={"currency": fact.currency, **values},
            )
        await self.alerting.on_loan_event(fact)
        await self.webhooks.fan_out(fact.event)

    async def _keep(self, fact: LoanFact) -> LoanPosition:
        held = await self.positions.get(fact.loan_id)
        if held is None:
            position = new_position(fact)
        elif held.version >= fact.version:
            return held  # an older event, late: the read model has moved on
        else:
            position = held.apply(fact)
        await self.positions.save(position)
        return position

    def _message(
        self, fact: LoanFact, position: LoanPosition
    ) -> tuple[Kind, dict[str, str]] | None:
        d = fact.details
        c = fact.currency
        balance = money(fact.outstanding, c)
        match fact.event.type:
            case "loan.approved":
                principal = position.principal
                return Kind.LOAN_APPROVED, {
                    "principal": money(principal, c) if principal is not None else "",
                    "approved_on": _day(d.get("approved_on")),
                }
            case "loan.rejected":
                return Kind.LOAN_REJECTED, {"reason": str(d.get("reason", ""))}
            case "loan.disbursed":
                first = min(position.installments, key=lambda i: i.number, default=None)
                return Kind.LOAN_DISBURSED, {
                    "principal": money(d.get("principal", Decimal(0)), c),
                    "disbursed_net": money(d.get("disbursed_net", Decimal(0)), c),
                    "disbursement_date": _day(d.get("disbursement_date")),
                    "first_due_date": first.due_date.isoformat() if first else "",
                    "first_installment": money(first.due, c) if first else "",
                    "maturity_date": _day(d.get("maturity_date")),
                }
            case "loan.repayment_applied":
                return Kind.REPAYMENT_RECEIVED, {
                    "amount": money(d.get("amount", Decimal(0)), c),
                    "paid_on": _day(d.get("paid_on")),
                    "balance": balance,
                }
            case "loan.installment_overdue":
                business = d.get("business_date")
                overdue = position.overdue_on(business) if isinstance(business, date) else None
                return Kind.INSTALLMENT_OVERDUE, {
                    "amount_overdue": money(overdue or fact.outstanding, c),
                    "days_past_due": str(fact.days_past_due),
                    "oldest_due_date": _day(fact.oldest_unpaid_due_date),
                    "balance": balance,
                }
        return None

    async def payment_event(self, fact: PaymentFact) -> None:
        match fact.event.type:
            case "payment.unmatched":
                await self.suspense.add(
                    SuspenseItem(
                        fact.payment_id,
                        fact.event.institution_id,
                        fact.amount,
                        fact.currency,
                        fact.event.occurred_at,
                    )
                )
            case "payment.assigned" | "payment.refunded":
                # Only a payment that waited unmatched leaves suspense (a posted payment
                # matched its loan at once: nothing to remove, and no statement spent).
                await self.suspense.remove(fact.payment_id)
        await self.webhooks.fan_out(fact.event)

    async def business_day_closed(self, fact: BusinessDayClosed) -> None:
        institution = fact.event.institution_id
        await self.days.after_close(institution, fact.business_date)
        await self.alerting.on_business_day_closed(institution, fact.business_date)
        await self.webhooks.fan_out(fact.event)

    async def institution_created(self, event: Event) -> None:
        await self.days.schedule_of(event.institution_id)
