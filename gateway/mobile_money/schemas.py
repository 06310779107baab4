"""A mobile-money provider's paybill callback and the gateway's answer to it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.repayments.schemas import Repayment
from gateway.schema import Amount, Timestamp


class MobileMoneyCallback(BaseModel):
    """The JSON body a provider POSTs (payment_service parses it, after checking the signature
    over the exact bytes received). Unknown fields are ignored; duplicate keys and values that
    are not strings are refused, each bad field named (422 `CALLBACK_INVALID`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "QK7Y2ZX1",
                    "account_reference": "loan_0194a1f3c2e07d3b9a41c8e2f5",
                    "msisdn": "+254712345678",
                    "amount": "1500.00",
                    "currency": "KES",
                    "transacted_at": "2026-03-31T09:15:02Z",
                }
            ]
        }
    )

    transaction_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="the provider's id of the transaction: a callback delivered again books "
        "nothing twice; the same id with other details is 409 `IDEMPOTENCY_KEY_REUSED`",
    )
    account_reference: str = Field(
        min_length=1,
        max_length=64,
        description="what the payer typed as the account number: the loan's id (case and "
        "surrounding spaces ignored)",
    )
    msisdn: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="the payer's phone, E.164")
    amount: Amount
    currency: str = Field(description="ISO 4217; must be the institution's")
    transacted_at: Timestamp = Field(description="RFC 3339 with an offset")
    provider: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="the provider's name (default `paybill`); transaction ids are unique per "
        "provider",
    )


class MobileMoneyReceipt(BaseModel):
    """The callback was authentic and the money is booked: posted to the loan its reference
    names, or held in suspense."""

    result: Literal["accepted"]
    replayed: bool = Field(description="true for a callback already received: nothing new")
    payment: Repayment = Field(
        description="`posted` to the matched loan, or `suspense` (no `loan_id`) when the "
        "reference matched no single active loan"
    )
