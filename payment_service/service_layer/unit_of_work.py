"""The unit of work of a payment: one aggregate changed and written, with the events the
change caused, in one atomic document write.

``change(payment_id, mutate)`` reads the payment, applies ``mutate`` (calls of the
aggregate's transition methods) to a copy, and writes it compare-and-set on the version it
read; another writer getting there first makes it read again and retry. A transition the
payment refuses (``IllegalTransition``) leaves it as it is. There are no multi-document
transactions (see ``INFRA.md``): everything a change needs is in the one document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from payment_service.domain.payment import IllegalTransition, Payment
from payment_service.service_layer.ports import AbstractRepository
from shared.errors import Aborted

Mutation = Callable[[Payment], None]


class PaymentUnitOfWork:
    def __init__(
        self,
        repo: AbstractRepository,
        notify: Callable[[str], None],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.repo = repo
        self._notify = notify  # wakes the outbox relay for the payment's new events
        self._clock = clock

    async def change(
        self,
        payment_id: str,
        mutate: Mutation,
        *,
        known: Payment | None = None,
        attempts: int = 10,
    ) -> tuple[Payment | None, bool]:
        """Moves the payment on with ``mutate``. ``known``: the payment as the caller last
        saw it, tried first instead of reading it again (a stale one costs one missed
        write). Returns (the payment as it now is, whether this call changed it)."""
        for _ in range(attempts):
            current = known if known is not None else await self.repo.get(payment_id)
            known = None
            if current is None:
                return None, False
            new = current.copy()
            new.events = []
            try:
                mutate(new)
            except IllegalTransition:
                return current, False
            new.update_time = self._clock()
            stored = await self.repo.replace(current, new)
            if stored is not None:
                if new.events:
                    self._notify(payment_id)
                return stored, True
        raise Aborted("the payment is being changed concurrently; retry")
