"""The `Loan` aggregate: statuses, approvals, disbursement, repayments, write-off, reschedule.

Statuses::

    submitted --approve--> approved --disburse--> active --(paid in full)--> closed
        \\--reject--> rejected                       \\--write_off--> written_off

A reversal that leaves money owed reopens a closed loan (closed -> active).

Money paid beyond everything owed stays on the loan as a credit balance (the replayed
``state().overpayment``); `Loan.refund_credit` pays it back. Refunds are recorded beside the
repayments, not replayed: the credit balance is the replay's overpayment minus the refunds,
and a reversal that would take it below zero is refused.

Every verb checks the status first and raises `IllegalTransition` naming it ("loan is
rejected; only submitted loans can be approved"), then records a domain event in
``loan.events`` (cosmicpython style); the service layer publishes and clears them.

The money state is never stored as running totals: ``loan.state()`` replays the
non-reversed repayments over the schedule (`allocation.replay`), so a reversal recomputes
everything as if the repayment had not happened. A reschedule freezes the state at its date
into a new starting state; repayments dated before it can no longer be added or reversed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from .allocation import payoff_quote, replay
from .arrears import days_past_due
from .errors import (
    ApprovalLimitExceeded,
    Conflict,
    EligibilityFailed,
    IllegalTransition,
    MakerCheckerViolation,
    NotFound,
    OverrideNotPermitted,
    PreconditionFailed,
    ValidationError,
)
from .products import LoanProduct, ScoreBand
from .schedule import Schedule, generate_schedule
from .state import Allocation, Amounts, InstallmentState, LoanState, Repayment

ZERO = Decimal(0)
BRANCH_MANAGER = "branch_manager"


class LoanStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A fact about a loan; ``name`` is the routing key (``loan.approved``)."""

    name: ClassVar[str] = "loan.event"
    loan_id: str


@dataclass(frozen=True)
class LoanSubmitted(Event):
    name: ClassVar[str] = "loan.submitted"
    borrower_id: str
    principal: Decimal
    term: int
    created_by: str
    failed_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class EligibilityOverridden(Event):
    name: ClassVar[str] = "loan.eligibility_overridden"
    by: str
    reason: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class LoanApproved(Event):
    name: ClassVar[str] = "loan.approved"
    approver_id: str
    note: str | None
    approved_on: date | None


@dataclass(frozen=True)
class LoanRejected(Event):
    name: ClassVar[str] = "loan.rejected"
    by: str
    reason: str


@dataclass(frozen=True)
class LoanDisbursed(Event):
    name: ClassVar[str] = "loan.disbursed"
    disbursement_date: date
    principal: Decimal
    disbursed_amount: Decimal
    upfront_fee: Decimal
    maturity_date: date


@dataclass(frozen=True)
class RepaymentApplied(Event):
    name: ClassVar[str] = "loan.repayment_applied"
    repayment_id: str
    amount: Decimal
    paid_on: date
    allocation: Allocation


@dataclass(frozen=True)
class RepaymentReversed(Event):
    name: ClassVar[str] = "loan.repayment_reversed"
    repayment_id: str
    amount: Decimal
    paid_on: date
    reason: str


@dataclass(frozen=True)
class CreditRefunded(Event):
    """Part or all of the credit balance (overpaid money) was paid back to the borrower."""

    name: ClassVar[str] = "loan.credit_refunded"
    refund_id: str
    amount: Decimal
    refunded_on: date


@dataclass(frozen=True)
class LoanClosed(Event):
    name: ClassVar[str] = "loan.closed"
    closed_on: date
    overpayment: Decimal


@dataclass(frozen=True)
class LoanReopened(Event):
    name: ClassVar[str] = "loan.reopened"


@dataclass(frozen=True)
class LoanWrittenOff(Event):
    name: ClassVar[str] = "loan.written_off"
    written_off_on: date
    by: str
    reason: str
    outstanding: Amounts


@dataclass(frozen=True)
class LoanRescheduled(Event):
    name: ClassVar[str] = "loan.rescheduled"
    rescheduled_on: date
    by: str
    reason: str
    principal: Decimal
    old_term: int
    new_term: int
    old_rate: Decimal
    new_rate: Decimal
    carried: Amounts


# --- eligibility --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleFailure:
    rule: str
    message: str


def check_eligibility(
    product: LoanProduct,
    principal: Decimal,
    term: int,
    *,
    open_loans: int = 0,
    max_open_loans: int | None = None,
    score_band: ScoreBand | None = None,
) -> list[RuleFailure]:
    """The eligibility rules a loan application fails (empty when eligible).

    Rules: ``principal_within_limits``, ``term_within_limits``, ``max_open_loans`` (the
    borrower's open loans, this one included, must not exceed the limit) and ``minimum_score_band``
    (when the product sets one, the borrower's band must be at least as good)."""
    failures: list[RuleFailure] = []
    if not product.min_principal <= principal <= product.max_principal:
        failures.append(
            RuleFailure(
                "principal_within_limits",
                f"principal {principal} is outside {product.min_principal}"
                f"..{product.max_principal}",
            )
        )
    if not product.min_term <= term <= product.max_term:
        failures.append(
            RuleFailure(
                "term_within_limits",
                f"term {term} is outside {product.min_term}..{product.max_term}",
            )
        )
    if max_open_loans is not None and open_loans >= max_open_loans:
        failures.append(
            RuleFailure(
                "max_open_loans",
                f"borrower has {open_loans} other open loans; at most {max_open_loans} "
                "open loans are allowed, this one included",
            )
        )
    minimum = product.min_score_band
    if minimum is not None:
        if score_band is None:
            failures.append(
                RuleFailure("minimum_score_band", f"a score of band {minimum} or better is needed")
            )
        elif not score_band.at_least(minimum):
            failures.append(
                RuleFailure(
                    "minimum_score_band", f"band {score_band} is below the minimum {minimum}"
                )
            )
    return failures


@dataclass(frozen=True, slots=True)
class EligibilityOverride:
    by: str
    role: str
    reason: str
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Approval:
    approver_id: str
    role: str
    note: str | None
    approved_on: date | None


@dataclass(frozen=True, slots=True)
class RecordedRepayment:
    """A repayment as recorded on the loan. ``segment`` counts the reschedules before it:
    only repayments of the current segment are replayed (earlier ones are frozen into the
    rescheduled starting state)."""

    repayment: Repayment
    reversed: bool = False
    reversal_reason: str | None = None
    segment: int = 0


@dataclass(frozen=True, slots=True)
class Refund:
    """Credit balance paid back to the borrower (see `Loan.refund_credit`)."""

    id: str
    amount: Decimal
    refunded_on: date


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The state after the first ``count`` repayments of the current segment in replay order,
    without penalties charged after the last of them; ``key`` fingerprints which repayments
    (and which segment) it folded. A loan paid month after month then replays only what came
    after its checkpoint, so rebuilding it costs the same at month 24 as at month 1."""

    state: LoanState
    count: int
    key: str


def _fingerprint(segment: int, folded: list[Repayment]) -> str:
    digest = hashlib.sha256(str(segment).encode())
    for r in folded:
        digest.update(b"\x1f" + r.id.encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ScheduleVersion:
    """A schedule the loan followed until ``superseded_on``, with the terms behind it."""

    schedule: Schedule
    product: LoanProduct
    superseded_on: date
    reason: str


# --- the aggregate ------------------------------------------------------------------------


@dataclass(eq=False)
class Loan:
    """A loan and everything that happened to it. Construct new loans with `Loan.submit`;
    the constructor is for repositories rebuilding one from storage."""

    id: str
    borrower_id: str
    product: LoanProduct
    principal: Decimal
    term: int
    created_by: str
    status: LoanStatus = LoanStatus.SUBMITTED
    expected_disbursement_date: date | None = None
    first_repayment_date: date | None = None
    purpose: str | None = None
    eligibility_failures: tuple[RuleFailure, ...] = ()
    eligibility_override: EligibilityOverride | None = None
    approval: Approval | None = None
    rejection_reason: str | None = None
    disbursement_date: date | None = None
    schedule: Schedule | None = None
    base_state: LoanState | None = None
    base_date: date | None = None
    repayments: list[RecordedRepayment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    schedule_history: list[ScheduleVersion] = field(default_factory=list)
    closed_on: date | None = None
    written_off_on: date | None = None
    write_off_reason: str | None = None
    checkpoint: Checkpoint | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    # -- creation --------------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        id: str,
        borrower_id: str,
        product: LoanProduct,
        principal: Decimal,
        term: int,
        created_by: str,
        open_loans: int = 0,
        max_open_loans: int | None = None,
        score_band: ScoreBand | None = None,
        expected_disbursement_date: date | None = None,
        first_repayment_date: date | None = None,
        purpose: str | None = None,
    ) -> Loan:
        """A new application. Malformed input raises `ValidationError`; failed eligibility
        rules are recorded (``eligibility_failures``) and block approval until a branch
        manager overrides them."""
        errors: list[tuple[str, str]] = []
        if not isinstance(principal, Decimal) or not principal.is_finite() or principal <= 0:
            errors.append(("principal", "must be a Decimal greater than zero"))
        elif not product.rounding.is_minor(principal):
            errors.append(("principal", f"must have at most {product.currency_decimals} decimals"))
        if not isinstance(term, int) or isinstance(term, bool) or term < 1:
            errors.append(("term", "must be an integer of at least 1 installment"))
        if not borrower_id:
            errors.append(("borrower_id", "is required"))
        if errors:
            raise ValidationError(errors)
        failures = check_eligibility(
            product,
            principal,
            term,
            open_loans=open_loans,
            max_open_loans=max_open_loans,
            score_band=score_band,
        )
        loan = cls(
            id=id,
            borrower_id=borrower_id,
            product=product,
            principal=principal,
            term=term,
            created_by=created_by,
            expected_disbursement_date=expected_disbursement_date,
            first_repayment_date=first_repayment_date,
            purpose=purpose,
            eligibility_failures=tuple(failures),
        )
        loan.events.append(
            LoanSubmitted(
                id, borrower_id, principal, term, created_by, tuple(f.rule for f in failures)
            )
        )
        return loan

    # -- guards ----------------------------------------------------------------------------

    def _require(self, action: str, *allowed: LoanStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.status.value, action, [s.value for s in allowed])

    @property
    def is_eligible(self) -> bool:
        return not self.eligibility_failures or self.eligibility_override is not None

    # -- verbs -----------------------------------------------------------------------------

    def override_eligibility(self, *, by: str, role: str, reason: str) -> None:
        """A branch manager accepts the failed rules, giving a written reason."""
        self._require("overridden", LoanStatus.SUBMITTED)
        if role != BRANCH_MANAGER:
            raise OverrideNotPermitted(f"role {role} may not override eligibility rules")
        if not reason or not reason.strip():
            raise ValidationError.of("reason", "a written reason is required for an override")
        rules = tuple(f.rule for f in self.eligibility_failures)
        self.eligibility_override = EligibilityOverride(by, role, reason.strip(), rules)
        self.events.append(EligibilityOverridden(self.id, by, reason.strip(), rules))

    def approve(
        self,
        approver_id: str,
        note: str | None = None,
        *,
        approver_role: str,
        approval_limits: Mapping[str, Decimal],
        approved_on: date | None = None,
    ) -> None:
        """Maker-checker approval: the approver must not be the creator, and the approver's
        role must have an approval limit covering the principal."""
        self._require("approved", LoanStatus.SUBMITTED)
        if approver_id == self.created_by:
            raise MakerCheckerViolation(
                "the approver created this loan; another user must approve it"
            )
        limit = approval_limits.get(approver_role)
        if limit is None:
            raise ApprovalLimitExceeded(
                f"role {approver_role} has no approval limit and may not approve loans"
            )
        if self.principal > limit:
            raise ApprovalLimitExceeded(
                f"principal {self.principal} exceeds the {approver_role} approval limit {limit}",
                metadata={"limit": str(limit)},
            )
        if not self.is_eligible:
            raise EligibilityFailed([(f.rule, f.message) for f in self.eligibility_failures])
        self.status = LoanStatus.APPROVED
        self.approval = Approval(approver_id, approver_role, note, approved_on)
        self.events.append(LoanApproved(self.id, approver_id, note, approved_on))

    def reject(self, by: str, reason: str) -> None:
        self._require("rejected", LoanStatus.SUBMITTED)
        if not reason or not reason.strip():
            raise ValidationError.of("reason", "is required")
        self.status = LoanStatus.REJECTED
        self.rejection_reason = reason.strip()
        self.events.append(LoanRejected(self.id, by, self.rejection_reason))

    def disburse(
        self, disbursement_date: date, first_repayment_date: date | None = None
    ) -> Schedule:
        """Fix the schedule from ``disbursement_date`` (past dates are accepted)."""
        self._require("disbursed", LoanStatus.APPROVED)
        first = first_repayment_date or self.first_repayment_date
        schedule = generate_schedule(
            self.product, self.principal, self.term, disbursement_date, first
        )
        self.status = LoanStatus.ACTIVE
        self.disbursement_date = disbursement_date
        self.first_repayment_date = first
        self.schedule = schedule
        self.base_state = LoanState.from_schedule(schedule)
        self.base_date = disbursement_date
        self.events.append(
            LoanDisbursed(
                self.id,
                disbursement_date,
                schedule.principal,
                schedule.disbursed_amount,
                schedule.upfront_fee,
                schedule.maturity_date,
            )
        )
        return schedule

    def state(self, as_of: date | None = None) -> LoanState:
        """Installments with dues and payments, from the non-reversed repayments; with
        penalties charged up to ``as_of`` when given (repayments after it are ignored)."""
        if self.base_state is None:
            raise IllegalTransition(
                self.status.value,
                "queried for balances",
                [LoanStatus.ACTIVE.value, LoanStatus.CLOSED.value, LoanStatus.WRITTEN_OFF.value],
            )
        ordered = self._replay_order()
        start, rest = self.base_state, ordered
        cp = self.checkpoint
        if (
            cp is not None
            and 0 < cp.count <= len(ordered)
            and (as_of is None or ordered[cp.count - 1].paid_on <= as_of)
            and _fingerprint(len(self.schedule_history), ordered[: cp.count]) == cp.key
        ):
            start, rest = cp.state, ordered[cp.count :]
        return replay(start, rest, self.product, as_of)

    def _replay_order(self) -> list[Repayment]:
        """The current segment's non-reversed repayments in the order `replay` applies them."""
        segment = len(self.schedule_history)
        active = [r.repayment for r in self.repayments if not r.reversed and r.segment == segment]
        return [
            r for _, r in sorted(enumerate(active), key=lambda item: (item[1].paid_on, item[0]))
        ]

    def new_checkpoint(self) -> Checkpoint | None:
        """The checkpoint to store with the loan as it now is (None before disbursement)."""
        if self.base_state is None:
            return None
        ordered = self._replay_order()
        if not ordered:
            return None
        state = self.state()
        return Checkpoint(state, len(ordered), _fingerprint(len(self.schedule_history), ordered))

    def _frozen(self) -> PreconditionFailed:
        return PreconditionFailed(
            f"the loan was rescheduled on {self.base_date}; earlier repayments are frozen",
            reason="REPAYMENT_BEFORE_RESCHEDULE",
        )

    def _check_movement(self, amount: Decimal, on: date, date_field: str) -> None:
        """Money in or out of a disbursed loan: a positive amount in the currency's minor
        units, dated on or after the disbursement; every bad field named at once."""
        assert self.disbursement_date is not None
        errors: list[tuple[str, str]] = []
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            errors.append(("amount", "must be a Decimal greater than zero"))
        elif not self.product.rounding.is_minor(amount):
            errors.append(
                ("amount", f"must have at most {self.product.currency_decimals} decimals")
            )
        if on < self.disbursement_date:
            errors.append((date_field, "must not be before the disbursement date"))
        if errors:
            raise ValidationError(errors)

    def apply_repayment(self, repayment_id: str, amount: Decimal, paid_on: date) -> Allocation:
        """Record a repayment and return how it was allocated. A loan left owing nothing
        closes. Back-dated repayments re-allocate later ones, as a replay does."""
        self._require("repaid", LoanStatus.ACTIVE)
        assert self.base_date is not None and self.disbursement_date is not None
        if any(r.repayment.id == repayment_id for r in self.repayments):
            raise Conflict(f"repayment {repayment_id} already exists", reason="DUPLICATE_REPAYMENT")
        self._check_movement(amount, paid_on, "paid_on")
        if self.schedule_history and paid_on < self.base_date:
            raise self._frozen()
        repayment = Repayment(repayment_id, amount, paid_on)
        self.repayments.append(RecordedRepayment(repayment, segment=len(self.schedule_history)))
        state = self.state()
        allocation = state.allocation_of(repayment_id)
        assert allocation is not None
        self.events.append(RepaymentApplied(self.id, repayment_id, amount, paid_on, allocation))
        if state.is_settled:
            self.status = LoanStatus.CLOSED
            self.closed_on = max(
                r.repayment.paid_on
                for r in self.repayments
                if not r.reversed and r.segment == len(self.schedule_history)
            )
            self.events.append(LoanClosed(self.id, self.closed_on, state.overpayment))
        return allocation

    def reverse_repayment(self, repayment_id: str, reason: str) -> LoanState:
        """Undo a repayment: the loan is recomputed as if it had never been made."""
        self._require("reversed", LoanStatus.ACTIVE, LoanStatus.CLOSED)
        index = next(
            (i for i, r in enumerate(self.repayments) if r.repayment.id == repayment_id), None
        )
        if index is None:
            raise NotFound(f"repayment {repayment_id} not found", reason="REPAYMENT_NOT_FOUND")
        recorded = self.repayments[index]
        if recorded.reversed:
            raise Conflict(
                f"repayment {repayment_id} is already reversed", reason="ALREADY_REVERSED"
            )
        if recorded.segment != len(self.schedule_history):
            raise self._frozen()
        if not reason or not reason.strip():
            raise ValidationError.of("reason", "is required")
        self.repayments[index] = replace(recorded, reversed=True, reversal_reason=reason.strip())
        state = self.state()
        refunded = self.refunded
        if state.overpayment < refunded:
            self.repayments[index] = recorded
            raise PreconditionFailed(
                f"{refunded} of the credit balance was already refunded; reversing repayment "
                f"{repayment_id} would leave the credit balance at {state.overpayment - refunded}",
                reason="CREDIT_ALREADY_REFUNDED",
                metadata={"refunded": str(refunded), "repayment_id": repayment_id},
            )
        r = recorded.repayment
        self.events.append(RepaymentReversed(self.id, r.id, r.amount, r.paid_on, reason.strip()))
        if self.status is LoanStatus.CLOSED and not state.is_settled:
            self.status = LoanStatus.ACTIVE
            self.closed_on = None
            self.events.append(LoanReopened(self.id))
        return state

    def refund_credit(self, refund_id: str, amount: Decimal, on: date) -> Decimal:
        """Pay back ``amount`` of the credit balance; returns the credit balance left. The
        service layer answers a repeated ``refund_id`` with the first result; here a repeat is
        a `Conflict`."""
        self._require("refunded", LoanStatus.ACTIVE, LoanStatus.CLOSED)
        assert self.disbursement_date is not None
        if not refund_id:
            raise ValidationError.of("refund_id", "is required")
        if any(r.id == refund_id for r in self.refunds):
            raise Conflict(f"refund {refund_id} already exists", reason="DUPLICATE_REFUND")
        self._check_movement(amount, on, "refunded_on")
        available = self.credit_balance()
        if amount > available:
            raise ValidationError.of(
                "amount",
                f"exceeds the credit balance: {available} is available to refund",
                reason="CREDIT_EXCEEDED",
            )
        self.refunds.append(Refund(refund_id, amount, on))
        self.events.append(CreditRefunded(self.id, refund_id, amount, on))
        return available - amount

    def write_off(self, on: date, *, by: str, reason: str) -> Amounts:
        """Write the loan off; returns (and records in the event) what was owed on ``on``:
        the payoff amount (all principal, interest earned to date, fees and penalties due),
        not interest of periods yet to come."""
        self._require("written off", LoanStatus.ACTIVE)
        if not reason or not reason.strip():
            raise ValidationError.of("reason", "is required")
        outstanding = payoff_quote(self.state(on), self.product, on)
        self.status = LoanStatus.WRITTEN_OFF
        self.written_off_on = on
        self.write_off_reason = reason.strip()
        self.events.append(LoanWrittenOff(self.id, on, by, reason.strip(), outstanding))
        return outstanding

    def reschedule(
        self,
        on: date,
        *,
        by: str,
        reason: str,
        new_term: int | None = None,
        new_annual_rate: Decimal | None = None,
        grace_on_principal: int = 0,
    ) -> Schedule:
        """Re-amortize the outstanding principal from ``on`` over ``new_term`` installments
        (default: as many as were left) at ``new_annual_rate`` (default: unchanged), with
        ``grace_on_principal`` interest-only periods. Interest earned to ``on``, unpaid fees
        and penalties are carried into the first new installment. The old schedule is kept
        in ``schedule_history``."""
        self._require("rescheduled", LoanStatus.ACTIVE)
        assert self.schedule is not None and self.base_date is not None
        if not reason or not reason.strip():
            raise ValidationError.of("reason", "is required")
        segment = len(self.schedule_history)
        latest = max(
            (
                r.repayment.paid_on
                for r in self.repayments
                if not r.reversed and r.segment == segment
            ),
            default=None,
        )
        if on < self.base_date or (latest is not None and on < latest):
            raise ValidationError.of(
                "on", "must not be before the disbursement, the last reschedule or a repayment"
            )
        state = self.state(on)
        quote = payoff_quote(state, self.product, on)
        if quote.principal <= 0:
            raise PreconditionFailed("nothing left to reschedule", reason="NOTHING_TO_RESCHEDULE")
        remaining = sum(1 for i in state.installments if i.due_date > on)
        term = new_term if new_term is not None else max(remaining, 1)
        rate = new_annual_rate if new_annual_rate is not None else self.product.annual_interest_rate
        try:
            product = self.product.with_changes(
                annual_interest_rate=rate,
                grace_on_principal=grace_on_principal,
                grace_on_interest=0,
                upfront_fee=None,
                min_principal=min(self.product.min_principal, quote.principal),
                max_principal=max(self.product.max_principal, quote.principal),
                min_term=term,
                max_term=max(self.product.max_term, term),
            )
        except ValidationError as exc:
            names = {
                "annual_interest_rate": "new_annual_rate",
                "grace_on_principal": "grace_on_principal",
                "min_term": "new_term",
            }
            raise ValidationError([(names.get(f, f), m) for f, m in exc.field_errors]) from None
        schedule = generate_schedule(product, quote.principal, term, on)
        carried = Amounts(ZERO, quote.interest, quote.fees, quote.penalties)
        base = LoanState.from_schedule(schedule)
        first = base.installments[0]
        base = base.replace(
            installments=(
                _with_carried(first, carried),
                *base.installments[1:],
            ),
            overpayment=state.overpayment,
        )
        self.schedule_history.append(ScheduleVersion(self.schedule, self.product, on, reason))
        self.events.append(
            LoanRescheduled(
                self.id,
                on,
                by,
                reason.strip(),
                quote.principal,
                self.schedule.term,
                term,
                self.product.annual_interest_rate,
                rate,
                carried,
            )
        )
        self.product = product
        self.schedule = schedule
        self.base_state = base
        self.base_date = on
        return schedule

    # -- queries ---------------------------------------------------------------------------

    @property
    def is_restructured(self) -> bool:
        """Rescheduled at least once (counts in PAR whatever its arrears, per SEEP)."""
        return bool(self.schedule_history)

    @property
    def refunded(self) -> Decimal:
        """The credit balance paid back so far."""
        return sum((r.amount for r in self.refunds), ZERO)

    def credit_balance(self) -> Decimal:
        """Money paid beyond everything owed and not yet refunded (zero before
        disbursement)."""
        if self.base_state is None:
            return ZERO
        return self.state().overpayment - self.refunded

    def outstanding(self, as_of: date | None = None) -> Amounts:
        """Everything the schedule still asks for, future interest included (the loan
        view's ``outstanding``); what it would take to close today is `payoff_quote`."""
        return self.state(as_of).outstanding

    def days_past_due(self, as_of: date) -> int:
        if self.status is not LoanStatus.ACTIVE:
            return 0
        return days_past_due(self.state(as_of), as_of)

    def payoff_quote(self, as_of: date) -> Amounts:
        self._require("quoted for payoff", LoanStatus.ACTIVE)
        return payoff_quote(self.state(as_of), self.product, as_of)

    def pull_events(self) -> list[Event]:
        """Hand the recorded events over (to the outbox) and forget them."""
        events, self.events = self.events, []
        return events


def _with_carried(first: InstallmentState, carried: Amounts) -> InstallmentState:
    return replace(
        first,
        interest=first.interest + carried.interest,
        interest_carried=first.interest_carried + carried.interest,
        fees=first.fees + carried.fees,
        penalties=first.penalties + carried.penalties,
    )


__all__ = [
    "Approval",
    "Checkpoint",
    "CreditRefunded",
    "EligibilityOverridden",
    "EligibilityOverride",
    "Event",
    "Loan",
    "LoanApproved",
    "LoanClosed",
    "LoanDisbursed",
    "LoanRejected",
    "LoanReopened",
    "LoanRescheduled",
    "LoanStatus",
    "LoanSubmitted",
    "LoanWrittenOff",
    "RecordedRepayment",
    "Refund",
    "RepaymentApplied",
    "RepaymentReversed",
    "RuleFailure",
    "ScheduleVersion",
    "check_eligibility",
]
