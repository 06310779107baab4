"""Mobile-money paybill callbacks, the suspense account, and assigning suspense to loans.

A callback arrives WITHOUT a user token: the gateway passes it on authenticated only by its
HMAC signature (``X-Kopa-Signature``, see ``domain.mobile_money``), checked here with the
institution's secrets (``MOBILE_MONEY_SECRETS``: JSON ``{"<institution_id>": ["<secret>",
...]}``, several during a rotation; an institution without one is refused UNAUTHENTICATED).

Every authentic callback is:

1. stored once, keyed by (institution, provider, provider transaction id): the payment
   ``_id`` is derived from them, so a redelivered callback collides and is answered
   ``replayed``; the same transaction id with another body is 409 IDEMPOTENCY_KEY_REUSED;
2. matched to a loan through ``loans_seen``, a local read model of loans built from loan
   events (the account reference is compared with the loan id, case-insensitively), kept
   as ``suggested_loan_id``;
3. booked to suspense (Dr mobile-money wallet, Cr suspense; entry
   ``unidentified_receipt:<payment_id>``), status ``suspense``, event ``payment.received``
   (matched) or ``payment.unmatched`` (no or several candidate loans);
4. if it matched exactly one active loan in its own currency, posted at once by
   payment_service itself: callbacks carry no user token (and a user's must never be
   stored), so it acts with a short-lived service token from auth_service (role
   ``service``: that one institution, and only the few permissions of
   ``shared.permissions.Role.SERVICE``; the port
   ``shared.service_tokens.AbstractServiceTokens``). This is the AssignSuspense path below
   with the matched loan, idempotent on the payment id: entry ``suspense_assignment:<id>``,
   ``posted``, but event ``payment.posted``. Unmatched or ambiguous money stays in suspense.

An agent or manager calls AssignSuspense with their token: ``assigning`` → ApplyRepayment
(idempotent on the payment id) → entry ``suspense_assignment:<payment_id>`` (Dr suspense, Cr
per the allocation) → ``posted``, event ``payment.assigned``. A crash after ApplyRepayment is
healed by the ``loan.repayment_applied`` event, as for repayments; an assignment abandoned
before it returns to ``suspense`` after the lease (the recovery).

When posting a matched receipt cannot be finished (auth_service or loan_service unreachable,
or a refusal that may pass, such as an expired token), the receipt stays in suspense with a
lease, and the recovery tries again once the lease has run out: a receipt is never lost, and
never applied twice, since every attempt applies the same payment id to the same loan. A
refusal that will not pass (the loan closed meanwhile) leaves it in suspense for a person.
AssignSuspense by a person at any time takes precedence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from payment_service.domain import idempotency
from payment_service.domain import mobile_money as mm
from payment_service.domain.errors import (
    IDEMPOTENCY_KEY_REUSED,
    ConflictError,
)
from payment_service.domain.payment import (
    IdempotencyScope,
    Payment,
    PaymentKind,
    PaymentStatus,
    is_transient,
)
from payment_service.service_layer.core import (
    PaymentCore,
)
from payment_service.service_layer.ports import SERVICE_NAME
from shared import context
from shared.errors import DomainError, IllegalState, NotFound, ValidationError
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require
from shared.service_tokens import AbstractServiceTokens

log = get_logger(__name__)

DEFAULT_PROVIDER = "paybill"
_PROVIDER_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MOBILE_MONEY_NOT_CONFIGURED = "MOBILE_MONEY_NOT_CONFIGURED"
AUTO_POSTER = f"svc:{SERVICE_NAME}"
"""Who posts a matched receipt: payment_service itself, with its service token."""


def mobile_money_payment_id(institution_id: str, provider: str, transaction_id: str) -> str:
    digest = hashlib.sha256(
        f"mobile_money\x1f{institution_id}\x1f{provider}\x1f{transaction_id}".encode()
    )
    return f"pay_{digest.hexdigest()[:40]}"


def _provider(raw_body: bytes) -> str:
    """The optional ``provider`` field of the (already authenticated) body."""
    try:
        value = json.loads(raw_body).get("provider")
    except (ValueError, AttributeError):
        value = None
    if value is None or value == "":
        return DEFAULT_PROVIDER
    if not isinstance(value, str) or not _PROVIDER_RE.fullmatch(value):
        raise ValidationError.of("provider", "must be 1 to 32 lowercase letters, digits, _ or -")
    return value


def _institution(p: Principal) -> str:
    if p.institution_id is None:
        raise NotFound("the platform administrator has no suspense account")
    return p.institution_id


class MobileMoney:
    def __init__(
        self, core: PaymentCore, service_tokens: AbstractServiceTokens | None = None
    ) -> None:
        """Without ``service_tokens`` (no service credential configured) matched receipts
        only suggest their loan and wait in suspense for a person."""
        self.core = core
        self.repo = core.repo
        self.service_tokens = service_tokens

    # --- the callback --------------------------------------------------------------------

    async def receive(
        self, institution_id: str, raw_body: bytes, signature: str
    ) -> tuple[Payment, bool]:
        if not institution_id:
            raise ValidationError.of("institution_id", "is required")
        secrets = self.core.config.mobile_money_secrets.get(institution_id)
        if not secrets:  # no callback endpoint exists for it, whether the institution does or not
            raise NotFound(
                "no mobile-money callback is configured for this institution",
                reason=MOBILE_MONEY_NOT_CONFIGURED,
            )
        now = self.core.now()
        mm.verify_signature(
            raw_body,
            signature,
            list(secrets),
            now=now,
            tolerance_seconds=self.core.config.mobile_money_tolerance_seconds,
        )
        currency = await self.core.books.known_currency(institution_id)
        if currency is None:
            raise IllegalState(
                "the books of this institution open with its first loan; retry later",
                reason="BOOKS_NOT_OPEN",
            )
        callback = mm.parse_callback(raw_body, currency=currency)
        provider = _provider(raw_body)
        payment_id = mobile_money_payment_id(institution_id, provider, callback.transaction_id)
        fingerprint = idempotency.fingerprint(
            "POST",
            f"/mobile-money/{institution_id}/{provider}",
            {
                "transaction_id": callback.transaction_id,
                "account_reference": callback.account_reference,
                "msisdn": callback.msisdn,
                "amount": callback.amount,
                "currency": callback.currency,
                "transacted_at": callback.transacted_at.isoformat(),
            },
        )
        existing = await self.repo.get(payment_id)
        if existing is None:
            receipt = await self._new_receipt(
                institution_id, provider, payment_id, fingerprint, callback
            )
            if await self.repo.add(receipt):
                log.info("mobile_money_received", payment_id=payment_id, provider=provider)
                return await self.settle(receipt), False
            existing = await self.repo.get(payment_id)
            assert existing is not None
        if existing.idempotency.fingerprint != fingerprint:
            raise ConflictError(
                "this provider transaction id was already received with different details",
                reason=IDEMPOTENCY_KEY_REUSED,
                field_errors=[("transaction_id", "was already received with other details")],
            )
        if existing.status is PaymentStatus.RECEIVED:
            existing = await self.settle(existing)
        return existing, True

    async def _new_receipt(
        self,
        institution_id: str,
        provider: str,
        payment_id: str,
        fingerprint: str,
        callback: mm.MobileMoneyCallback,
    ) -> Payment:
        match = await self._match(institution_id, callback.account_reference)
        return self.core.new_payment(
            payment_id,
            PaymentKind.MOBILE_MONEY,
            PaymentStatus.RECEIVED,
            institution_id=institution_id,
            branch_id="",
            loan_id="",
            suggested_loan_id=match.get("loan_id", ""),
            match=match,
            amount=Decimal(f"{callback.amount:f}"),
            currency=callback.currency,
            paid_on=callback.transacted_at.date(),
            transacted_at=callback.transacted_at,
            channel="mobile_money",
            reference=callback.account_reference,
            provider=provider,
            provider_transaction_id=callback.transaction_id,
            payer_phone=callback.msisdn,
            recorded_by="",
            idempotency=IdempotencyScope(
                key=callback.transaction_id, provider=provider, fingerprint=fingerprint
            ),
        )

    async def _match(self, institution_id: str, reference: str) -> dict[str, Any]:
        seen = await self.repo.loans_by_ref(institution_id, reference.upper())
        result = mm.match_loan(
            mm.LoanCandidate(d["_id"], d.get("status", ""), mm.MatchedBy.LOAN_REFERENCE)
            for d in seen
        )
        if isinstance(result, mm.Matched):
            currency = next(d.get("currency", "") for d in seen if d["_id"] == result.loan_id)
            return {"result": "matched", "loan_id": result.loan_id, "currency": currency}
        if isinstance(result, mm.Ambiguous):
            return {"result": "ambiguous", "candidates": list(result.candidates)}
        return {"result": "unmatched", "reason": result.reason}

    async def settle(self, receipt: Payment) -> Payment:
        """A stored receipt: to suspense, then posted if it matched one loan."""
        return await self.auto_post(await self.book_receipt(receipt))

    def _auto_post_loan(self, receipt: Payment) -> str:
        """The loan to post the receipt to on our own: the one active loan it matched, in its
        currency, when we have a service identity; else ""."""
        match = receipt.match or {}
        if (
            self.service_tokens is None
            or match.get("result") != "matched"
            or match.get("currency") != receipt.currency
        ):
            return ""
        return str(match["loan_id"])

    def _retry_at(self) -> dt.datetime:
        return self.core.now() + self.core.config.pending_timeout

    async def book_receipt(self, receipt: Payment) -> Payment:
        """Dr mobile-money wallet, Cr suspense; then ``received`` → ``suspense`` with the
        ``payment.received`` / ``payment.unmatched`` event. Idempotent. A receipt to post on
        our own keeps a lease, so that the recovery posts it should this process stop first."""
        entry = await self.core.book_receipt_entry(receipt)
        lease = self._retry_at() if self._auto_post_loan(receipt) else None

        def to_suspense(current: Payment) -> None:
            current.to_suspense(receipt_entry_id=entry.id, lease=lease)

        updated, changed = await self.core.transition(receipt.id, to_suspense)
        assert updated is not None
        if changed:
            log.info(
                "mobile_money_in_suspense",
                payment_id=receipt.id,
                routing_key="payment.received"
                if updated.suggested_loan_id
                else "payment.unmatched",
            )
        return updated

    # --- suspense ------------------------------------------------------------------------

    async def list_suspense(self, size: int, token: str) -> tuple[list[Payment], str]:
        """Money in suspense, institution-wide (it has no branch until assigned)."""
        p = context.principal()
        require(p, Permission.REPAYMENTS_READ)
        return await self.repo.page_in_suspense(_institution(p), size, token)

    async def assign(self, payment_id: str, loan_id: str) -> Payment:
        p = context.principal()
        require(p, Permission.REPAYMENTS_CREATE)
        institution_id = _institution(p)
        receipt = await self.repo.get(payment_id) if payment_id else None
        if (
            receipt is None
            or receipt.institution_id != institution_id
            or receipt.kind is not PaymentKind.MOBILE_MONEY
        ):
            raise NotFound(f"payment {payment_id} not found", reason="PAYMENT_NOT_FOUND")
        loan_id = loan_id or receipt.suggested_loan_id or ""
        if not loan_id:
            raise ValidationError.of("loan_id", "is required: this receipt matched no loan")
        if receipt.status is PaymentStatus.POSTED and receipt.loan_id == loan_id:
            return receipt  # assigned already (a retry)
        if receipt.status is PaymentStatus.RECEIVED:
            receipt = await self.book_receipt(receipt)
        if receipt.status not in (PaymentStatus.SUSPENSE, PaymentStatus.ASSIGNING):
            raise _not_in_suspense(receipt)
        loan = await self.core.loans.get(loan_id)  # NOT_FOUND outside the caller's scope
        if loan.currency and loan.currency != receipt.currency:
            raise ValidationError.of(
                "loan_id", f"the loan is in {loan.currency}, the receipt in {receipt.currency}"
            )
        return await self._apply(payment_id, loan_id, by=p.user_id)

    async def auto_post(self, receipt: Payment) -> Payment:
        """Post a receipt in suspense that matched one loan, as payment_service itself.
        Returns the receipt as it now is; never raises for a peer's failure: the money is
        safe in suspense, and the recovery tries again while the failure may pass."""
        if receipt.status is not PaymentStatus.SUSPENSE:
            return receipt
        loan_id = self._auto_post_loan(receipt)
        if not loan_id or self.service_tokens is None:
            # Nothing to post on our own (any more): the recovery has no reason to come back.
            return await self._lease(receipt, None) if receipt.lease_until else receipt
        institution_id = receipt.institution_id
        try:
            token = await self.service_tokens.token(institution_id)
        except Exception as exc:  # auth_service refused or is unreachable: try later
            log.warning("auto_post_deferred", payment_id=receipt.id, error=repr(exc))
            return await self._lease(receipt, self._retry_at())
        try:
            return await self._apply(receipt.id, loan_id, by=AUTO_POSTER, token=token)
        except DomainError as err:
            if err.kind == "unauthenticated":
                self.service_tokens.forget(institution_id)
            log.warning(
                "auto_post_refused",
                payment_id=receipt.id,
                loan_id=loan_id,
                reason=err.reason,
                retry=is_transient(err),
            )
        except Exception as exc:  # a peer unreachable: the outcome may be unknown
            log.warning("auto_post_failed", payment_id=receipt.id, loan_id=loan_id, error=repr(exc))
        current = await self.repo.get(receipt.id)
        assert current is not None
        return current

    async def _lease(self, receipt: Payment, until: dt.datetime | None) -> Payment:
        """Set (or clear) when the recovery next looks at a receipt in suspense."""
        updated, _ = await self.core.transition(
            receipt.id, lambda current: current.lease_suspense(until)
        )
        assert updated is not None
        return updated

    async def _apply(self, payment_id: str, loan_id: str, *, by: str, token: str = "") -> Payment:
        """Claim the receipt (``assigning``), apply it to the loan (as the caller, or with a
        service ``token``) and book the assignment. A refusal puts it back in suspense (to
        be retried if it was ours and may pass); an unknown outcome leaves the claim to run
        out, for the loan event or the recovery to settle."""
        now = self.core.now()
        auto = by == AUTO_POSTER

        def claim(current: Payment) -> None:
            current.claim_assignment(
                loan_id=loan_id,
                by=by,
                now=now,
                lease=now + self.core.config.pending_timeout,
                auto=auto,
            )

        claimed, changed = await self.core.transition(payment_id, claim)
        assert claimed is not None
        if not changed:
            if claimed.status is PaymentStatus.POSTED and claimed.loan_id == loan_id:
                return claimed
            if claimed.status is PaymentStatus.ASSIGNING:
                raise IllegalState(
                    "this payment is being assigned to another loan",
                    reason="PAYMENT_BEING_ASSIGNED",
                    metadata={"current_status": claimed.status.value},
                )
            raise _not_in_suspense(claimed)
        await self.core.fault("before_apply", claimed)
        try:
            applied = await self.core.loans.apply(
                loan_id,
                payment_id,
                claimed.amount,
                claimed.currency,
                claimed.paid_on,
                token=token,
            )
        except DomainError as err:
            await self.release(claimed, retry=auto and is_transient(err))
            raise
        except Exception:
            await self._expire_lease(claimed)
            raise
        await self.core.fault("after_apply", claimed)
        return await self.core.post_applied(claimed, applied, loan_id=loan_id)

    async def release(self, receipt: Payment, *, retry: bool) -> None:
        """An assignment that did not happen: back to suspense; with ``retry``, leased, so
        that the recovery posts it again once the lease runs out."""

        def release(current: Payment) -> None:
            current.release_assignment(
                attempt=receipt.attempt, lease=self._retry_at() if retry else None
            )

        await self.core.transition(receipt.id, release)

    async def _expire_lease(self, receipt: Payment) -> None:
        def expire(current: Payment) -> None:
            current.expire_lease(attempt=receipt.attempt, now=self.core.now())

        await self.core.transition(receipt.id, expire)


def _not_in_suspense(receipt: Payment) -> IllegalState:
    return IllegalState(
        f"only money in suspense can be assigned; this payment is {receipt.status.value}",
        reason="PAYMENT_NOT_IN_SUSPENSE",
        metadata={"current_status": receipt.status.value},
    )
