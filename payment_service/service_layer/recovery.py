"""The recovery: every few seconds, finish what a crash (or a lost client) left half-done.

It holds no user token, so it never calls loan_service on a user's behalf; it completes
from what is already known and otherwise hands the payment back so that a user (or the loan
event) can finish it. Only a mobile-money receipt that matched one loan is posted again, as
payment_service itself (see ``mobile_money.py``). For a payment whose lease ran out:

=============  ===========================================================================
status         what the recovery does
=============  ===========================================================================
pending        entry ``repayment:<id>`` booked (it carries the loan service's answer): mark
               posted. Otherwise: failed, retryable, reason NOT_APPLIED ("not applied;
               retry with the same key"); a retry re-drives it, and if the loan service did
               apply it after all, ``loan.repayment_applied`` posts it anyway.
received       book the receipt to suspense (no peer needed), then post it if it matched.
assigning      entry ``suspense_assignment:<id>`` booked: mark posted; otherwise back to
               suspense (the event posts it if it was applied), leased again if it was
               payment_service posting a matched receipt.
suspense       (leased only while a matched receipt waits to be posted) post it again.
reversing      reversal entry booked: mark reversed; otherwise back to posted (the
               ``loan.repayment_reversed`` event completes it if loan_service did reverse).
=============  ===========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.service_layer.core import (
    NOT_APPLIED,
    PaymentCore,
    is_auto_posting,
)
from payment_service.service_layer.mobile_money import MobileMoney
from shared.errors import IllegalState
from shared.logging import get_logger

log = get_logger(__name__)


class Recovery:
    def __init__(
        self, core: PaymentCore, mobile_money: MobileMoney, *, interval_seconds: float = 3.0
    ) -> None:
        self.core = core
        self.mobile_money = mobile_money
        self.interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: dt.datetime | None = None) -> dict[str, int]:
        """One sweep; returns how many payments it moved on, by status found."""
        before = now or self.core.now()
        stale = await self.core.repo.stale(
            [
                PaymentStatus.PENDING,
                PaymentStatus.RECEIVED,
                PaymentStatus.ASSIGNING,
                PaymentStatus.SUSPENSE,
                PaymentStatus.REVERSING,
            ],
            before,
        )
        done: dict[str, int] = {}
        for payment in stale:
            status = payment.status.value
            try:
                if await self._recover(payment):
                    done[status] = done.get(status, 0) + 1
            except Exception:
                log.exception("recovery_failed", payment_id=payment.id, status=status)
        if done:
            log.info("recovery_sweep", **done)
        return done

    async def _recover(self, payment: Payment) -> bool:
        status = payment.status
        if status is PaymentStatus.RECEIVED:
            await self.mobile_money.settle(payment)
            return True
        if status is PaymentStatus.SUSPENSE:
            return (await self.mobile_money.auto_post(payment)).status is PaymentStatus.POSTED
        if status in (PaymentStatus.PENDING, PaymentStatus.ASSIGNING):
            if await self.core.post_from_entry(payment) is not None:
                return True
            if status is PaymentStatus.ASSIGNING:
                await self.mobile_money.release(payment, retry=is_auto_posting(payment))
                return True
            failed = await self.core.mark_failed(
                payment,
                IllegalState(
                    "the payment was not applied; retry with the same Idempotency-Key",
                    reason=NOT_APPLIED,
                ),
                retryable=True,
            )
            return failed is not None and failed.status is not PaymentStatus.PENDING
        if status is PaymentStatus.REVERSING:
            reversal = await self.core.books.booked(f"reversal:{payment.entry_id}")
            if reversal is not None:
                reason = payment.reversal.reason if payment.reversal is not None else ""
                await self.core.book_reversal(payment, reason)
                return True
            _, changed = await self.core.transition(
                payment.id, lambda current: current.cancel_reversal()
            )
            return changed
        return False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recovery_sweep_failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="payment-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
