from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictStr, model_validator

from gateway.schema import Amount, DecimalString, Strict

CollateralType = Literal[
    "land",
    "building",
    "vehicle",
    "livestock",
    "equipment",
    "household_goods",
    "inventory",
    "savings",
    "other",
]


class GuarantorBody(Strict):
    borrower_id: StrictStr | None = Field(
        None, description="a registered borrower of the institution (not the loan's own)"
    )
    full_name: StrictStr | None = Field(None, max_length=160, description="an outside person")
    national_id: StrictStr | None = Field(None, max_length=25)
    phone: StrictStr | None = Field(None, max_length=20, description="E.164")
    amount: DecimalString = Field(description="the amount guaranteed, in the loan's currency")

    @model_validator(mode="after")
    def _who(self) -> GuarantorBody:
        if self.borrower_id is None and self.full_name is None:
            raise ValueError("give `borrower_id`, or `full_name`, `national_id` and `phone`")
        return self


class Guarantor(BaseModel):
    id: str
    borrower_id: str | None = Field(description="null for an outside person")
    full_name: str | None = Field(description="an outside person's; null for a borrower")
    national_id: str | None
    phone: str | None
    amount: Amount


class CollateralBody(Strict):
    type: CollateralType
    description: StrictStr = Field(min_length=1, max_length=500)
    value: DecimalString = Field(description="the estimated value")
    currency: StrictStr | None = Field(None, description="default: the loan's (which it must be)")
    location: StrictStr | None = Field(None, max_length=300, description="where it is kept")
    document_ids: list[StrictStr] = Field(
        default_factory=list, description="the borrower's documents that support it"
    )


class Collateral(BaseModel):
    id: str
    type: CollateralType
    description: str
    value: Amount
    currency: str
    location: str | None
    document_ids: list[str]


class Securities(BaseModel):
    guarantors: list[Guarantor]
    collateral: list[Collateral]
    coverage: Amount = Field(description="guarantees and collateral together")
    required: Amount = Field(description="what the product requires; 0 when it has no rule")
