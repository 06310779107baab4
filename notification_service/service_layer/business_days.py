"""The institution's clock: its schedule, the daily close of business run on time (exactly
once per institution and date, catching up missed days in order), and the reminders that go
out after each close."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from notification_service.domain import schedule as s
from notification_service.domain.positions import reminder_date
from notification_service.domain.schedule import Schedule
from notification_service.domain.templates import Kind
from notification_service.service_layer.clock import now
from notification_service.service_layer.messages import Messenger, money
from notification_service.service_layer.ports import (
    Books,
    BorrowerNotFound,
    Leases,
    Positions,
    Schedules,
)
from shared import context
from shared.errors import Aborted, NotFound
from shared.logging import get_logger
from shared.permissions import Permission as P
from shared.permissions import require

log = get_logger(__name__)

CLOCK_LEASE = "clock"
LEASE = timedelta(minutes=5)


class BusinessDays:
    def __init__(
        self,
        schedules: Schedules,
        leases: Leases,
        books: Books,
        positions: Positions,
        *,
        enabled_by_default: bool,
    ) -> None:
        self.schedules = schedules
        self.leases = leases
        self.books = books
        self.positions = positions
        self.enabled_by_default = enabled_by_default
        self.messenger: Messenger | None = None  # set at wiring (it reads schedules too)
        self.owner = f"clock-{secrets.token_hex(6)}"

    # --- the schedule ------------------------------------------------------------------------

    async def schedule_of(self, institution_id: str) -> Schedule:
        """The institution's schedule, made with the defaults the first time it is needed."""
        held = await self.schedules.get(institution_id)
        if held is not None:
            return held
        return await self.schedules.add(
            s.starting(institution_id, now(), enabled=self.enabled_by_default)
        )

    async def get(self, institution_id: str) -> Schedule:
        p = context.principal()
        require(p, P.SCHEDULE_READ)
        if institution_id != p.institution_id:
            raise NotFound(f"No institution {institution_id}.", reason="INSTITUTION_NOT_FOUND")
        return await self.schedule_of(institution_id)

    async def update(self, wanted: Schedule) -> Schedule:
        p = context.principal()
        require(p, P.SCHEDULE_MANAGE)
        if wanted.institution_id != p.institution_id:
            raise NotFound(
                f"No institution {wanted.institution_id}.", reason="INSTITUTION_NOT_FOUND"
            )
        for _ in range(3):
            held = await self.schedule_of(wanted.institution_id)
            changed = replace(
                held,
                time_zone=wanted.time_zone,
                close_of_business_time=wanted.close_of_business_time,
                reminder_days_before=wanted.reminder_days_before,
                quiet_hours_start=wanted.quiet_hours_start,
                quiet_hours_end=wanted.quiet_hours_end,
                default_language=wanted.default_language,
                enabled=wanted.enabled,
            ).checked()
            if held.last_business_date is None:
                # Nothing closed yet: the clock begins as the new settings say.
                changed = s.begun(changed, now())
            if await self.schedules.save(changed):
                return replace(changed, version=held.version + 1)
        raise Aborted("The schedule changed meanwhile; try again.")

    # --- the daily run -----------------------------------------------------------------------

    async def tick(self, at: datetime | None = None) -> list[tuple[str, date]]:
        """Closes every business day that is due, for every institution, in date order; one
        replica at a time (a lease in the database, so several replicas or a CronJob beside
        them never close a day twice). Returns what was closed."""
        stamp = at or now()
        if not await self.leases.acquire(CLOCK_LEASE, self.owner, stamp, stamp + LEASE):
            return []
        closed: list[tuple[str, date]] = []
        try:
            for schedule in await self.schedules.enabled():
                for day in schedule.due(stamp):
                    try:
                        await self.books.close_business_day(schedule.institution_id, day)
                    except Exception:
                        # This institution waits for the next tick; the others go on.
                        log.exception(
                            "close_of_business_failed",
                            institution_id=schedule.institution_id,
                            business_date=day.isoformat(),
                        )
                        break
                    await self.schedules.mark_closed(schedule.institution_id, day, now())
                    closed.append((schedule.institution_id, day))
                    log.info(
                        "close_of_business_scheduled_run",
                        institution_id=schedule.institution_id,
                        business_date=day.isoformat(),
                    )
                    renewed = now()
                    if not await self.leases.acquire(
                        CLOCK_LEASE, self.owner, renewed, renewed + LEASE
                    ):
                        return closed  # another replica took over: it goes on from here
        finally:
            await self.leases.release(CLOCK_LEASE, self.owner)
        return closed

    async def after_close(self, institution_id: str, day: date) -> int:
        """After the close of `day` (by the clock or by hand): the clock moves on, and the
        installments due `reminder_days_before` days later are reminded. Returns the
        reminders made."""
        schedule = await self.schedule_of(institution_id)
        moved = schedule.closed(day, now())
        if moved is not schedule:
            await self.schedules.mark_closed(institution_id, day, now())
        if not schedule.reminder_days_before:
            return 0
        assert self.messenger is not None
        due = reminder_date(day, schedule.reminder_days_before)
        made = 0
        for position in await self.positions.due_on(institution_id, due):
            balance = money(position.outstanding, position.currency)
            for installment in position.due_on(due):
                try:
                    made += await self._remind(
                        # One reminder per installment and due date, however often the day
                        # is closed or the event delivered.
                        event_id=f"due_{position.loan_id}_{installment.number}_{due.isoformat()}",
                        institution_id=institution_id,
                        borrower_id=position.borrower_id,
                        loan_id=position.loan_id,
                        values={
                            "amount_due": money(installment.unpaid, position.currency),
                            "due_date": due.isoformat(),
                            "installment_number": str(installment.number),
                            "days_before": str(schedule.reminder_days_before),
                            "balance": balance,
                            "currency": position.currency,
                        },
                    )
                except BorrowerNotFound:
                    log.warning("reminder_for_unknown_borrower", loan_id=position.loan_id)
        return made

    async def _remind(self, **message: Any) -> int:
        assert self.messenger is not None
        return len(await self.messenger.compose(kind=Kind.INSTALLMENT_DUE, **message))
