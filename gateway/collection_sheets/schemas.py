"""A field agent's collection sheet: who should pay what on a day."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.schema import Amount, IsoDate

_ITEM: dict[str, Any] = {
    "loan_id": "loan_0194a1f3c2e07d3b9a41c8e2f5",
    "borrower_id": "bor_0194a1e9b0d2f4c6e8a0b2c4d6",
    "borrower_name": "Achieng Odhiambo",
    "group_id": "grp_019d2b7e2f4a6c8e0a2c4e6a8c0e",
    "group_name": "Tumaini women's group",
    "center_id": "ctr_019d2b7a0c2e4a6c8e0a2c4e6a8c",
    "phone": "+254712345678",
    "installment_number": 2,
    "due_date": "2026-03-15",
    "amount_due": "1040.26",
    "arrears": "1040.26",
    "days_past_due": 16,
}


class CollectionSheetItem(BaseModel):
    """An installment due and not fully paid, with whom to collect it from."""

    loan_id: str
    borrower_id: str
    borrower_name: str = Field(description="first and last name")
    group_id: str | None = Field(description="the borrower's group; null for an individual")
    group_name: str | None = Field(description="null for an individual")
    center_id: str | None = Field(
        None,
        description="the centre the group attends; null when none (the sheet is in "
        "order of centre, group, borrower)",
    )
    phone: str = Field(description="E.164")
    installment_number: int = Field(description="1 for the loan's first installment")
    due_date: IsoDate
    amount_due: Amount = Field(description="what remains to pay of it, penalties included")
    arrears: Amount = Field(
        description="the loan's total overdue on the sheet's date: what remains to pay of its "
        "installments due before that day"
    )
    days_past_due: int = Field(
        description="the loan's, on the sheet's date (of its oldest installment not paid)"
    )


class CollectionSheet(BaseModel):
    """The installments to collect on `date`, by group (individuals last), borrower name and
    due date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-03-31",
                    "currency": "KES",
                    "items": [
                        _ITEM,
                        {
                            **_ITEM,
                            "installment_number": 3,
                            "due_date": "2026-03-31",
                            "amount_due": "1040.27",
                        },
                    ],
                }
            ]
        }
    )

    date: IsoDate
    currency: str | None = Field(description="ISO 4217, the institution's; null when empty")
    items: list[CollectionSheetItem]
