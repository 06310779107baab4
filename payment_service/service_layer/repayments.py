"""Repayments: posted exactly once per ``Idempotency-Key``, read, listed and reversed; and
refunds of a loan's credit balance, which take the same path with the money going out
(loan_service's RefundCredit instead of ApplyRepayment, entry ``overpayment_refund:<id>``,
event ``payment.refunded``, healed by ``loan.credit_refunded``). A refund is not reversible
(money that comes back is a repayment) and is not listed among the loan's repayments.

The idempotency record *is* the payment document. Its ``_id`` is derived from the key's
scope, (institution, caller, key), so two concurrent requests with the same key collide on
the unique ``_id``: the first inserter drives the payment, the others wait (bounded polling)
for its outcome and replay it, or get 409 ``IDEMPOTENCY_REQUEST_IN_PROGRESS``. The same key
with another body (fingerprint of loan_id, amount, paid_on, channel, reference) is 409
``IDEMPOTENCY_KEY_REUSED``. Invalid input (422) stores nothing: the key stays free.

State machine of a repayment (statuses and transitions: ``domain.payment.Payment``)::

    PostRepayment (user token)
    (a) insert ─► pending ─(b) ApplyRepayment─► (c) book entry, then mark ─► posted
                   │  ▲                                                       │ ReverseRepayment
                   │  │ a retry with the same key once the lease ran out:     ▼ (privileged)
                   │  │ take over (attempt + 1) and re-drive (b)           reversing
                   ▼  │                                                       │ loan Reverse-
    failed (retryable) ◄─ the recovery: lease ran out, no entry booked       │ Repayment, book
                          ("not applied; retry with the same key"), or a     ▼ the compensation
                          transient refusal of (b) (aborted, token expired) reversed
    failed (terminal)  ◄─ the loan service refused (loan not active, not found, amount or
                          date refused): the same key replays the same error

    loan.repayment_applied  (event): pending, failed, received, suspense, assigning ─► posted
    loan.repayment_reversed (event): posted, reversing ─► reversed

(b) ending without an answer (unavailable, deadline) leaves the payment pending with its
lease expired, so a retry takes over at once; ApplyRepayment is idempotent on payment_id.

Each step is idempotent, so a crash anywhere is completed later:

- between (a) and (b): the payment stays pending; after ``pending_timeout`` the recovery marks
  it failed (retryable) and a retry with the same key re-drives it;
- between (b) and (c): the loan service publishes ``loan.repayment_applied`` (payment id and
  allocation); the consumer books the entry and marks the payment posted. The recovery
  holds no user token, so it never calls the loan service itself;
- inside (c), after the entry and before the mark: the entry carries the loan service's
  answer, so the recovery (or the event, or a retry) completes the mark from it.

A reversal marks ``reversing`` first, asks the loan service to recompute the loan as if the
payment never happened (idempotent), books ``reversal:repayment:<payment_id>`` and marks
``reversed``. A reversal that dies half-way is resumed by calling ReverseRepayment again, by
the ``loan.repayment_reversed`` event, or, when the loan service never reversed it, the
recovery returns it to ``posted`` after the lease.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from payment_service.domain import idempotency
from payment_service.domain.idempotency import (
    IDEMPOTENCY_HEADER,
    IdempotencyRecord,
    InProgress,
    Proceed,
    RecordState,
    Replay,
    StoredResponse,
)
from payment_service.domain.payment import (
    IdempotencyScope,
    Payment,
    PaymentKind,
    PaymentStatus,
    is_transient,
)
from payment_service.domain.postings import parse_channel
from payment_service.service_layer.core import (
    PaymentCore,
    aware,
)
from shared import context, money
from shared.dates import EXAMPLE, parse_date
from shared.errors import DomainError, IllegalState, NotFound, PermissionDenied, ValidationError
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)
T = TypeVar("T")

MAX_REFERENCE = 120
MAX_REASON = 1000
# A date is "in the future" only once it has begun nowhere on Earth (UTC+14), so back-office
# staff east of Greenwich can record today's payments just after their midnight.
_EARLIEST_OFFSET = dt.timedelta(hours=14)


@dataclass(frozen=True)
class RepaymentCommand:
    """A repayment (or refund) as asked for. ``amount`` and ``paid_on`` are None when the
    caller gave none, or gave what could not be read (then ``unreadable`` says why: the
    command is refused with every other bad field at once). ``currency``: the amount's, when
    the caller named it (it must be the loan's)."""

    loan_id: str
    amount: Decimal | None
    paid_on: dt.date | None
    channel: str
    reference: str
    idempotency_key: str
    currency: str = ""
    unreadable: tuple[ValidationError, ...] = ()


def read_field(unreadable: list[ValidationError], parse: Callable[[], T]) -> T | None:
    """What `parse` reads of a field of the caller's message; None, with why added to
    `unreadable`, when it cannot be read (a command carries those to be refused with the
    rest)."""
    try:
        return parse()
    except ValidationError as exc:
        unreadable.append(exc)
        return None


def command_from_text(
    loan_id: str, amount: str, paid_on: str, channel: str, reference: str, idempotency_key: str
) -> RepaymentCommand:
    """A command from the v1 contract's text fields (decimal-string amount, ISO date)."""
    unreadable: list[ValidationError] = []

    def decimal(text: str) -> Decimal:
        money.check_amount_text(text)
        return Decimal(text)

    value = read_field(unreadable, lambda: decimal(amount)) if amount else None
    day = read_field(unreadable, lambda: parse_date(paid_on, "paid_on")) if paid_on else None
    return RepaymentCommand(
        loan_id, value, day, channel, reference, idempotency_key, unreadable=tuple(unreadable)
    )


def payment_id_for(
    institution_id: str, caller_id: str, key: str, kind: str = PaymentKind.REPAYMENT
) -> str:
    """The payment's ``_id``: derived from the key's scope (and the kind of movement, so a
    refund never replays a repayment's answer), so duplicates collide."""
    scope = "repayment" if kind == PaymentKind.REPAYMENT else kind
    digest = hashlib.sha256(f"{scope}\x1f{institution_id}\x1f{caller_id}\x1f{key}".encode())
    return f"pay_{digest.hexdigest()[:40]}"


def latest_business_date(now: dt.datetime) -> dt.date:
    return (now + _EARLIEST_OFFSET).date()


def validate_command(cmd: RepaymentCommand, now: dt.datetime) -> RepaymentCommand:
    """Everything checkable without the loan; every bad field named at once. Returns the
    command with the channel defaulted (``cash``)."""
    errors: list[DomainError] = []
    unread = {f: e for e in cmd.unreadable for f, _ in e.field_errors}
    channel = cmd.channel or "cash"

    def check(fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except ValidationError as exc:
            errors.append(exc)

    check(idempotency.validate_key, cmd.idempotency_key, field=IDEMPOTENCY_HEADER)
    if not cmd.loan_id:
        errors.append(ValidationError.of("loan_id", "is required"))
    if "amount" in unread:
        errors.append(unread.pop("amount"))
    elif cmd.amount is None:
        errors.append(ValidationError.of("amount", "is required", reason=money.AMOUNT_INVALID))
    elif not cmd.amount > 0:
        errors.append(
            ValidationError.of("amount", "must be greater than zero", reason=money.AMOUNT_INVALID)
        )
    if "paid_on" in unread:
        errors.append(unread.pop("paid_on"))
    elif cmd.paid_on is None:
        errors.append(ValidationError.of("paid_on", f"is required (an ISO date like {EXAMPLE})"))
    elif cmd.paid_on > latest_business_date(now):
        errors.append(ValidationError.of("paid_on", "must not be in the future"))
    check(parse_channel, channel)
    if len(cmd.reference) > MAX_REFERENCE:
        errors.append(
            ValidationError.of("reference", f"must be at most {MAX_REFERENCE} characters")
        )
    errors.extend(dict.fromkeys(unread.values()))  # any other field the caller's message broke
    if errors:
        field_errors = [fe for e in errors for fe in e.field_errors]
        reasons = {e.reason for e in errors}
        raise ValidationError(
            "; ".join(f"{f}: {m}" for f, m in field_errors),
            reason=reasons.pop() if len(reasons) == 1 else "VALIDATION_FAILED",
            field_errors=field_errors,
        )
    return replace(cmd, channel=channel)


def fingerprint_of(cmd: RepaymentCommand, kind: str = PaymentKind.REPAYMENT) -> str:
    assert cmd.amount is not None and cmd.paid_on is not None  # validated
    body = {
        "amount": cmd.amount,  # a number: "100" and "100.00" are the same request
        "paid_on": cmd.paid_on.isoformat(),
        "channel": cmd.channel,
        "reference": cmd.reference,
    }
    path = "repayments" if kind == PaymentKind.REPAYMENT else "refunds"
    return idempotency.fingerprint("POST", f"/v1/loans/{cmd.loan_id}/{path}", body)


def _institution(p: Principal) -> str:
    if p.institution_id is None:
        raise PermissionDenied("the platform administrator records no repayments")
    return p.institution_id


class Repayments:
    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.repo = core.repo

    # --- PostRepayment ---------------------------------------------------------------------

    async def post(self, cmd: RepaymentCommand) -> tuple[Payment, bool]:
        """Returns the payment and whether it is a replay; the answer to give is its stored
        ``response`` when it has one (the first answer), else the payment as it is."""
        require(context.principal(), Permission.REPAYMENTS_CREATE)
        return await self._accept(cmd, PaymentKind.REPAYMENT)

    async def refund(self, cmd: RepaymentCommand) -> tuple[Payment, bool]:
        """Pays (part of) a loan's credit balance back to the borrower: the same idempotent
        flow as a repayment, with money going out (loan_service's RefundCredit, then the
        ``overpayment_refund`` entry). Reversing a repayment is the same privilege."""
        require(context.principal(), Permission.REPAYMENTS_REVERSE)
        return await self._accept(cmd, PaymentKind.REFUND)

    async def _accept(self, cmd: RepaymentCommand, kind: PaymentKind) -> tuple[Payment, bool]:
        p = context.principal()
        institution_id = _institution(p)
        now = self.core.now()
        cmd = validate_command(cmd, now)
        payment_id = payment_id_for(institution_id, p.user_id, cmd.idempotency_key, kind)
        fingerprint = fingerprint_of(cmd, kind)
        # Claimed by inserting, not by reading first: a new key (nearly every request) costs
        # no read. A key already claimed makes the insert collide and is resolved from its
        # record; so is any failure to make the new payment (the loan out of scope, the
        # amount's precision, the loan service unreachable) when the key was claimed before,
        # so a replay always answers as stored.
        try:
            payment = await self._new_payment(p, institution_id, payment_id, fingerprint, cmd, kind)
        except Exception:
            if await self.repo.get(payment_id) is None:
                raise
            return await self._resolve(payment_id, fingerprint)
        if await self.repo.add(payment):
            log.info("payment_claimed", payment_id=payment_id, loan_id=cmd.loan_id)
            return await self._drive(payment), False
        return await self._resolve(payment_id, fingerprint)

    async def _new_payment(
        self,
        p: Principal,
        institution_id: str,
        payment_id: str,
        fingerprint: str,
        cmd: RepaymentCommand,
        kind: PaymentKind,
    ) -> Payment:
        # The currency (so the amount's precision) is the loan's: validate BEFORE applying.
        loan = await self.core.loan_in_scope(p, cmd.loan_id)
        if loan.institution_id and loan.institution_id != institution_id:
            raise NotFound(f"loan {cmd.loan_id} not found", reason="LOAN_NOT_FOUND")
        assert cmd.amount is not None and cmd.paid_on is not None  # validated
        if cmd.currency and cmd.currency != loan.currency:
            raise ValidationError.of(
                "amount",
                f"must be in the loan's currency, {loan.currency}",
                reason="CURRENCY_MISMATCH",
            )
        amount = money.check_amount(cmd.amount, loan.currency)
        chart = await self.core.books.existing_chart(institution_id, fresh=False)
        if chart is not None and chart.currency != loan.currency:
            raise IllegalState(
                f"the loan is in {loan.currency}, the books in {chart.currency}",
                reason="CURRENCY_MISMATCH",
            )
        return self.core.new_payment(
            payment_id,
            kind,
            PaymentStatus.PENDING,
            institution_id=institution_id,
            branch_id=loan.branch_id,
            loan_id=cmd.loan_id,
            amount=amount,
            currency=loan.currency,
            paid_on=cmd.paid_on,
            channel=cmd.channel,
            reference=cmd.reference,
            recorded_by=p.user_id,
            request={
                "loan_id": cmd.loan_id,
                "amount": f"{amount:f}",
                "paid_on": cmd.paid_on.isoformat(),
                "channel": cmd.channel,
                "reference": cmd.reference,
            },
            idempotency=IdempotencyScope(
                key=cmd.idempotency_key, caller=p.user_id, fingerprint=fingerprint
            ),
        )

    def _record(self, payment: Payment) -> IdempotencyRecord:
        done = payment.answered
        response = None
        if done:
            failed = payment.status is PaymentStatus.FAILED
            response = StoredResponse(200 if not failed else 409, payment.response or b"")
        created = aware(payment.create_time)
        assert created is not None
        return IdempotencyRecord(
            key=payment.idempotency.key,
            fingerprint=payment.idempotency.fingerprint,
            state=RecordState.COMPLETED if done else RecordState.IN_PROGRESS,
            created_at=created,
            lease_expires_at=aware(payment.lease_until) or created,
            attempt=payment.attempt,
            response=response,
            completed_at=aware(payment.posted_time or payment.update_time),
        )

    async def _resolve(self, payment_id: str, fingerprint: str) -> tuple[Payment, bool]:
        """A request whose key is already claimed: replay, wait for, or take over the work."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.core.config.idempotency_wait_seconds
        while True:
            payment = await self.repo.get(payment_id)
            assert payment is not None  # payments are never deleted
            decision = idempotency.decide(
                self._record(payment), fingerprint, now=self.core.now(), retention=None
            )
            if isinstance(decision, Replay):
                return self._replay(payment), True
            if isinstance(decision, Proceed):
                taken = await self._take_over(payment)
                if taken is not None:
                    log.info("payment_taken_over", payment_id=payment_id, attempt=taken.attempt)
                    return await self._drive(taken), False
                continue
            assert isinstance(decision, InProgress)
            if loop.time() >= deadline:
                raise decision.as_error()
            await asyncio.sleep(self.core.config.poll_interval_seconds)

    def _replay(self, payment: Payment) -> Payment:
        if payment.status is PaymentStatus.FAILED and payment.failure is not None:
            raise payment.failure.as_error()
        return payment

    async def _take_over(self, payment: Payment) -> Payment | None:
        now = self.core.now()
        caller = context.current().principal

        def take_over(current: Payment) -> None:
            current.take_over(
                attempt=payment.attempt,
                now=now,
                lease=now + self.core.config.pending_timeout,
                by=caller.user_id if caller else "",
            )

        updated, changed = await self.core.transition(payment.id, take_over)
        return updated if changed else None

    async def _drive(self, payment: Payment) -> Payment:
        """Steps (b) and (c) for a payment this request owns (fresh or taken over)."""
        with self.core.driving(payment.id):
            return await self._apply_and_post(payment)

    async def _apply_and_post(self, payment: Payment) -> Payment:
        await self.core.fault("before_apply", payment)
        refund = payment.kind is PaymentKind.REFUND
        loan_call = self.core.loans.refund if refund else self.core.loans.apply
        try:
            applied = await loan_call(
                payment.loan_id, payment.id, payment.amount, payment.currency, payment.paid_on
            )
        except DomainError as err:  # the loan service refused: nothing was applied
            await self.core.mark_failed(payment, err, retryable=is_transient(err))
            raise
        except Exception:
            # Unavailable, deadline...: the outcome is unknown. Let a retry with the same key
            # take over at once (ApplyRepayment is idempotent); the event heals it if it did.
            await self._expire_lease(payment)
            raise
        await self.core.fault("after_apply", payment)
        return await self.core.post_applied(payment, applied)

    async def _expire_lease(self, payment: Payment) -> None:
        def expire(current: Payment) -> None:
            current.expire_lease(attempt=payment.attempt, now=self.core.now())

        await self.core.transition(payment.id, expire)

    # --- reading -------------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment:
        p = context.principal()
        require(p, Permission.REPAYMENTS_READ)
        return await self._scoped(p, payment_id)

    async def _scoped(self, p: Principal, payment_id: str) -> Payment:
        payment = await self.repo.get(payment_id) if payment_id else None
        if payment is None or not p.can_access(payment.institution_id, payment.branch_id or None):
            raise NotFound(f"payment {payment_id} not found", reason="PAYMENT_NOT_FOUND")
        return payment

    async def list_for_loan(self, loan_id: str, size: int, token: str) -> tuple[list[Payment], str]:
        """The loan's payments in the caller's scope, oldest first. NOT_FOUND for a loan that
        does not exist or is outside the caller's scope, as the loan itself is."""
        p = context.principal()
        require(p, Permission.REPAYMENTS_READ)
        if not loan_id:
            raise ValidationError.of("loan_id", "is required")
        payments, next_token = await self.repo.page_for_loan(loan_id, p.scope_filter(), size, token)
        if not payments and not token:
            await self.core.loans.get(loan_id)  # only an empty first page asks whether it exists
        return payments, next_token

    # --- ReverseRepayment ----------------------------------------------------------------

    async def reverse(self, payment_id: str, reason: str) -> Payment:
        p = context.principal()
        require(p, Permission.REPAYMENTS_REVERSE)
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise ValidationError.of("reason", f"is required (at most {MAX_REASON} characters)")
        payment = await self._scoped(p, payment_id)
        if payment.kind is PaymentKind.REFUND:
            raise IllegalState(
                "a refund cannot be reversed; record the money coming back as a repayment",
                reason="REFUND_NOT_REVERSIBLE",
            )
        if payment.status is PaymentStatus.REVERSED:
            return payment
        if payment.status not in (PaymentStatus.POSTED, PaymentStatus.REVERSING):
            raise _not_posted(payment, "only a posted payment can be reversed; this one is ")
        now = self.core.now()

        def start(current: Payment) -> None:
            current.start_reversal(
                reason=reason, by=p.user_id, now=now, lease=now + self.core.config.pending_timeout
            )

        current, _ = await self.core.transition(payment_id, start)
        assert current is not None
        payment = current
        if payment.status is PaymentStatus.REVERSED:
            return payment
        if payment.status is not PaymentStatus.REVERSING:
            raise _not_posted(payment, "the payment is ")
        effective = (payment.reversal.reason if payment.reversal is not None else "") or reason
        try:
            await self.core.loans.reverse(payment.loan_id, payment_id, effective)
        except DomainError:
            await self.core.transition(payment_id, lambda current: current.cancel_reversal())
            raise
        return await self.core.book_reversal(payment, effective)


def _not_posted(payment: Payment, message: str) -> IllegalState:
    return IllegalState(
        f"{message}{payment.status.value}",
        reason="PAYMENT_NOT_POSTED",
        metadata={"current_status": payment.status.value},
    )
