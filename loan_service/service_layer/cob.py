"""Close of business: brings every active loan of an institution up to a business date.

For each active loan with something to record by ``as_of`` (``cob_next_date <= as_of``, see
`views.next_change`: an installment has fallen past due, a late penalty has triggered, or
the days past due have crossed into the next delinquency bucket) it charges the penalties
triggered by then (`arrears.charge_penalties`: once per installment, dated by the trigger,
so idempotent per date), recomputes days past due, the bucket and the oldest unpaid due
date, records a classification history entry when the bucket changes, and emits
``loan.installment_overdue`` (installments newly past due or penalties charged) and
``loan.reclassified`` (with ``previous_bucket``). A loan whose figures come out the same is
not written; loans with nothing to record are not even read. A day on which only the day
count of a loan in arrears moves is not a write either: the stored figures are valid until
``cob_next_date`` and readers add the days since (``oldest_unpaid_due_date``, see
`views.effective_arrears`), so a loan 200 days late costs a handful of writes, not 200.

No replay: the stored ``view`` is the loan's state as of its business date, and charging
penalties up to a later date is all that time does to it (repayments are dated on or before
the view's date), so the batch never rebuilds the aggregate.

Idempotent per (institution, date): one job document per pair, ``state`` running or
completed; running a completed date again returns the job and writes nothing, and a loan
already brought to the date (``cob_date >= as_of``) is skipped. Completing the job is one
write of the job document, guarded on ``state`` running, that also puts
``close_of_business.completed`` in its outbox: of two workers finishing the last partitions
together, one completes it, and the event is published once.

Finding the loans: every active loan has a small hint document (``loan_cob_hints``: its
partition, status and ``cob_next_date``, kept by every loan write, see
`Repository.lower_hint`), so a batch reads the hints of loans due and then only those
loans, by id; it never scans the loans themselves (on FerretDB a filtered scan costs a read
of every document, about a third of a millisecond each here).

Resumable and shared: loans carry ``partition = crc32(id) % PARTITIONS``; the job has one
document per partition. A worker claims a pending partition with a lease
(``find_one_and_update`` on ``lease_until < now``), processes its loans in ``_id`` order in
batches (the loans read by id, several at a time; one ``bulk_write`` of version-guarded
updates per batch), and after each batch checkpoints the last loan id and renews the lease.
A crashed worker's lease expires and any replica's worker resumes after the checkpoint.
Several replicas (and several workers per replica) share the partitions.

Concurrency with the use cases: every update is guarded by the version it read; a loan
changed meanwhile (a repayment) is re-read and recomputed on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import product_from_doc, rows_to_installments
from loan_service.domain import DEFAULT_BUCKETS, LoanState, charge_penalties
from loan_service.domain.arrears import Bucket
from loan_service.service_layer import views
from loan_service.service_layer.ports import CobRepository, LoanWrite, OutgoingEvent
from loan_service.service_layer.settings import settings_of
from loan_service.service_layer.unit_of_work import MAX_ATTEMPTS, PARTITIONS, arrears_events
from shared.logging import get_logger

log = get_logger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def job_id(institution_id: str, as_of: date) -> str:
    return f"cob_{institution_id}_{as_of.isoformat()}"


class CloseOfBusiness:
    def __init__(
        self,
        repo: CobRepository,
        notify: Callable[[str], None],
        notify_job: Callable[[str], None],
        *,
        partitions: int = PARTITIONS,
        workers: int = 2,
        batch_size: int = 500,
        lease_seconds: float = 60.0,
        owner: str | None = None,
        on_completed: Callable[[str], None] | None = None,
    ) -> None:
        self.repo = repo
        self._notify = notify  # the outbox relay's, for the loans collection
        self._notify_job = notify_job  # the outbox relay's, for the jobs collection
        self.partitions = partitions
        self.workers = workers
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or f"cob-{secrets.token_hex(6)}"
        self._on_completed = on_completed
        self._running: dict[str, asyncio.Task[None]] = {}
        #: Seconds spent per phase (read, plan, fetch for events, write, retries,
        #: checkpoint), summed over workers; for benchmarks and logs.
        self.timings: dict[str, float] = {}

    # --- jobs ----------------------------------------------------------------------------

    async def start(self, institution_id: str, as_of: date, *, wait: bool) -> dict[str, Any]:
        """Creates the job for (institution, as_of) if new, then works on it: to the end when
        `wait`, else in the background. Returns the job document."""
        jid = job_id(institution_id, as_of)
        job = await self.repo.get_job(jid)
        if job is None:
            stamp = datetime.now(UTC)
            await self.repo.create_job(
                {
                    "_id": jid,
                    "institution_id": institution_id,
                    "as_of": as_of.isoformat(),
                    "state": "running",
                    "partitions_total": self.partitions,
                    "start_time": stamp,
                    "end_time": None,
                },
                [
                    {
                        "_id": f"{jid}:{n:03d}",
                        "job_id": jid,
                        "partition": n,
                        "state": "pending",
                        "lease_owner": "",
                        "lease_until": EPOCH,
                        "checkpoint": "",
                        "processed": 0,
                        "changed": 0,
                        "version": 1,
                    }
                    for n in range(self.partitions)
                ],
            )
            job = await self.repo.get_job(jid)
            assert job is not None
        if job["state"] == "completed":
            return job
        if wait:
            await self.work(job)
        elif jid not in self._running or self._running[jid].done():
            self._running[jid] = asyncio.create_task(self._background(job), name=f"cob {jid}")
        fresh = await self.repo.get_job(jid)
        assert fresh is not None
        return fresh

    async def _background(self, job: dict[str, Any]) -> None:
        try:
            await self.work(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cob_failed", job=job["_id"])

    async def stop(self) -> None:
        for task in self._running.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def work(self, job: dict[str, Any]) -> None:
        """Processes partitions until every one is done (by this worker or another)."""
        jid = job["_id"]
        while True:
            await asyncio.gather(*(self._worker(job) for _ in range(self.workers)))
            parts = await self.repo.partitions(jid)
            pending = [p for p in parts if p.get("state") != "done"]
            if not pending:
                if await self.repo.complete_job(job, datetime.now(UTC), [completed(job, parts)]):
                    self._notify_job(jid)
                await self.repo.advance_business_date(job["institution_id"], job["as_of"])
                if self._on_completed is not None:
                    self._on_completed(job["institution_id"])
                log.info("cob_completed", job=jid)
                return
            # Another worker holds the rest: wait for it to finish or for a lease to expire.
            now = datetime.now(UTC)
            expiry = min(_aware(p["lease_until"]) for p in pending)
            await asyncio.sleep(max(0.2, min(2.0, (expiry - now).total_seconds())))

    async def _worker(self, job: dict[str, Any]) -> None:
        while True:
            now = datetime.now(UTC)
            part = await self.repo.claim_partition(job["_id"], self.owner, now, now + self.lease)
            if part is None:
                return
            await self._partition(job, part)

    # --- one partition -------------------------------------------------------------------

    async def _partition(self, job: dict[str, Any], part: dict[str, Any]) -> None:
        as_of = date.fromisoformat(job["as_of"])
        buckets = settings_of(await self.repo.settings(job["institution_id"])).buckets
        cursor = self.repo.cob_candidates(
            job["institution_id"],
            part["partition"],
            job["as_of"],
            part["checkpoint"],
            self.batch_size,
        )
        batch: list[str] = []
        clock = time.perf_counter()
        async for hint in cursor:
            batch.append(hint["_id"])
            if len(batch) >= self.batch_size:
                self._time("find", clock)
                if not await self._batch(part, batch, as_of, buckets):
                    return  # the lease was lost: another worker owns the partition now
                batch = []
                clock = time.perf_counter()
        self._time("find", clock)
        if batch and not await self._batch(part, batch, as_of, buckets):
            return
        await self.repo.finish_partition(part["_id"], self.owner, datetime.now(UTC))

    def _time(self, phase: str, since: float) -> float:
        """Adds the time since `since` to `phase` in `timings` (seconds); returns now."""
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    async def _batch(
        self, part: dict[str, Any], loan_ids: list[str], as_of: date, buckets: tuple[Bucket, ...]
    ) -> bool:
        clock = time.perf_counter()
        docs = await self.repo.get_loans(loan_ids)
        clock = self._time("read", clock)
        ops: list[tuple[dict[str, Any], LoanWrite]] = []
        afters: dict[str, dict[str, Any]] = {}
        stale: list[dict[str, Any]] = []
        eventful: set[str] = set()
        for n, doc in enumerate(docs):
            change = plan(doc, as_of, buckets)
            if change is None:
                stale.append(doc)  # nothing to record after all: correct its hint
            else:
                ops.append((doc, update_of(change, doc)))
                afters[doc["_id"]] = {**doc, **change.fields, "version": doc["version"] + 1}
                if change.events:
                    eventful.add(doc["_id"])
            if n % 50 == 49:
                await asyncio.sleep(0)  # let the server answer other calls meanwhile
        clock = self._time("plan", clock)
        applied = await self.repo.bulk_write_loans(ops)
        clock = self._time("write", clock)
        await self.repo.set_hints([afters[i] for i in applied])
        for doc in stale:
            await self.repo.set_hint(doc, repair=True)
        clock = self._time("hints", clock)
        changed = len(applied)
        eventful &= applied
        for before, _ in ops:
            loan_id = before["_id"]
            if loan_id not in applied:
                # Changed between our read and our write (a repayment): redo it alone.
                outcome = await self._retry_one(loan_id, as_of, buckets)
                if outcome is not None:
                    changed += 1
                    if outcome:
                        eventful.add(loan_id)
        for loan_id in eventful:
            self._notify(loan_id)
        clock = self._time("retries", clock)
        now = datetime.now(UTC)
        kept = await self.repo.checkpoint(
            part["_id"], self.owner, loan_ids[-1], now + self.lease, len(loan_ids), changed
        )
        self._time("checkpoint", clock)
        return kept

    async def _retry_one(
        self, loan_id: str, as_of: date, buckets: tuple[Bucket, ...]
    ) -> bool | None:
        """Brings one loan to `as_of` on its own; None if there was nothing to write, else
        whether the write carried events."""
        for _ in range(MAX_ATTEMPTS):
            doc = await self.repo.get_loan(loan_id)
            if doc is None:
                return None
            change = plan(doc, as_of, buckets)
            if change is None:
                await self.repo.set_hint(doc, repair=True)
                return None
            if await self.repo.write_loan(doc, update_of(change, doc)):
                await self.repo.set_hint({**doc, **change.fields, "version": doc["version"] + 1})
                return bool(change.events)
            await asyncio.sleep(0.01)
        log.warning("cob_loan_skipped", loan_id=loan_id, reason="kept changing")
        return None


def loan_counts(parts: list[dict[str, Any]]) -> tuple[int, int]:
    """The loans a job's partitions `parts` have read and changed so far."""
    return (
        sum(int(p.get("processed", 0)) for p in parts),
        sum(int(p.get("changed", 0)) for p in parts),
    )


def completed(job: dict[str, Any], parts: list[dict[str, Any]]) -> OutgoingEvent:
    """``close_of_business.completed`` for `job`, whose partitions `parts` are all done: its
    business date and the loans they read and changed."""
    processed, changed = loan_counts(parts)
    return OutgoingEvent(
        "close_of_business.completed",
        fields={
            "business_date": job["as_of"],
            "loans_processed": processed,
            "loans_changed": changed,
        },
    )


@dataclass
class Plan:
    """What bringing one loan to a date changes: the fields to set and the events to emit."""

    fields: dict[str, Any]
    events: list[OutgoingEvent]


def plan(
    doc: dict[str, Any], as_of: date, buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
) -> Plan | None:
    """The change that brings one stored active loan to `as_of` (its days past due in the
    institution's `buckets`), or None when nothing changes."""
    day = as_of.isoformat()
    if doc.get("status") != "active" or (doc.get("cob_date") or "") >= day:
        return None
    view = doc.get("view") or {}
    if not view.get("as_of") or view["as_of"] >= day:
        return None  # already stated as of this date or later
    product = product_from_doc(doc["product"])
    state = LoanState(
        installments=rows_to_installments(view["rows"]),
        principal=Decimal(view["principal"]),
        overpayment=Decimal(view["overpayment"]),
    )
    state = charge_penalties(state, product, as_of)
    derived = views.derive_from_state(
        state,
        as_of,
        active=True,
        product=product,
        previous_max_dpd=doc.get("max_days_past_due", 0),
        buckets=buckets,
    )
    if derived.key == views.change_key(doc):
        return None
    fields: dict[str, Any] = {**derived.fields, "cob_date": day, "update_time": datetime.now(UTC)}
    classification = views.classify(doc, {**doc, **fields})
    if classification.history_entry is not None:
        fields["classification_history"] = [
            *doc.get("classification_history", []),
            classification.history_entry,
        ]
    events = arrears_events({**doc, **fields}, classification)
    return Plan(fields, events)


def update_of(change: Plan, full: dict[str, Any]) -> LoanWrite:
    """The loan write of a plan for the loan read as `full` (the repository encodes its
    events, each with the loan's position after the write)."""
    return LoanWrite(change.fields, change.events)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
