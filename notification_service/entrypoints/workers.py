"""The background loops: sending queued messages, delivering webhooks, the clock, and the
suspense check. Each runs its step now when woken (a message just queued) and otherwise on
its interval; a failing step is logged and tried again on the next turn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.logging import get_logger

log = get_logger(__name__)


class Loop:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._woken.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            self._woken.clear()
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker_step_failed", worker=self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
