"""The background reader of KYC documents: one task per user_service process, reading one
document at a time (Tesseract is CPU-bound; the readings queue rather than crowd out the
requests). It wakes on an upload and, as a safety net for readings left by a crash or
uploaded to another replica, every `poll_seconds`."""

from __future__ import annotations

import asyncio
import contextlib

from shared.logging import get_logger
from user_service.service_layer.documents import DocumentHandlers, Reader

log = get_logger(__name__)


class OcrWorker:
    def __init__(self, reader: Reader, poll_seconds: float) -> None:
        self.reader = reader
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self, handlers: DocumentHandlers) -> None:
        self._task = asyncio.create_task(self._run(handlers), name="ocr-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, handlers: DocumentHandlers) -> None:
        while True:
            self._wake.clear()
            try:
                while await handlers.read_next(self.reader):
                    pass
            except Exception:
                # A database hiccup: the readings stay pending and are taken at the next turn.
                log.exception("ocr_worker_turn_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
