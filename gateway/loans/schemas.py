from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from gateway.schema import Strict

Decimal = StrictStr  # amounts and rates are decimal strings in the contract


class LoanProductBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    interest_method: Literal["flat", "declining_balance"]
    amortization: Literal["equal_installments", "equal_principal"] = "equal_installments"
    annual_interest_rate: Decimal = Field(description='percent per year, e.g. "18.5"')
    repayment_frequency: Literal["daily", "weekly", "biweekly", "monthly"]
    min_principal: Decimal
    max_principal: Decimal
    min_term: StrictInt
    max_term: StrictInt
    days_in_year: Literal["360", "365", "actual"] = Field(
        "360",
        description="day count: 30/360 (each month 1/12 of a year, as published annuity"
        " tables), actual/365 or actual/actual",
    )
    grace_on_principal: StrictInt = 0
    grace_on_interest: StrictInt = 0
    upfront_fee_rate: Decimal | None = None
    upfront_fee_flat: Decimal | None = None
    upfront_fee_mode: Literal["deducted", "financed"] = "deducted"
    installment_fee: Decimal | None = None
    late_penalty_rate: Decimal | None = None
    late_penalty_flat: Decimal | None = None
    penalty_tolerance_days: StrictInt = 0
    rounding_multiple: Decimal | None = None
    allocation_strategy: Literal[
        "penalties_fees_interest_principal", "installment_by_installment"
    ] = "penalties_fees_interest_principal"
    prepayment_mode: Literal["reduce_term", "reduce_installment"] = "reduce_term"
    min_score_band: Literal["AA", "A", "B", "C", "D"] | None = None
    max_open_loans: StrictInt = 0


class QuoteBody(Strict):
    product_id: StrictStr
    principal: Decimal
    term: StrictInt
    disbursement_date: StrictStr
    first_repayment_date: StrictStr | None = None


class LoanBody(Strict):
    borrower_id: StrictStr
    product_id: StrictStr
    principal: Decimal
    term: StrictInt
    disbursement_date: StrictStr | None = None
    purpose: StrictStr | None = Field(None, max_length=500)


class ApproveBody(Strict):
    note: StrictStr | None = Field(None, max_length=1000)
    override_reason: StrictStr | None = Field(None, max_length=1000)


class RejectBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class DisburseBody(Strict):
    disbursement_date: StrictStr
    first_repayment_date: StrictStr | None = None
    channel: Literal["cash", "bank", "mobile_money"] = "cash"


class WriteOffBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)
    date: StrictStr | None = None


class RescheduleBody(Strict):
    new_term: StrictInt
    new_annual_interest_rate: Decimal | None = None
    grace_on_principal: StrictInt = 0
    reason: StrictStr = Field(min_length=1, max_length=1000)
    date: StrictStr | None = None


class RepaymentBody(Strict):
    amount: Decimal
    paid_on: StrictStr
    reference: StrictStr | None = Field(None, max_length=120)
    channel: Literal["cash", "bank", "mobile_money"] = "cash"


class ReversalBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class CloseOfBusinessBody(Strict):
    as_of: StrictStr
    wait: bool = True


class BucketBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=40, examples=["1-30"])
    min_days: StrictInt = Field(ge=0)
    max_days: StrictInt | None = Field(None, ge=0, description="null for the last bucket")


class LoanSettingsBody(Strict):
    approval_limits: dict[StrictStr, StrictStr | None] | None = Field(
        None,
        description="The largest principal each approving role (`branch_manager`, `admin`) "
        "may approve, in the institution's currency; null or a role left out: no limit. "
        "Omit the field to leave the limits unchanged.",
        examples=[{"branch_manager": "500000.00", "admin": None}],
    )
    delinquency_buckets: list[BucketBody] | None = Field(
        None,
        max_length=20,
        description="Contiguous from 0 days past due, the last open-ended (max_days null). "
        "Every active loan is reclassified by the next close of business. Omit the field to "
        "leave the buckets unchanged (default: current, 1-30, 31-60, 61-90, 91-180, over_180).",
    )
