"""Moves the events a loan write recorded (``pending_events``) to the outbox relay.

Right after each write the writer forwards its loan's events (`forward`); a sweep every few
seconds forwards whatever a crash left behind, so no event is lost. Forwarding is
idempotent (carriers are keyed by event id), so delivery stays at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from loan_service.adapters.repository import EVENTS, Repository
from shared.logging import get_logger

log = get_logger(__name__)


class EventForwarder:
    def __init__(
        self, repo: Repository, notify: Callable[[str, Any], None], *, interval: float = 2.0
    ) -> None:
        self.repo = repo
        self._notify = notify
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def forward(self, loan_id: str) -> None:
        try:
            for carrier_id in await self.repo.forward_events(loan_id):
                self._notify(EVENTS, carrier_id)
        except Exception:
            # The write is done and its events are safe on the loan: the sweep retries.
            log.exception("event_forward_failed", loan_id=loan_id)

    async def sweep(self) -> int:
        ids = await self.repo.loans_with_pending_events()
        for loan_id in ids:
            await self.forward(loan_id)
        return len(ids)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.sleep(self._interval)
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_sweep_failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loan-event-forwarder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
