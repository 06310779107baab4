"""The loan and the requests that move it through its life cycle.

```
submitted ──approve──> approved ──disburse──> active ──paid in full──> closed
    │                                           │
    └──reject──> rejected                       └──write-off──> written_off
```
An application is `submitted` with an indicative schedule; a second person approves (or
rejects) it; disbursing fixes the schedule from the disbursement date and makes it `active`;
repayments then run it down until it is `closed`, unless it is written off first. `rejected`
and `written_off` are final; reversing a repayment of a `closed` loan makes it `active` again
when something is owed once more."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.convert import from_proto
from gateway.schema import (
    Amount,
    Count,
    DecimalString,
    IsoDate,
    Rate,
    ScoreBand,
    Strict,
    Timestamp,
)
from kopa.loan.v2 import loans_pb2

LoanStatus = Literal["submitted", "approved", "rejected", "active", "closed", "written_off"]
Channel = Literal["cash", "bank", "mobile_money"]

Part = Annotated[
    Amount | Literal[""],
    Field(description="a decimal string; empty in a payment not applied to a loan (yet)"),
]
"""A part of a balance or of a payment's split: a payment still pending or waiting in suspense
has nothing applied, and every part of it is empty."""

Percent = Annotated[
    Rate | Literal[""],
    Field(description="percent per year as a decimal string; empty while it cannot be priced"),
]


# --- schedules, balances, price -----------------------------------------------------------


class QuotedInstallment(BaseModel):
    number: int = Field(description="1 for the first installment")
    due_date: IsoDate
    principal: Amount
    interest: Amount
    fees: Amount
    total: Amount = Field(description="what falls due on `due_date`: the sum of the parts")
    balance: Amount = Field(description="principal outstanding after this installment")


class Installment(QuotedInstallment):
    """An installment of a loan's schedule: what falls due and what has been paid of it."""

    penalties: Amount = Field(description="late penalties charged on this installment")
    principal_paid: Amount
    interest_paid: Amount
    fees_paid: Amount
    penalties_paid: Amount
    total_paid: Amount
    days_past_due: int = Field(description="days since `due_date` while unpaid (active loans)")
    paid: bool = Field(description="everything due, penalties included, is paid")


class Outstanding(BaseModel):
    """What the borrower owes."""

    principal: Part
    interest: Part
    fees: Part
    penalties: Part
    total: Part


class Allocation(BaseModel):
    """How a payment was split over what was owed (in the order of the product's allocation
    strategy); `overpayment` is what went beyond everything owed, the loan's credit balance."""

    principal: Part
    interest: Part
    fees: Part
    penalties: Part
    overpayment: Part


class Pricing(BaseModel):
    """The price of a schedule; APR and EIR as defined by MFTransparency."""

    total_interest: Amount
    total_fees: Amount
    total_repayment: Amount = Field(description="principal + interest + fees")
    apr: Percent = Field(description="annual percentage rate, percent per year")
    eir: Percent = Field(description="effective interest rate, percent per year (compounded)")


# --- score and history ----------------------------------------------------------------------


class ScoreContribution(BaseModel):
    rule: str = Field(description="the scorecard rule's name")
    points: int
    note: str


class LoanScore(BaseModel):
    """The application's credit score under the institution's published scorecard."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "score": 640,
                    "band": "B",
                    "scorecard_id": "sc_0193f2a4c6e8b0d2f4a6c8e0b2",
                    "scorecard_version": 3,
                    "contributions": [
                        {"rule": "base", "points": 500, "note": ""},
                        {"rule": "repaid_before", "points": 140, "note": "2 loans closed"},
                    ],
                }
            ]
        }
    )

    score: int
    band: ScoreBand = Field(description="`AA` (best) to `D`")
    scorecard_id: str
    scorecard_version: int
    contributions: list[ScoreContribution] = Field(description="the points of each rule")


class StatusChange(BaseModel):
    status: LoanStatus = Field(description="the status the loan entered")
    time: Timestamp
    actor_id: str = Field(description="the user who made the change")
    note: str = Field(description="the approval note, rejection or write-off reason")


class AppliedRepayment(BaseModel):
    payment_id: str
    amount: Amount
    paid_on: IsoDate
    allocation: Allocation
    reversed: bool
    reversal_reason: str = Field(description="empty unless reversed")


class Reclassification(BaseModel):
    date: IsoDate = Field(description="the business date of the change")
    from_bucket: str
    to_bucket: str
    days_past_due: int


# --- the loan -------------------------------------------------------------------------------

_EXAMPLE_INSTALLMENTS = [
    ("2026-02-15", "980.26", "60.00", "1040.26", "2019.74"),
    ("2026-03-15", "999.87", "40.39", "1040.26", "1019.87"),
    ("2026-04-15", "1019.87", "20.40", "1040.27", "0.00"),
]

_EXAMPLE: dict[str, Any] = {
    "id": "loan_0194a1f3c2e07d3b9a41c8e2f5",
    "institution_id": "inst_0193f0a2b1c4e6a1d2f3b4c5d6",
    "branch_id": "br_0193f0a2d8e1c7b2a3f4e5d6c7",
    "borrower_id": "bor_0194a1e9b0d2f4c6e8a0b2c4d6",
    "product_id": "lprod_0193f1c4a7b9e2d4f6a8c0e2f4",
    "status": "active",
    "principal": "3000.00",
    "term": 3,
    "currency": "KES",
    "purpose": "stock for the shop",
    "disbursement_date": "2026-01-15",
    "schedule": [
        {
            "number": n,
            "due_date": due,
            "principal": principal,
            "interest": interest,
            "fees": "0.00",
            "penalties": "0.00",
            "total": total,
            "balance": balance,
            "principal_paid": principal if n == 1 else "0.00",
            "interest_paid": interest if n == 1 else "0.00",
            "fees_paid": "0.00",
            "penalties_paid": "0.00",
            "total_paid": total if n == 1 else "0.00",
            "days_past_due": 0,
            "paid": n == 1,
        }
        for n, (due, principal, interest, total, balance) in enumerate(_EXAMPLE_INSTALLMENTS, 1)
    ],
    "outstanding": {
        "principal": "2019.74",
        "interest": "0.00",
        "fees": "0.00",
        "penalties": "0.00",
        "total": "2019.74",
    },
    "pricing": {
        "total_interest": "120.79",
        "total_fees": "0.00",
        "total_repayment": "3120.79",
        "apr": "24.00",
        "eir": "26.82",
    },
    "total_interest": "120.79",
    "total_fees": "0.00",
    "total_repayment": "3120.79",
    "apr": "24.00",
    "eir": "26.82",
    "days_past_due": 0,
    "delinquency_bucket": "current",
    "score": None,
    "created_by": "usr_0193f0b5c2a4e6d8f0b2d4f6a8",
    "approved_by": "usr_0193f0b6d3e5a7c9e1f3a5c7e9",
    "history": [
        {"status": s, "time": t, "actor_id": a, "note": note}
        for s, t, a, note in [
            ("submitted", "2026-01-12T08:02:11.402Z", "usr_0193f0b5c2a4e6d8f0b2d4f6a8", ""),
            ("approved", "2026-01-13T10:15:40.118Z", "usr_0193f0b6d3e5a7c9e1f3a5c7e9", "ok"),
            ("active", "2026-01-15T09:00:03.870Z", "usr_0193f0b6d3e5a7c9e1f3a5c7e9", ""),
        ]
    ],
    "credit_balance": "0.00",
    "written_off_principal": "",
    "create_time": "2026-01-12T08:02:11.402Z",
    "update_time": "2026-02-14T16:41:09.225Z",
    "annual_interest_rate": "24",
    "override_reason": None,
    "repayments": [
        {
            "payment_id": "pay_0194e6a1b3c5d7e9f1a3b5c7d9",
            "amount": "1040.26",
            "paid_on": "2026-02-14",
            "allocation": {
                "principal": "980.26",
                "interest": "60.00",
                "fees": "0.00",
                "penalties": "0.00",
                "overpayment": "0.00",
            },
            "reversed": False,
            "reversal_reason": "",
        }
    ],
    "rescheduled": False,
    "oldest_unpaid_due_date": "2026-03-15",
    "first_repayment_date": None,
    "classification_history": [],
}


class Loan(Pricing):
    """A loan, from application to its end. `status` follows the life cycle
    `submitted -> approved -> active -> closed`, or ends `rejected` (instead of approved) or
    `written_off` (while active); a reversed repayment can take a `closed` loan back to
    `active`. The pricing totals are also repeated at the top level, as a quote shows them."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: str
    institution_id: str
    branch_id: str = Field(description="the borrower's branch")
    borrower_id: str
    product_id: str
    status: LoanStatus
    principal: Amount
    term: int = Field(description="the number of installments")
    currency: str = Field(description="ISO 4217, the institution's")
    purpose: str | None
    disbursement_date: IsoDate | None = Field(
        description="the date disbursed, or expected to be before disbursement"
    )
    schedule: list[Installment] = Field(
        description="indicative until disbursement, then fixed from the disbursement date"
    )
    outstanding: Outstanding
    pricing: Pricing
    days_past_due: int = Field(description="of the oldest installment not fully paid")
    delinquency_bucket: str = Field(
        description="the institution's bucket for `days_past_due` (`current`, `1-30`...); "
        "empty before disbursement"
    )
    score: LoanScore | None = Field(description="the last score, null until scored")
    created_by: str = Field(description="the user who submitted the application")
    approved_by: str | None
    history: list[StatusChange] = Field(description="every change of status, oldest first")
    credit_balance: Amount = Field(description="paid beyond everything owed, not yet refunded")
    written_off_principal: Amount | Literal[""] = Field(description="empty unless written off")
    create_time: Timestamp
    update_time: Timestamp
    annual_interest_rate: Rate
    override_reason: str | None = Field(
        description="why it was approved despite a failed eligibility rule"
    )
    repayments: list[AppliedRepayment] = Field(
        description="every payment applied, in order, reversed ones included"
    )
    rescheduled: bool = Field(description="restructured: counts in PAR whatever its arrears")
    oldest_unpaid_due_date: IsoDate | None = Field(description="null when nothing is unpaid")
    first_repayment_date: IsoDate | None = Field(description="when one was asked for")
    classification_history: list[Reclassification] = Field(
        description="every change of delinquency bucket, oldest first"
    )
    group_loan_id: str | None = Field(
        None, description="a group loan's member loan: its group loan; null for an individual"
    )
    group_id: str | None = Field(None, description="a member loan's group")
    group_days_past_due: int = Field(
        0,
        description="under joint liability, the group's arrears: the most days past due of any "
        "member loan of the group's loans (`GET /v1/loans/{id}`; 0 in lists)",
    )

    @classmethod
    def of(cls, loan: loans_pb2.Loan) -> Loan:
        pricing = from_proto(Pricing, loan.pricing)
        return from_proto(cls, loan, pricing=pricing, **pricing.model_dump())


# --- requests -------------------------------------------------------------------------------


class LoanBody(Strict):
    borrower_id: StrictStr
    product_id: StrictStr
    principal: DecimalString = Field(description="within the product's limits")
    term: Count = Field(description="the number of installments, within the product's limits")
    disbursement_date: IsoDate | None = Field(
        None, description="the expected disbursement date, for the indicative schedule"
    )
    purpose: StrictStr | None = Field(None, max_length=500)


class ApproveBody(Strict):
    note: StrictStr | None = Field(None, max_length=1000)
    override_reason: StrictStr | None = Field(
        None,
        max_length=1000,
        description="a branch manager's written reason to approve despite a failed "
        "eligibility rule (such as a score below the product's minimum band)",
    )


class RejectBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class DisburseBody(Strict):
    disbursement_date: IsoDate = Field(description="past dates are accepted (back-office entry)")
    first_repayment_date: IsoDate | None = Field(
        None,
        description="default: the application's, else one repayment period after the "
        "disbursement date",
    )
    channel: Channel = Field("cash", description="how the money is paid out")


class WriteOffBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)
    date: IsoDate | None = Field(None, description="default: today")


class RescheduleBody(Strict):
    new_term: Count = Field(
        description="the number of installments from `date`; 0: as many as were left"
    )
    new_annual_interest_rate: Rate | None = Field(None, description="default: unchanged")
    grace_on_principal: Count = Field(0, description="installments of interest only")
    reason: StrictStr = Field(min_length=1, max_length=1000)
    date: IsoDate | None = Field(None, description="default: today")
