from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from gateway.loans.schemas import Allocation, Channel, LoanStatus
from gateway.schema import Amount, Count, DecimalString, IsoDate, Strict, Timestamp

GroupLoanStatus = Literal["submitted", "approved", "active", "rejected", "closed"]


class MemberPrincipal(Strict):
    borrower_id: StrictStr = Field(description="a current member of the group")
    principal: DecimalString = Field(description="within the product's limits")


class GroupLoanBody(Strict):
    group_id: StrictStr = Field(description="an active group")
    product_id: StrictStr = Field(description="a product that lends to groups")
    term: Count = Field(description="the number of installments, the same for every member")
    members: list[MemberPrincipal] = Field(description="who borrows and how much")
    disbursement_date: IsoDate | None = Field(
        None, description="the expected disbursement date, for the indicative schedules"
    )
    purpose: StrictStr | None = Field(None, max_length=500)


class GroupLoanMember(BaseModel):
    borrower_id: str
    loan_id: str = Field(description="the member's own loan (`GET /v1/loans/{id}`)")
    principal: Amount
    status: LoanStatus
    outstanding: Amount = Field(description="what the member's loan owes now")
    days_past_due: int


class GroupLoan(BaseModel):
    """One application of a group, one loan per member."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gln_019d2b8a1c3e5a7c9e1a3c5e7a9c",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "center_id": "ctr_019d2b7a0c2e4a6c8e0a2c4e6a8c",
                    "group_id": "grp_019d2b7e2f4a6c8e0a2c4e6a8c0e",
                    "product_id": "lprod_019d2a3c5e7a9c1e3a5c7e9a1c",
                    "term": 16,
                    "status": "active",
                    "joint_liability": True,
                    "loans": [
                        {
                            "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                            "loan_id": "loan_019d2b8a2d4f6b8d0f2b4d6f8b0d",
                            "principal": "20000.00",
                            "status": "active",
                            "outstanding": "21400.00",
                            "days_past_due": 0,
                        }
                    ],
                    "outstanding": "21400.00",
                    "days_past_due": 0,
                    "create_time": "2026-03-31T09:30:00.123Z",
                }
            ]
        }
    )

    id: str
    institution_id: str
    branch_id: str
    center_id: str = Field(description="the centre the group attends; empty when none")
    group_id: str
    product_id: str
    term: int
    status: GroupLoanStatus = Field(description="follows the member loans: `closed` once all are")
    joint_liability: bool = Field(
        description="the members guarantee each other: the group's arrears are every member's"
    )
    loans: list[GroupLoanMember]
    outstanding: Amount = Field(description="what the member loans owe now, together")
    days_past_due: int = Field(description="the most days past due of any member loan")
    create_time: Timestamp


class GroupApproveBody(Strict):
    note: StrictStr | None = Field(None, max_length=1000)
    override_reason: StrictStr | None = Field(
        None, max_length=1000, description="approve despite a member loan's failed eligibility"
    )


class GroupRejectBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class GroupDisburseBody(Strict):
    disbursement_date: IsoDate = Field(description="past dates are accepted (back-office entry)")
    first_repayment_date: IsoDate | None = Field(None)
    channel: Channel = Field("cash", description="how the money is paid out")


class RepaymentPartBody(Strict):
    loan_id: StrictStr = Field(description="a member loan of this group loan")
    amount: DecimalString = Field(description="greater than zero")


class GroupRepaymentBody(Strict):
    paid_on: IsoDate = Field(description="the meeting's date")
    amount: DecimalString | None = Field(
        None,
        description="one amount, split pro rata to what each member owes by `paid_on`; with "
        "`parts`, their total (a difference is 422 naming `parts`)",
    )
    parts: list[RepaymentPartBody] | None = Field(
        None, description="the amounts as collected, per member loan"
    )
    channel: Channel = "cash"
    reference: StrictStr | None = Field(None, max_length=120)

    @model_validator(mode="after")
    def _amount_or_parts(self) -> GroupRepaymentBody:
        if self.amount is None and not self.parts:
            raise ValueError("give `amount`, `parts`, or both")
        return self


class GroupRepaymentPart(BaseModel):
    loan_id: str
    payment_id: str = Field(description="the member loan's repayment (`/v1/repayments/{id}`)")
    amount: Amount
    allocation: Allocation


class GroupRepayment(BaseModel):
    id: str = Field(description="the group repayment's id")
    group_loan_id: str
    paid_on: IsoDate
    amount: Amount = Field(description="the parts together")
    parts: list[GroupRepaymentPart]
