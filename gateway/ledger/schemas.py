from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Amount, IsoDate, Strict


class Account(Strict):
    """An account of the institution's chart of accounts: the system accounts every
    institution starts with (1000 cash, 1100 loan portfolio, 4000 interest income...) and
    those its administrators add."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "6100", "name": "Staff salaries", "type": "expense"}]
        }
    )

    code: StrictStr = Field(pattern=r"^[0-9]{3,10}$", description="3 to 10 digits, unique")
    name: StrictStr = Field(min_length=1, max_length=100)
    type: Literal["asset", "liability", "equity", "income", "expense"] = Field(
        description="decides the account's normal side: debit for assets and expenses, credit "
        "for liabilities, equity and income"
    )


class TrialBalanceLine(BaseModel):
    account_code: str
    account_name: str
    debit: Amount = Field(description="the sum of the account's debits")
    credit: Amount = Field(description="the sum of the account's credits")
    balance: Amount = Field(
        description="debits less credits on the account's normal side (an asset with more "
        "debits than credits is positive, a liability with more credits is positive)"
    )


class TrialBalance(BaseModel):
    """Every account's debits, credits and balance; the totals are equal when the books
    balance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-03-31",
                    "currency": "KES",
                    "lines": [
                        {
                            "account_code": "1000",
                            "account_name": "Cash",
                            "debit": "2800.00",
                            "credit": "10000.00",
                            "balance": "-7200.00",
                        },
                        {
                            "account_code": "1100",
                            "account_name": "Loan portfolio",
                            "debit": "10000.00",
                            "credit": "2500.00",
                            "balance": "7500.00",
                        },
                        {
                            "account_code": "4000",
                            "account_name": "Interest income",
                            "debit": "0.00",
                            "credit": "300.00",
                            "balance": "300.00",
                        },
                    ],
                    "total_debit": "12800.00",
                    "total_credit": "12800.00",
                }
            ]
        }
    )

    as_of: IsoDate | None = Field(description="the date asked for; null for every entry so far")
    currency: str = Field(description="ISO 4217")
    lines: list[TrialBalanceLine]
    total_debit: Amount
    total_credit: Amount


class LedgerLine(BaseModel):
    """One journal entry's movement on an account (general ledger) or on a loan (statement)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entry_id": "repayment:pay_019d2e5f3c4d5e6f708192a3b4c5",
                    "date": "2026-03-31",
                    "memo": "Repayment pay_019d2e5f3c4d5e6f708192a3b4c5 of loan "
                    "loan_019d2d4e2b3c4d5e6f708192a3b4",
                    "debit": "0.00",
                    "credit": "2500.00",
                    "running_balance": "7500.00",
                    "source_kind": "repayment",
                    "source_id": "pay_019d2e5f3c4d5e6f708192a3b4c5",
                }
            ]
        }
    )

    entry_id: str
    date: IsoDate = Field(description="the entry's accounting date")
    memo: str
    debit: Amount
    credit: Amount
    running_balance: Amount
    source_kind: str = Field(
        description="what caused the entry: disbursement, repayment, interest_accrual, "
        "penalty_charge, write_off, unidentified_receipt, suspense_assignment, "
        "suspense_return, overpayment_refund, reversal..."
    )
    source_id: str = Field(description="the id of what caused it (a loan, a payment); may be empty")
