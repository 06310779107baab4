"""Alert rules and the alert queue: rules judged on loan events, at each close of business
and on a timer; an alert raised once per rule, subject and occurrence, shown live in the
console to the staff it names, and sent by email or webhook as its rule says."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from notification_service.domain import alerts as a
from notification_service.domain.alerts import Alert, AlertStatus, Rule, Trigger
from notification_service.domain.facts import Event, LoanFact
from notification_service.domain.positions import LoanPosition
from notification_service.domain.webhooks import Delivery, Endpoint
from notification_service.service_layer.clock import now
from notification_service.service_layer.messages import Messenger, money
from notification_service.service_layer.ports import (
    Alerts,
    Directory,
    Live,
    LiveItem,
    Page,
    Positions,
    Rules,
    SuspenseBook,
)
from notification_service.service_layer.webhooks import Webhooks
from shared import context
from shared.errors import Aborted, NotFound, ValidationError
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import BRANCH_SCOPED_ROLES, Role, require
from shared.permissions import Permission as P

log = get_logger(__name__)


def alert_data(alert: Alert) -> dict[str, object]:
    return {
        "id": alert.id,
        "branch_id": alert.branch_id,
        "rule_id": alert.rule_id,
        "trigger": alert.trigger.value,
        "title": alert.title,
        "detail": alert.detail,
        "subject_type": alert.subject_type,
        "subject_id": alert.subject_id,
        "status": alert.status.value,
        "assignee_id": alert.assignee_id,
    }


class Alerting:
    def __init__(
        self,
        rules: Rules,
        alerts: Alerts,
        positions: Positions,
        suspense: SuspenseBook,
        directory: Directory,
        messenger: Messenger,
        webhooks: Webhooks,
        live: Live,
    ) -> None:
        self.rules = rules
        self.alerts = alerts
        self.positions = positions
        self.suspense = suspense
        self.directory = directory
        self.messenger = messenger
        self.webhooks = webhooks
        self.live = live

    # --- rules -------------------------------------------------------------------------------

    async def create_rule(self, rule: Rule) -> Rule:
        p = context.principal()
        require(p, P.ALERT_RULES_MANAGE)
        assert p.institution_id is not None
        made = replace(
            rule,
            id=new_id("alrule"),
            institution_id=p.institution_id,
            created_by=p.user_id,
            create_time=now(),
        ).checked()
        await self.rules.add(made)
        return made

    async def rule(self, rule_id: str) -> Rule:
        p = context.principal()
        require(p, P.ALERT_RULES_READ)
        assert p.institution_id is not None
        found = await self.rules.get(p.institution_id, rule_id)
        if found is None:
            raise NotFound(f"No alert rule {rule_id}.", reason="ALERT_RULE_NOT_FOUND")
        return found

    async def all_rules(self) -> list[Rule]:
        p = context.principal()
        require(p, P.ALERT_RULES_READ)
        assert p.institution_id is not None
        return await self.rules.all(p.institution_id)

    async def update_rule(self, rule: Rule) -> Rule:
        p = context.principal()
        require(p, P.ALERT_RULES_MANAGE)
        held = await self.rule(rule.id)
        changed = replace(
            rule,
            institution_id=held.institution_id,
            created_by=held.created_by,
            create_time=held.create_time,
        ).checked()
        await self.rules.save(changed)
        return changed

    async def delete_rule(self, rule_id: str) -> None:
        p = context.principal()
        require(p, P.ALERT_RULES_MANAGE)
        held = await self.rule(rule_id)
        await self.rules.delete(held.institution_id, held.id)

    # --- the queue ---------------------------------------------------------------------------

    async def page(
        self, status: str, branch_id: str, assignee_id: str, page_size: int, page_token: str
    ) -> Page[Alert]:
        """The alerts the caller may see, newest first. A page may hold fewer than
        `page_size` when some of it is for others; follow `next_page_token`."""
        p = context.principal()
        require(p, P.ALERTS_READ)
        assert p.institution_id is not None
        if status and status not in {s.value for s in AlertStatus}:
            raise ValidationError.of("status", "must be open, acknowledged or resolved")
        wanted = AlertStatus(status) if status else None
        page = await self.alerts.page(
            p.institution_id, wanted, branch_id, assignee_id, page_size, page_token
        )
        return Page([x for x in page.items if x.visible_to(p)], page.next_page_token)

    async def get(self, alert_id: str) -> Alert:
        p = context.principal()
        require(p, P.ALERTS_READ)
        assert p.institution_id is not None
        found = await self.alerts.get(p.institution_id, alert_id)
        if found is None or not found.visible_to(p):
            raise NotFound(f"No alert {alert_id}.", reason="ALERT_NOT_FOUND")
        return found

    async def assign(self, alert_id: str, assignee_id: str, note: str) -> Alert:
        p = context.principal()
        assert p.institution_id is not None
        if not assignee_id:
            raise ValidationError.of("assignee_id", "name the staff member to assign it to")
        staff = await self.directory.staff(p.institution_id, ())
        if assignee_id not in {s.user_id for s in staff}:
            raise ValidationError.of(
                "assignee_id", "is not a staff member of the institution", reason="USER_NOT_FOUND"
            )
        return await self._handle(alert_id, lambda x: x.assign(assignee_id, p.user_id, now(), note))

    async def acknowledge(self, alert_id: str, note: str) -> Alert:
        p = context.principal()
        return await self._handle(alert_id, lambda x: x.acknowledge(p.user_id, now(), note))

    async def resolve(self, alert_id: str, note: str) -> Alert:
        p = context.principal()
        return await self._handle(alert_id, lambda x: x.resolve(p.user_id, now(), note))

    async def _handle(self, alert_id: str, step: Callable[[Alert], Alert]) -> Alert:
        """One step of an alert the caller may see, retried on a concurrent change."""
        p = context.principal()
        require(p, P.ALERTS_HANDLE)
        for _ in range(3):
            after = step(await self.get(alert_id))
            if await self.alerts.save(after):
                await self.live.publish(self._live(after))
                return after
        raise Aborted("The alert changed meanwhile; try again.")

    # --- raising -----------------------------------------------------------------------------

    def _live(self, alert: Alert) -> LiveItem:
        roles = tuple(dict.fromkeys((Role.ADMIN.value, *alert.roles)))
        return LiveItem(
            event="alert",
            id=alert.id,
            institution_id=alert.institution_id,
            branch_id=alert.branch_id,
            roles=roles,
            permission=P.ALERTS_READ.value,
            data=alert_data(alert),
        )

    async def raise_alert(
        self,
        rule: Rule,
        *,
        branch_id: str,
        title: str,
        detail: str,
        subject_type: str,
        subject_id: str,
        occurrence: str,
    ) -> Alert | None:
        """Raises the alert unless it was raised already; then shows it live and sends it
        on the rule's channels. Returns it when new."""
        alert = a.raised(
            rule,
            branch_id=branch_id,
            title=title,
            detail=detail,
            subject_type=subject_type,
            subject_id=subject_id,
            occurrence=occurrence,
            now=now(),
        )
        if not await self.alerts.add(alert):
            return None
        log.info("alert_raised", alert_id=alert.id, rule_id=rule.id, trigger=rule.trigger.value)
        await self.live.publish(self._live(alert))
        if "email" in rule.channels:
            await self._email(alert)
        if "webhook" in rule.channels:
            assert alert.create_time is not None
            await self.webhooks.fan_out(
                Event(
                    id=f"evt_{alert.id}",
                    type="alert.raised",
                    institution_id=alert.institution_id,
                    branch_id=alert.branch_id,
                    aggregate_id=alert.id,
                    occurred_at=alert.create_time,
                    payload=lambda: alert_data(alert),
                )
            )
        return alert

    async def _email(self, alert: Alert) -> None:
        roles = tuple(dict.fromkeys((Role.ADMIN.value, *alert.roles)))
        for member in await self.directory.staff(alert.institution_id, roles):
            scoped = Role(member.role) in BRANCH_SCOPED_ROLES
            if scoped and alert.branch_id and member.branch_id != alert.branch_id:
                continue
            await self.messenger.staff_email(
                event_id=alert.id,
                institution_id=alert.institution_id,
                branch_id=alert.branch_id,
                user_id=member.user_id,
                email=member.email,
                subject=f"Kopa alert: {alert.title}",
                text=f"{alert.title}\n\n{alert.detail}\n\nOpen the alert queue in Kopa to "
                "assign, acknowledge or resolve it.",
            )

    # --- judging -------------------------------------------------------------------------------

    async def on_loan_event(self, fact: LoanFact) -> None:
        """Days past due reached (as the event states it) and large disbursements."""
        institution = fact.event.institution_id
        if fact.days_past_due and fact.oldest_unpaid_due_date is not None:
            for rule in await self.rules.of_trigger(Trigger.DAYS_PAST_DUE, institution):
                if fact.days_past_due >= rule.days and rule.covers(fact.event.branch_id):
                    await self._arrears_alert(
                        rule,
                        fact.loan_id,
                        fact.event.branch_id,
                        fact.days_past_due,
                        fact.oldest_unpaid_due_date,
                        fact.outstanding,
                        fact.currency,
                    )
        if fact.event.type == "loan.disbursed":
            principal: Decimal = fact.details.get("principal", Decimal(0))
            for rule in await self.rules.of_trigger(Trigger.LARGE_DISBURSEMENT, institution):
                if (
                    rule.amount is not None
                    and principal >= rule.amount
                    and rule.covers(fact.event.branch_id)
                ):
                    await self.raise_alert(
                        rule,
                        branch_id=fact.event.branch_id,
                        title=f"Large disbursement: {money(principal, fact.currency)}",
                        detail=f"Loan {fact.loan_id} was disbursed with a principal of "
                        f"{money(principal, fact.currency)}, at or above the rule's "
                        f"{money(rule.amount, fact.currency)}.",
                        subject_type="loan",
                        subject_id=fact.loan_id,
                        occurrence="disbursed",
                    )

    async def _arrears_alert(
        self,
        rule: Rule,
        loan_id: str,
        branch_id: str,
        days: int,
        since: date,
        outstanding: Decimal,
        currency: str,
    ) -> None:
        await self.raise_alert(
            rule,
            branch_id=branch_id,
            title=f"Loan {days} days past due",
            detail=f"Loan {loan_id} has been past due since {since.isoformat()} ({days} days, "
            f"the rule's threshold is {rule.days}); {money(outstanding, currency)} outstanding.",
            subject_type="loan",
            subject_id=loan_id,
            # One alert per spell of arrears: a loan that catches up and falls behind again
            # has a new oldest unpaid due date.
            occurrence=since.isoformat(),
        )

    async def on_business_day_closed(self, institution_id: str, day: date) -> None:
        """Days past due as of the closed day (they grow without events) and each branch's
        PAR30."""
        dpd_rules = await self.rules.of_trigger(Trigger.DAYS_PAST_DUE, institution_id)
        if dpd_rules:
            for position in await self.positions.in_arrears(institution_id):
                days = position.days_past_due_on(day)
                for rule in dpd_rules:
                    if days >= rule.days and rule.covers(position.branch_id):
                        assert position.oldest_unpaid_due_date is not None
                        await self._arrears_alert(
                            rule,
                            position.loan_id,
                            position.branch_id,
                            days,
                            position.oldest_unpaid_due_date,
                            position.outstanding,
                            position.currency,
                        )
        par_rules = await self.rules.of_trigger(Trigger.BRANCH_PAR30, institution_id)
        if par_rules:
            await self._par30(par_rules, await self.positions.active(institution_id), day)

    async def _par30(self, rules: list[Rule], positions: list[LoanPosition], day: date) -> None:
        by_branch: dict[str, list[tuple[Decimal, int]]] = defaultdict(list)
        for position in positions:
            by_branch[position.branch_id].append(
                (position.outstanding_principal, position.days_past_due_on(day))
            )
        for branch_id, figures in sorted(by_branch.items()):
            ratio = a.par30(figures)
            for rule in rules:
                if rule.covers(branch_id) and ratio >= Decimal(rule.ratio):
                    await self.raise_alert(
                        rule,
                        branch_id=branch_id,
                        title=f"Branch PAR30 at {ratio * 100:.2f}%",
                        detail=f"Branch {branch_id}: PAR30 {ratio} on {day.isoformat()}, at or "
                        f"above the rule's {rule.ratio}.",
                        subject_type="branch",
                        subject_id=branch_id,
                        occurrence=day.isoformat(),
                    )

    async def check_suspense(self) -> None:
        """Payments held in suspense longer than each rule allows (run on a timer)."""
        for rule in await self.rules.of_trigger(Trigger.SUSPENSE_AGE):
            cutoff = now() - timedelta(hours=rule.hours)
            for item in await self.suspense.older_than(rule.institution_id, cutoff):
                await self.raise_alert(
                    rule,
                    branch_id="",
                    title=f"Payment in suspense over {rule.hours} h",
                    detail=f"Payment {item.payment_id} of {money(item.amount, item.currency)} "
                    f"has waited in suspense since {item.received_at.isoformat()}: assign it "
                    "to its loan or refund it.",
                    subject_type="payment",
                    subject_id=item.payment_id,
                    occurrence="suspense",
                )

    async def on_webhook_disabled(self, endpoint: Endpoint, delivery: Delivery) -> None:
        rules = [
            a.webhook_failure_rule(endpoint.institution_id),
            *await self.rules.of_trigger(Trigger.WEBHOOK_FAILED, endpoint.institution_id),
        ]
        for rule in rules:
            await self.raise_alert(
                rule,
                branch_id="",
                title="Webhook endpoint disabled",
                detail=f"{endpoint.url} was disabled: {endpoint.disabled_reason or delivery.id}. "
                "Fix the receiver, enable the endpoint again and replay the failed deliveries.",
                subject_type="webhook_endpoint",
                subject_id=endpoint.id,
                occurrence=delivery.id,
            )
