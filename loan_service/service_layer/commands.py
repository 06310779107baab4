"""The commands of loan_service's use cases: what a caller asks for, in plain fields.

The gRPC servicers build them from the requests (`LoanUseCases`), so the use cases never see
a proto message. Most fields are text for amounts and dates, 0 or "" when not given:
kopa.loan.v1 sends them so, and kopa.loan.v2's typed values are read at the edge (a
malformed Money or Date refused there, naming its field) into the same text. Checking them
against the product, the loan and the currency is the use case's job, for both versions
alike, so that one answer names every bad field. The money path's commands
(`ApplyRepayment`, `RefundCredit`) are typed: kopa.loan.v2 carries their amounts and dates
typed, and the use case checks them against the loan (currency, exactness, sign).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loan_service.domain.arrears import Bucket


@dataclass(frozen=True)
class CreateProduct:
    name: str = ""
    interest_method: str = ""
    amortization: str = ""
    annual_interest_rate: str = ""
    repayment_frequency: str = ""
    min_principal: str = ""
    max_principal: str = ""
    min_term: int = 0
    max_term: int = 0
    days_in_year: str = ""
    grace_on_principal: int = 0
    grace_on_interest: int = 0
    upfront_fee_rate: str = ""
    upfront_fee_flat: str = ""
    upfront_fee_mode: str = ""
    installment_fee: str = ""
    late_penalty_rate: str = ""
    late_penalty_flat: str = ""
    penalty_tolerance_days: int = 0
    rounding_multiple: str = ""
    allocation_strategy: str = ""
    prepayment_mode: str = ""
    min_score_band: str = ""
    max_open_loans: int = 0
    group_lending: bool = False
    min_group_members: int = 0
    max_group_members: int = 0
    joint_liability: bool = False
    min_security_coverage: str = ""
    requires_kyc_verified: bool = False
    #: The currency each amount names, by field (kopa.loan.v2's amounts may name theirs):
    #: each must be the institution's.
    currencies: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class QuoteLoan:
    product_id: str
    principal: str
    term: int
    disbursement_date: str
    first_repayment_date: str = ""
    #: The currency each amount names, by field (kopa.loan.v2's amounts may name theirs):
    #: each must be the institution's.
    currencies: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CreateLoan:
    borrower_id: str
    product_id: str
    principal: str
    term: int
    disbursement_date: str = ""
    purpose: str = ""
    request_id: str = ""
    #: The currency each amount names, by field (kopa.loan.v2's amounts may name theirs):
    #: each must be the institution's.
    currencies: tuple[tuple[str, str], ...] = ()
    #: The group loan this member loan belongs to, its group and the group's centre (set by
    #: `group_loans` only).
    group_loan_id: str = ""
    group_id: str = ""
    center_id: str = ""


@dataclass(frozen=True)
class ApproveLoan:
    loan_id: str
    note: str = ""
    override_reason: str = ""


@dataclass(frozen=True)
class RejectLoan:
    loan_id: str
    reason: str = ""


@dataclass(frozen=True)
class ScoreLoan:
    loan_id: str


@dataclass(frozen=True)
class DisburseLoan:
    loan_id: str
    disbursement_date: str
    first_repayment_date: str = ""
    channel: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class ApplyRepayment:
    loan_id: str
    payment_id: str
    amount: Decimal
    paid_on: date
    #: The amount's currency, which must be the loan's; empty: the loan's (v1 callers).
    currency: str = ""


@dataclass(frozen=True)
class ReverseRepayment:
    loan_id: str
    payment_id: str
    reason: str = ""


@dataclass(frozen=True)
class RefundCredit:
    loan_id: str
    refund_id: str
    amount: Decimal
    #: None: today.
    refunded_on: date | None = None
    #: As `ApplyRepayment.currency`.
    currency: str = ""


@dataclass(frozen=True)
class WriteOffLoan:
    loan_id: str
    reason: str = ""
    date: str = ""


@dataclass(frozen=True)
class RescheduleLoan:
    loan_id: str
    new_term: int = 0
    new_annual_interest_rate: str = ""
    grace_on_principal: int = 0
    reason: str = ""
    date: str = ""


@dataclass(frozen=True)
class UpdateLoanSettings:
    """None for what stays as it is."""

    institution_id: str
    approval_limits: Mapping[str, str] | None = None
    buckets: tuple[Bucket, ...] | None = None
    #: The currency each amount names, by field (kopa.loan.v2's amounts may name theirs):
    #: each must be the institution's.
    currencies: tuple[tuple[str, str], ...] = ()
