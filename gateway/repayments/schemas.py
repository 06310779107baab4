"""A payment of a loan (a repayment, a refund of credit, or a mobile-money receipt) and the
requests that record one."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.convert import from_proto
from gateway.loans.schemas import Allocation, Channel, LoanStatus, Outstanding
from gateway.schema import Amount, DecimalString, IsoDate, Strict, Timestamp
from kopa.payment.v2 import repayments_pb2

PaymentStatus = Literal["pending", "posted", "reversed", "failed", "suspense"]


class Repayment(BaseModel):
    """Money in (or, for a refund, out) for a loan. `status`: `pending` while it is being
    applied, `posted` once applied to the loan (and booked), `reversed` when undone,
    `failed` when the loan refused it, `suspense` for a receipt not yet matched to a loan."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "pay_0194e6a1b3c5d7e9f1a3b5c7d9",
                    "loan_id": "loan_0194a1f3c2e07d3b9a41c8e2f5",
                    "amount": "1040.26",
                    "currency": "KES",
                    "paid_on": "2026-02-14",
                    "channel": "cash",
                    "reference": "receipt 0042",
                    "status": "posted",
                    "allocation": {
                        "principal": "980.26",
                        "interest": "60.00",
                        "fees": "0.00",
                        "penalties": "0.00",
                        "overpayment": "0.00",
                    },
                    "outstanding": {
                        "principal": "2019.74",
                        "interest": "0.00",
                        "fees": "0.00",
                        "penalties": "0.00",
                        "total": "2019.74",
                    },
                    "loan_status": "active",
                    "recorded_by": "usr_0193f0b5c2a4e6d8f0b2d4f6a8",
                    "reversal_reason": None,
                    "created_at": "2026-02-14T11:20:31.530Z",
                }
            ]
        }
    )

    id: str
    loan_id: str = Field(description="empty for a receipt waiting in suspense")
    amount: Amount
    currency: str
    paid_on: IsoDate = Field(description="the date the money changed hands")
    channel: Channel
    reference: str | None = Field(
        description="the payer's reference (a receipt number; for mobile money, the account "
        "reference the payer typed)"
    )
    status: PaymentStatus
    allocation: Allocation = Field(description="every part empty until applied to the loan")
    outstanding: Outstanding = Field(description="the loan's balance after this payment")
    loan_status: LoanStatus | None = Field(
        description="the loan's status after this payment (`closed` when it paid the loan in "
        "full); null until applied"
    )
    recorded_by: str = Field(description="the user who recorded it; empty for a callback's")
    reversal_reason: str | None
    created_at: Timestamp | None

    @classmethod
    def of(cls, payment: repayments_pb2.Payment) -> Repayment:
        created = payment.create_time.ToJsonString() if payment.HasField("create_time") else None
        return from_proto(cls, payment, created_at=created, currency=payment.amount.currency_code)


class RepaymentBody(Strict):
    amount: DecimalString = Field(description="greater than zero")
    paid_on: IsoDate = Field(description="past dates are accepted (back-office entry)")
    reference: StrictStr | None = Field(None, max_length=120)
    channel: Channel = "cash"


class ReversalBody(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)
