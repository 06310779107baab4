from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schema import Amount, IsoDate, Ratio


class PortfolioReport(BaseModel):
    """Portfolio quality as of a date, as defined by the SEEP/CGAP guidelines."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-03-31",
                    "currency": "KES",
                    "active_loans": 412,
                    "gross_portfolio": "8240500.00",
                    "par1": "0.0811",
                    "par30": "0.0376",
                    "par60": "0.0214",
                    "par90": "0.0122",
                    "disbursed": "14650000.00",
                    "repaid": "7120340.50",
                }
            ]
        }
    )

    as_of: IsoDate = Field(description="the date asked for, or today")
    currency: str = Field(description="ISO 4217")
    active_loans: int = Field(description="loans disbursed by `as_of` and still active")
    gross_portfolio: Amount = Field(description="the principal outstanding of active loans")
    par1: Ratio = Field(
        description="portfolio at risk over 1 day: the whole outstanding principal of active "
        "loans with an installment more than 1 day late (or rescheduled), over the gross "
        "portfolio"
    )
    par30: Ratio = Field(description="the same, more than 30 days late")
    par60: Ratio = Field(description="the same, more than 60 days late")
    par90: Ratio = Field(description="the same, more than 90 days late")
    disbursed: Amount = Field(description="principal of every loan disbursed by `as_of`")
    repaid: Amount = Field(description="repayments received by `as_of`, reversed ones excluded")


class PortfolioGroup(BaseModel):
    """One centre's or group's share of the active portfolio (each member loan once)."""

    key: str | None = Field(description="the centre's or group's id; null for the other loans")
    active_loans: int
    gross_portfolio: Amount
    par1: Ratio
    par30: Ratio
    par60: Ratio
    par90: Ratio


class GroupedPortfolioReport(PortfolioReport):
    """The portfolio report with the active portfolio per centre or group (`group_by`)."""

    groups: list[PortfolioGroup] = Field(description="largest portfolio first")


class ArrearsLine(BaseModel):
    loan_id: str
    borrower_id: str
    borrower_name: str = Field(
        description="the borrower's full name; empty for a borrower not indexed yet"
    )
    branch_id: str
    days_past_due: int = Field(description="days since the oldest unpaid installment fell due")
    overdue_principal: Amount = Field(description="principal of the installments due and unpaid")
    overdue_interest: Amount
    overdue_total: Amount = Field(description="the installments' totals due and unpaid")
    outstanding_principal: Amount = Field(description="the whole principal still owed")
    bucket: str = Field(
        description="the loan's delinquency bucket (e.g. `31-60`) at the last close of "
        "business; empty before the first"
    )


class ArrearsReport(BaseModel):
    """Active loans with an installment unpaid after its due date, most days past due first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-03-31",
                    "currency": "KES",
                    "items": [
                        {
                            "loan_id": "loan_019d2d4e2b3c4d5e6f708192a3b4",
                            "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                            "borrower_name": "Achieng Odhiambo",
                            "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                            "days_past_due": 53,
                            "overdue_principal": "2500.00",
                            "overdue_interest": "92.31",
                            "overdue_total": "2592.31",
                            "outstanding_principal": "10000.00",
                            "bucket": "31-60",
                        }
                    ],
                }
            ]
        }
    )

    as_of: str = Field(description="`as_of` as asked; empty when not given (today)")
    currency: str = Field(description="ISO 4217")
    items: list[ArrearsLine]


class TrendsRow(BaseModel):
    date: IsoDate = Field(
        description="the period's first day: the day itself by day; the first of the month "
        "by month (`from` for the first row when it is not a first)"
    )
    gross_portfolio: Amount = Field(
        description="principal outstanding at the end of the period's last day (or of `to`), "
        "as it stood that day; loans written off before then are out"
    )
    par1: Ratio = Field(
        description="portfolio at risk over 1 day on that same day, as in the portfolio "
        "report: the whole outstanding principal of loans whose oldest unpaid installment was "
        "then more than 1 day late (or rescheduled by then), over `gross_portfolio`; 0 when "
        "that is 0"
    )
    par30: Ratio = Field(description="the same, more than 30 days late")
    par90: Ratio = Field(description="the same, more than 90 days late")
    disbursed: Amount = Field(description="principal of the loans disbursed within the period")
    collected: Amount = Field(
        description="repayments paid within the period (by their `paid_on`), every component "
        "(principal, interest, fees, penalties, overpayment), reversed ones excluded"
    )


class TrendsReport(BaseModel):
    """The portfolio over time, one row per period, oldest first."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "currency": "KES",
                    "interval": "month",
                    "from": "2026-01-15",
                    "to": "2026-03-31",
                    "items": [
                        {
                            "date": "2026-01-15",
                            "gross_portfolio": "8010200.00",
                            "par1": "0.0790",
                            "par30": "0.0351",
                            "par90": "0.0120",
                            "disbursed": "1250000.00",
                            "collected": "610420.00",
                        },
                        {
                            "date": "2026-02-01",
                            "gross_portfolio": "8120950.00",
                            "par1": "0.0802",
                            "par30": "0.0366",
                            "par90": "0.0118",
                            "disbursed": "2400000.00",
                            "collected": "1301880.50",
                        },
                        {
                            "date": "2026-03-01",
                            "gross_portfolio": "8240500.00",
                            "par1": "0.0811",
                            "par30": "0.0376",
                            "par90": "0.0122",
                            "disbursed": "2150000.00",
                            "collected": "1998003.25",
                        },
                    ],
                }
            ]
        },
    )

    currency: str = Field(description="ISO 4217")
    interval: Literal["day", "month"] = Field(description="the length of the periods")
    from_: IsoDate = Field(alias="from", description="the first day, as asked or by default")
    to: IsoDate = Field(description="the last day, as asked or today")
    items: list[TrendsRow]
