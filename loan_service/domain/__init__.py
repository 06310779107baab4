"""Pure domain core of the loan service: no I/O, no grpc/pymongo/fastapi/aio-pika imports.

Money is ``decimal.Decimal`` in major units everywhere; rates are percent per year.

Modules and what they provide:

``products``
    `LoanProduct` (frozen, validated on construction; every bad field named in one
    `ValidationError`), its enums (`InterestMethod`, `Amortization`, `RepaymentFrequency`,
    `DaysInYear`, `AllocationStrategy`, `PrepaymentStrategy`, `ScoreBand`, ...),
    `UpfrontFee`, `LatePenalty`, `Rounding`, and `parse_product(mapping)` for API strings.
``schedule``
    `generate_schedule(product, principal, term, disbursement_date, first_repayment_date=None)
    -> Schedule` of `Installment` rows (number, due_date, principal, interest, fees, total,
    balance); day-count, annuity, grace and rounding conventions in its docstring.
``pricing``
    `price(schedule) -> Pricing(apr, eir, periodic_rate)` (MFTransparency) and `irr`.
``state``
    `LoanState` / `InstallmentState` (dues and paid amounts), `Amounts`, `Allocation`,
    `Repayment`.
``allocation``
    `apply_repayment(state, product, amount, paid_on, repayment_id) -> (state, Allocation)`,
    `payoff_quote(state, product, as_of) -> Amounts`,
    `replay(schedule_or_state, repayments, product, as_of=None) -> LoanState` (reversal =
    replay without the reversed repayment).
``arrears``
    `days_past_due`, `overdue_amounts`, `delinquency_bucket` (`Bucket`,
    `DEFAULT_BUCKETS`), `par_flags` / `in_par`, `charge_penalties` / `penalties_due`
    (idempotent late penalties), `arrears_status`.
``lifecycle``
    The `Loan` aggregate (`submit`, `override_eligibility`, `approve`, `reject`, `disburse`,
    `apply_repayment`, `reverse_repayment`, `write_off`, `reschedule`, `state`,
    `payoff_quote`), `LoanStatus`, `check_eligibility`, and the events it records in
    ``loan.events`` (``loan.submitted``, ``loan.approved``, ...).
``errors``
    `DomainError` (``reason``, ``field_errors``, ``kind``) and its subclasses
    `ValidationError` (alias `DomainValidationError`), `IllegalTransition`,
    `MakerCheckerViolation`, `ApprovalLimitExceeded`, `OverrideNotPermitted`,
    `EligibilityFailed`, `PreconditionFailed`, `NotFound`, `Conflict`. ``kind`` is the
    name of the gRPC status family (``INVALID_ARGUMENT``, ``FAILED_PRECONDITION``,
    ``PERMISSION_DENIED``, ``NOT_FOUND``, ``ALREADY_EXISTS``).
"""

from .allocation import apply_repayment, payoff_quote, replay
from .arrears import (
    DEFAULT_BUCKETS,
    Bucket,
    arrears_status,
    charge_penalties,
    days_past_due,
    delinquency_bucket,
    overdue_amounts,
    par_flags,
    penalties_due,
)
from .errors import (
    ApprovalLimitExceeded,
    Conflict,
    DomainError,
    DomainValidationError,
    EligibilityFailed,
    IllegalTransition,
    MakerCheckerViolation,
    NotFound,
    OverrideNotPermitted,
    PreconditionFailed,
    ValidationError,
)
from .lifecycle import Event, Loan, LoanStatus, RuleFailure, check_eligibility
from .pricing import Pricing, irr, price
from .products import (
    AllocationStrategy,
    Amortization,
    ChargeCalculation,
    DaysInYear,
    FeeTreatment,
    InterestMethod,
    LatePenalty,
    LoanProduct,
    PrepaymentStrategy,
    RepaymentFrequency,
    ScoreBand,
    UpfrontFee,
    parse_product,
)
from .schedule import Installment, Schedule, generate_schedule
from .state import Allocation, Amounts, InstallmentState, LoanState, Repayment

__all__ = [
    "DEFAULT_BUCKETS",
    "Allocation",
    "AllocationStrategy",
    "Amortization",
    "Amounts",
    "ApprovalLimitExceeded",
    "Bucket",
    "ChargeCalculation",
    "Conflict",
    "DaysInYear",
    "DomainError",
    "DomainValidationError",
    "EligibilityFailed",
    "Event",
    "FeeTreatment",
    "IllegalTransition",
    "Installment",
    "InstallmentState",
    "InterestMethod",
    "LatePenalty",
    "Loan",
    "LoanProduct",
    "LoanState",
    "LoanStatus",
    "MakerCheckerViolation",
    "NotFound",
    "OverrideNotPermitted",
    "PreconditionFailed",
    "PrepaymentStrategy",
    "Pricing",
    "Repayment",
    "RepaymentFrequency",
    "RuleFailure",
    "Schedule",
    "ScoreBand",
    "UpfrontFee",
    "ValidationError",
    "apply_repayment",
    "arrears_status",
    "charge_penalties",
    "check_eligibility",
    "days_past_due",
    "delinquency_bucket",
    "generate_schedule",
    "irr",
    "overdue_amounts",
    "par_flags",
    "parse_product",
    "payoff_quote",
    "penalties_due",
    "price",
    "replay",
]
