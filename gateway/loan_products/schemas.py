"""Loan products (the terms an institution lends on) and quotes priced from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.loans.schemas import Pricing, QuotedInstallment
from gateway.schema import Amount, Count, DecimalString, IsoDate, Rate, ScoreBand, Strict

InterestMethod = Literal["flat", "declining_balance"]
Amortization = Literal["equal_installments", "equal_principal"]
RepaymentFrequency = Literal["daily", "weekly", "biweekly", "monthly"]
DaysInYear = Literal["360", "365", "actual"]
FeeMode = Literal["deducted", "financed"]
AllocationStrategy = Literal["penalties_fees_interest_principal", "installment_by_installment"]
PrepaymentMode = Literal["reduce_term", "reduce_installment"]

# The descriptions the request and the product share.
DAYS_IN_YEAR = (
    "day count: 30/360 (each month 1/12 of a year, as published annuity tables), actual/365 "
    "or actual/actual"
)
UPFRONT_FEE_RATE = "a one-off fee at disbursement, percent of the principal"
UPFRONT_FEE_FLAT = "a one-off fee at disbursement, a flat amount (instead of a rate)"
UPFRONT_FEE_MODE = "taken from the cash handed over, or added to the principal and repaid"
INSTALLMENT_FEE = "a flat fee added to every installment"
LATE_PENALTY_RATE = "charged once per installment unpaid after the tolerance, percent of it"
LATE_PENALTY_FLAT = "charged once per installment unpaid after the tolerance, a flat amount"
ROUNDING_MULTIPLE = 'round each installment to a multiple of this amount (e.g. "100" for UGX)'
ALLOCATION_STRATEGY = (
    "how a payment pays the installments due: all their penalties, then fees, interest and "
    "principal; or each installment in full, oldest first"
)
PREPAYMENT_MODE = "what paying ahead shortens: the term, or the installments"
MIN_SCORE_BAND = "the lowest score band approved without a branch manager's override"
MAX_OPEN_LOANS = "how many open loans a borrower may hold under it at once; 0: no limit"


GROUP_LENDING = "lends to groups (`POST /v1/group-loans`): one loan per member of an active group"
JOINT_LIABILITY = (
    "the group's members are jointly liable: the group's arrears are every member's and a group "
    "in arrears borrows no more"
)
MIN_SECURITY_COVERAGE = (
    "guarantors and collateral must be worth at least this ratio of the principal when the "
    "loan is approved (`1.2` = 120%); null: no rule"
)
REQUIRES_KYC_VERIFIED = "the borrower's `kyc_status` must be `verified` before disbursement"


class LoanProduct(BaseModel):
    """The terms an institution lends on. Amounts are in the institution's currency; terms
    count installments of `repayment_frequency`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "lprod_0193f1c4a7b9e2d4f6a8c0e2f4",
                    "institution_id": "inst_0193f0a2b1c4e6a1d2f3b4c5d6",
                    "name": "Biashara monthly",
                    "currency": "KES",
                    "interest_method": "declining_balance",
                    "amortization": "equal_installments",
                    "annual_interest_rate": "24",
                    "repayment_frequency": "monthly",
                    "min_principal": "1000.00",
                    "max_principal": "500000.00",
                    "min_term": 3,
                    "max_term": 24,
                    "days_in_year": "360",
                    "grace_on_principal": 0,
                    "grace_on_interest": 0,
                    "upfront_fee_rate": "2",
                    "upfront_fee_flat": None,
                    "upfront_fee_mode": "deducted",
                    "installment_fee": "0.00",
                    "late_penalty_rate": "5",
                    "late_penalty_flat": None,
                    "penalty_tolerance_days": 3,
                    "rounding_multiple": None,
                    "allocation_strategy": "penalties_fees_interest_principal",
                    "prepayment_mode": "reduce_term",
                    "min_score_band": "C",
                    "max_open_loans": 1,
                }
            ]
        }
    )

    id: str
    institution_id: str
    name: str
    currency: str = Field(description="ISO 4217, the institution's")
    interest_method: InterestMethod
    amortization: Amortization
    annual_interest_rate: Rate
    repayment_frequency: RepaymentFrequency
    min_principal: Amount
    max_principal: Amount
    min_term: int
    max_term: int
    days_in_year: DaysInYear = Field(description=DAYS_IN_YEAR)
    grace_on_principal: int = Field(description="first installments of interest only")
    grace_on_interest: int = Field(description="first installments without interest")
    upfront_fee_rate: Rate | None = Field(description=UPFRONT_FEE_RATE)
    upfront_fee_flat: Amount | None = Field(description=UPFRONT_FEE_FLAT)
    upfront_fee_mode: FeeMode | None = Field(description=UPFRONT_FEE_MODE)
    installment_fee: Amount = Field(description=INSTALLMENT_FEE)
    late_penalty_rate: Rate | None = Field(description=LATE_PENALTY_RATE)
    late_penalty_flat: Amount | None = Field(description=LATE_PENALTY_FLAT)
    penalty_tolerance_days: int = Field(description="days after the due date before a penalty")
    rounding_multiple: Amount | None = Field(description=ROUNDING_MULTIPLE)
    allocation_strategy: AllocationStrategy = Field(description=ALLOCATION_STRATEGY)
    prepayment_mode: PrepaymentMode = Field(description=PREPAYMENT_MODE)
    min_score_band: ScoreBand | None = Field(description=MIN_SCORE_BAND)
    max_open_loans: int = Field(description=MAX_OPEN_LOANS)
    # Defaults for the products kopa.loan.v1 answers (it has none of these rules).
    group_lending: bool = Field(False, description=GROUP_LENDING)
    min_group_members: int = Field(0, description="0: no lower bound")
    max_group_members: int = Field(0, description="0: no upper bound")
    joint_liability: bool = Field(False, description=JOINT_LIABILITY)
    min_security_coverage: DecimalString | None = Field(None, description=MIN_SECURITY_COVERAGE)
    requires_kyc_verified: bool = Field(False, description=REQUIRES_KYC_VERIFIED)


class Quote(Pricing):
    """A schedule and its price for a principal and term under a product; nothing is kept."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "installments": [
                        {
                            "number": n,
                            "due_date": due,
                            "principal": principal,
                            "interest": interest,
                            "fees": "0.00",
                            "total": total,
                            "balance": balance,
                        }
                        for n, due, principal, interest, total, balance in [
                            (1, "2026-02-15", "980.26", "60.00", "1040.26", "2019.74"),
                            (2, "2026-03-15", "999.87", "40.39", "1040.26", "1019.87"),
                            (3, "2026-04-15", "1019.87", "20.40", "1040.27", "0.00"),
                        ]
                    ],
                    "total_interest": "120.79",
                    "total_fees": "0.00",
                    "total_repayment": "3120.79",
                    "apr": "24.00",
                    "eir": "26.82",
                }
            ]
        }
    )

    installments: list[QuotedInstallment]


# --- requests -------------------------------------------------------------------------------


class LoanProductBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    interest_method: InterestMethod
    amortization: Amortization = "equal_installments"
    annual_interest_rate: Rate = Field(examples=["18.5"])
    repayment_frequency: RepaymentFrequency
    min_principal: DecimalString
    max_principal: DecimalString
    min_term: Count = Field(description="installments")
    max_term: Count = Field(description="installments")
    days_in_year: DaysInYear = Field("360", description=DAYS_IN_YEAR)
    grace_on_principal: Count = Field(0, description="first installments of interest only")
    grace_on_interest: Count = Field(0, description="first installments without interest")
    upfront_fee_rate: Rate | None = Field(None, description=UPFRONT_FEE_RATE)
    upfront_fee_flat: DecimalString | None = Field(None, description=UPFRONT_FEE_FLAT)
    upfront_fee_mode: FeeMode = Field("deducted", description=UPFRONT_FEE_MODE)
    installment_fee: DecimalString | None = Field(None, description=INSTALLMENT_FEE)
    late_penalty_rate: Rate | None = Field(None, description=LATE_PENALTY_RATE)
    late_penalty_flat: DecimalString | None = Field(None, description=LATE_PENALTY_FLAT)
    penalty_tolerance_days: Count = Field(0, description="days after the due date")
    rounding_multiple: DecimalString | None = Field(None, description=ROUNDING_MULTIPLE)
    allocation_strategy: AllocationStrategy = Field(
        "penalties_fees_interest_principal", description=ALLOCATION_STRATEGY
    )
    prepayment_mode: PrepaymentMode = Field("reduce_term", description=PREPAYMENT_MODE)
    min_score_band: ScoreBand | None = Field(None, description=MIN_SCORE_BAND)
    max_open_loans: Count = Field(0, description=MAX_OPEN_LOANS)
    group_lending: bool = Field(False, description=GROUP_LENDING)
    min_group_members: Count = Field(0, description="members borrowing under one group loan")
    max_group_members: Count = Field(0, description="members borrowing under one group loan")
    joint_liability: bool = Field(False, description=JOINT_LIABILITY)
    min_security_coverage: DecimalString | None = Field(None, description=MIN_SECURITY_COVERAGE)
    requires_kyc_verified: bool = Field(False, description=REQUIRES_KYC_VERIFIED)


class QuoteBody(Strict):
    product_id: StrictStr
    principal: DecimalString = Field(description="within the product's limits")
    term: Count = Field(description="installments, within the product's limits")
    disbursement_date: IsoDate
    first_repayment_date: IsoDate | None = Field(
        None, description="default: one repayment period after the disbursement date"
    )
