"""Alert rules and the alert queue: what raises an alert, who sees it, and its life from open
to resolved. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from shared.errors import IllegalState, ValidationError
from shared.permissions import BRANCH_SCOPED_ROLES, INSTITUTION_ROLES, Principal, Role


class Trigger(StrEnum):
    DAYS_PAST_DUE = "days_past_due"
    BRANCH_PAR30 = "branch_par30"
    SUSPENSE_AGE = "suspense_age"
    WEBHOOK_FAILED = "webhook_failed"
    LARGE_DISBURSEMENT = "large_disbursement"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


#: The channels an alert goes out on besides the console's queue.
ALERT_CHANNELS = ("email", "webhook")
STAFF_ROLES = sorted(r.value for r in INSTITUTION_ROLES)


@dataclass(frozen=True)
class Rule:
    id: str
    institution_id: str
    name: str
    trigger: Trigger
    days: int = 0
    ratio: str = ""
    hours: int = 0
    #: A decimal amount in the institution's currency (LARGE_DISBURSEMENT).
    amount: Decimal | None = None
    currency: str = ""
    roles: tuple[str, ...] = ()
    branch_ids: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    enabled: bool = True
    created_by: str = ""
    create_time: datetime | None = None

    def checked(self) -> Rule:
        problems: list[tuple[str, str]] = []
        if not self.name.strip() or len(self.name) > 120:
            problems.append(("name", "must be 1 to 120 characters"))
        t = self.trigger
        if t is Trigger.DAYS_PAST_DUE and not 1 <= self.days <= 3650:
            problems.append(("days", "days past due: a whole number from 1 to 3650"))
        if t is Trigger.SUSPENSE_AGE and not 1 <= self.hours <= 24 * 365:
            problems.append(("hours", "hours in suspense: a whole number from 1 to 8760"))
        if t is Trigger.BRANCH_PAR30:
            try:
                ratio = Decimal(self.ratio)
                if not ratio.is_finite() or not 0 < ratio <= 1:
                    raise InvalidOperation
            except InvalidOperation:
                problems.append(("ratio", "a fraction above 0 and at most 1, e.g. 0.05 for 5%"))
        if t is Trigger.LARGE_DISBURSEMENT and (self.amount is None or self.amount <= 0):
            problems.append(("amount", "a positive amount in the institution's currency"))
        for n, role in enumerate(self.roles):
            if role not in STAFF_ROLES:
                problems.append((f"roles[{n}]", f"must be one of {', '.join(STAFF_ROLES)}"))
        for n, channel in enumerate(self.channels):
            if channel not in ALERT_CHANNELS:
                problems.append((f"channels[{n}]", "must be email or webhook"))
        if problems:
            raise ValidationError.of_fields(problems)
        return self

    def covers(self, branch_id: str) -> bool:
        return not self.branch_ids or not branch_id or branch_id in self.branch_ids


@dataclass(frozen=True)
class Step:
    action: str
    actor_id: str
    time: datetime
    note: str = ""
    assignee_id: str = ""


@dataclass(frozen=True)
class Alert:
    id: str
    institution_id: str
    branch_id: str
    rule_id: str
    trigger: Trigger
    title: str
    detail: str
    subject_type: str
    subject_id: str
    roles: tuple[str, ...]
    status: AlertStatus = AlertStatus.OPEN
    assignee_id: str = ""
    history: tuple[Step, ...] = ()
    create_time: datetime | None = None
    update_time: datetime | None = None
    version: int = 1
    channels: tuple[str, ...] = field(default=())

    def visible_to(self, principal: Principal) -> bool:
        """Admins see every alert of their institution; others only alerts whose rule names
        their role, and branch-scoped staff only their branch's."""
        if principal.institution_id != self.institution_id:
            return False
        if principal.role is Role.ADMIN or principal.role is Role.AUDITOR:
            return True
        if principal.role.value not in self.roles:
            return False
        if principal.role in BRANCH_SCOPED_ROLES:
            return not self.branch_id or self.branch_id == principal.branch_id
        return True

    def _step(self, step: Step, **changes: Any) -> Alert:
        return replace(
            self,
            history=(*self.history, step),
            update_time=step.time,
            version=self.version + 1,
            **changes,
        )

    def assign(self, assignee_id: str, actor_id: str, now: datetime, note: str = "") -> Alert:
        if self.status is AlertStatus.RESOLVED:
            raise IllegalState(
                "A resolved alert cannot be assigned.",
                reason="ALERT_RESOLVED",
                metadata={"current_status": self.status.value},
            )
        return self._step(
            Step("assigned", actor_id, now, note, assignee_id), assignee_id=assignee_id
        )

    def acknowledge(self, actor_id: str, now: datetime, note: str = "") -> Alert:
        if self.status is not AlertStatus.OPEN:
            raise IllegalState(
                f"Only an open alert can be acknowledged; this one is {self.status.value}.",
                reason="ALERT_NOT_OPEN",
                metadata={"current_status": self.status.value},
            )
        return self._step(
            Step("acknowledged", actor_id, now, note), status=AlertStatus.ACKNOWLEDGED
        )

    def resolve(self, actor_id: str, now: datetime, note: str = "") -> Alert:
        if self.status is AlertStatus.RESOLVED:
            raise IllegalState(
                "The alert is resolved already.",
                reason="ALERT_RESOLVED",
                metadata={"current_status": self.status.value},
            )
        return self._step(Step("resolved", actor_id, now, note), status=AlertStatus.RESOLVED)


def alert_id(rule_id: str, subject_type: str, subject_id: str, occurrence: str) -> str:
    """One alert per rule, subject and occurrence (a spell of arrears, a business date): a
    condition seen again by a later event or batch raises nothing new."""
    key = f"{rule_id}|{subject_type}|{subject_id}|{occurrence}"
    return "alr_" + hashlib.sha256(key.encode()).hexdigest()[:28]


def raised(
    rule: Rule,
    *,
    branch_id: str,
    title: str,
    detail: str,
    subject_type: str,
    subject_id: str,
    occurrence: str,
    now: datetime,
) -> Alert:
    return Alert(
        id=alert_id(rule.id, subject_type, subject_id, occurrence),
        institution_id=rule.institution_id,
        branch_id=branch_id,
        rule_id=rule.id,
        trigger=rule.trigger,
        title=title,
        detail=detail,
        subject_type=subject_type,
        subject_id=subject_id,
        roles=rule.roles,
        history=(Step("raised", "", now),),
        create_time=now,
        update_time=now,
        channels=rule.channels,
    )


#: The built-in rule behind the alert every admin gets when a webhook endpoint is disabled
#: (whatever rules the institution has written).
def webhook_failure_rule(institution_id: str) -> Rule:
    return Rule(
        id="builtin_webhook_failed",
        institution_id=institution_id,
        name="Webhook endpoint disabled",
        trigger=Trigger.WEBHOOK_FAILED,
        roles=(Role.ADMIN.value,),
        channels=("email",),
    )


def par30(positions: list[tuple[Decimal, int]]) -> Decimal:
    """PAR30 of a set of loans given (outstanding principal, days past due): the principal of
    loans more than 30 days late over all outstanding principal (0 with none)."""
    total = sum((p for p, _ in positions), Decimal(0))
    if not total:
        return Decimal(0)
    late = sum((p for p, dpd in positions if dpd > 30), Decimal(0))
    return (late / total).quantize(Decimal("0.0001"))
