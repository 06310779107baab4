"""The write path every loan use case shares: load, apply one domain verb, commit.

A loan's state change is ONE atomic, version-guarded document write (no multi-document
transactions, see INFRA.md) that stores the new state of the aggregate, the figures derived
from it (`views`) and the events it caused, which go into the loan's outbox in that same
write (`LoanWrite`; the repository encodes them). So this is not the context-manager unit of
work of a database transaction: `UnitOfWork.mutate` re-reads and re-runs the use case's
action when its write loses a race to a concurrent one (`MAX_ATTEMPTS`), then gives up with
ABORTED; `UnitOfWork.commit` builds the write. After a write with events, `notify` tells the
outbox relay to publish them now rather than at its next sweep.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from loan_service.adapters.serialization import first_allocations, loan_from_doc, loan_to_doc
from loan_service.domain import Loan
from loan_service.domain.lifecycle import Event
from loan_service.service_layer import views
from loan_service.service_layer.clock import now
from loan_service.service_layer.ports import LoanRepository, LoanWrite, OutgoingEvent
from loan_service.service_layer.settings import InstitutionSettings, settings_of
from shared import context
from shared.errors import Aborted, NotFound, ValidationError
from shared.permissions import Permission, Principal, require

#: Loans are spread over this many close-of-business partitions (`crc32(id) % PARTITIONS`,
#: stored on each loan when it is created). It may grow, never shrink.
PARTITIONS = 8
MAX_ATTEMPTS = 5


def partition_of(loan_id: str) -> int:
    return zlib.crc32(loan_id.encode()) % PARTITIONS


class Lost(Exception):
    """The version-guarded write matched nothing: a concurrent write won."""


@dataclass
class Change:
    """What a use case asks `UnitOfWork.commit` to store besides the aggregate: a history
    note, fields of its own, the allocations of new repayments, events beyond the
    aggregate's (routing key, fields), extra fields of the aggregate's events by type, the
    business date the change is as of, and whether the pricing must be computed again."""

    note: str = ""
    set_fields: dict[str, Any] = field(default_factory=dict)
    allocations: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    event_fields: dict[type[Event], dict[str, Any]] = field(default_factory=dict)
    business_date: date | None = None
    reprice: bool = False


def arrears_events(doc: dict[str, Any], c: views.Classification) -> list[OutgoingEvent]:
    """``loan.installment_overdue`` and ``loan.reclassified``, when a write (or the close of
    business) finds installments newly past due, penalties charged or a new bucket."""
    out = []
    business = (doc.get("view") or {}).get("as_of") or ""
    if c.newly_overdue or c.penalties_added:
        out.append(OutgoingEvent("loan.installment_overdue", None, {"business_date": business}))
    if c.previous_bucket is not None:
        out.append(
            OutgoingEvent(
                "loan.reclassified",
                None,
                {"business_date": business, "previous_bucket": c.previous_bucket},
            )
        )
    return out


class UnitOfWork:
    def __init__(
        self,
        repo: LoanRepository,
        notify: Callable[[str], None],
        figures_settings: Callable[[str], Awaitable[InstitutionSettings]] | None = None,
    ) -> None:
        self.repo = repo
        self._notify = notify  # the outbox relay's, for the loans collection
        # The settings a write derives the loan's figures by (the business date, the
        # delinquency buckets): the ones reads go by (`ReadingSettings`, a few seconds old
        # at most, forgotten here when they change or a close of business completes), so
        # a repayment does not read the settings again. Approval limits are read fresh.
        self._figures_settings = figures_settings or self.settings

    async def settings(self, institution_id: str) -> InstitutionSettings:
        return settings_of(await self.repo.settings(institution_id))

    async def loan_doc(self, p: Principal, loan_id: str) -> dict[str, Any]:
        """The stored loan, if in `p`'s scope (else NOT_FOUND, as if it did not exist)."""
        if not loan_id:
            raise ValidationError.of("loan_id", "is required")
        doc = await self.repo.get_loan(loan_id)
        if doc is None or not p.can_access(doc["institution_id"], doc["branch_id"]):
            raise NotFound(
                f"loan {loan_id} not found", reason="LOAN_NOT_FOUND", metadata={"loan_id": loan_id}
            )
        return doc

    async def add(self, doc: dict[str, Any], loan: Loan) -> None:
        """Stores a new loan with the events its creation caused, in one write."""
        events = [OutgoingEvent(e.name, e) for e in loan.pull_events()]
        await self.repo.insert_loan(doc, events)
        self._notify(doc["_id"])

    async def mutate(
        self,
        loan_id: str,
        permission: Permission,
        action: Callable[[Principal, dict[str, Any], Loan], Any],
    ) -> tuple[dict[str, Any], Any]:
        """Loads, applies `action` (which may return a `Change`, or ``(Change, result)``, or
        None for "nothing to write"; maybe awaitable) and commits; retries a lost race.
        Returns the loan document after the write (as read when nothing was written) and the
        action's result."""
        p = context.principal()
        require(p, permission)
        for _ in range(MAX_ATTEMPTS):
            doc = await self.loan_doc(p, loan_id)
            loan = loan_from_doc(doc)
            outcome = action(p, doc, loan)
            if hasattr(outcome, "__await__"):
                outcome = await outcome
            result: Any = None
            if isinstance(outcome, tuple):
                outcome, result = outcome
            if outcome is None:
                return doc, result
            try:
                after = await self.commit(p, doc, loan, outcome)
            except Lost:
                continue
            return after, result
        raise Aborted(
            f"loan {loan_id} kept changing concurrently; retry", reason="CONCURRENT_MODIFICATION"
        )

    async def commit(
        self, p: Principal, before: dict[str, Any], loan: Loan, change: Change
    ) -> dict[str, Any]:
        """Writes `loan` (read as `before`) as `change` says; raises `Lost` if a concurrent
        write won. Returns the loan document after the write."""
        settings = await self._figures_settings(before["institution_id"])
        cob = date.fromisoformat(before["cob_date"]) if before.get("cob_date") else None
        as_of = views.view_date(loan, cob, settings.business_date, change.business_date)
        derived = views.derive(
            loan,
            as_of,
            fallback=before["create_time"].date(),
            previous_max_dpd=before.get("max_days_past_due", 0),
            buckets=settings.buckets,
        )
        allocations = {**first_allocations(before), **change.allocations}
        fields: dict[str, Any] = {**loan_to_doc(loan, allocations), **derived.fields}
        fields.update(change.set_fields)
        if change.reprice:
            schedule = loan.schedule or views.indicative_schedule(
                loan, before["create_time"].date()
            )
            fields["pricing"] = views.pricing_of(schedule) if schedule is not None else None
        stamp = now()
        fields["update_time"] = stamp
        if loan.status.value != before["status"]:
            fields["history"] = [
                *before.get("history", []),
                {
                    "status": loan.status.value,
                    "time": stamp,
                    "actor_id": p.user_id,
                    "note": change.note,
                },
            ]
        after = {**before, **fields, "version": before["version"] + 1}
        classification = views.classify(before, after)
        if classification.history_entry is not None:
            fields["classification_history"] = [
                *before.get("classification_history", []),
                classification.history_entry,
            ]
            after["classification_history"] = fields["classification_history"]

        events = [
            OutgoingEvent(event.name, event, change.event_fields.get(type(event), {}))
            for event in loan.pull_events()
        ]
        events.extend(OutgoingEvent(key, None, extra) for key, extra in change.extra_events)
        events.extend(arrears_events(after, classification))
        if not await self.repo.save_loan(before, LoanWrite(fields, events)):
            raise Lost
        if events:
            self._notify(before["_id"])
        after.pop("outbox", None)
        return after
