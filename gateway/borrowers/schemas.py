from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Int32, Int64, IsoDate, Strict, Timestamp

# The identity fields (names, national ID, phone, birth date), gender, income and household
# size stay plain strings and integers here: user_service checks them together and names every
# bad one in a single 422, which a refusal of one of them by pydantic would cut short. The
# birth date, gender and income travel typed (kopa.user.v2), so the router reads their text
# and refuses malformed text itself, naming each such field at once in user_service's words;
# a body with one of those also wrong elsewhere (a bad phone) gets only those named first.

GENDERS = "female, male, other or undisclosed"


class Address(Strict):
    """A postal address; each part is free text, kept to its first 120 characters, and
    empty when unknown."""

    line1: StrictStr = ""
    line2: StrictStr = ""
    city: StrictStr = ""
    region: StrictStr = ""
    country: StrictStr = ""


class BorrowerBody(Strict):
    first_name: StrictStr = Field(max_length=80, description="1 to 80 characters, no digits")
    last_name: StrictStr = Field(max_length=80, description="1 to 80 characters, no digits")
    national_id: StrictStr = Field(
        max_length=40,
        description="5 to 25 letters or digits (single hyphens or spaces allowed); unique in "
        "the institution",
    )
    phone: StrictStr = Field(max_length=32, description="E.164, e.g. +254712345678")
    date_of_birth: StrictStr = Field(
        description="ISO 8601 date (`YYYY-MM-DD`); the borrower must be at least 18",
        examples=["1988-04-30"],
    )
    branch_id: StrictStr | None = Field(
        None, description="the branch the borrower belongs to; default: the caller's branch"
    )
    agent_id: StrictStr | None = Field(
        None, description="the loan officer in charge; default: the caller when an agent"
    )
    gender: StrictStr | None = Field(None, description=GENDERS)
    monthly_income: StrictStr | None = Field(
        None, description="a non-negative decimal string", examples=["25000.00"]
    )
    business_type: StrictStr | None = Field(None, max_length=80)
    household_size: Int32 | None = Field(None, description="1 to 50")
    address: Address | None = None
    document_refs: list[StrictStr] | None = Field(
        None, description="references to KYC documents, at most 20 of 300 characters"
    )


class BorrowerPatch(Strict):
    """Only the fields sent are checked and changed."""

    first_name: StrictStr | None = Field(None, max_length=80)
    last_name: StrictStr | None = Field(None, max_length=80)
    national_id: StrictStr | None = Field(None, max_length=40)
    phone: StrictStr | None = Field(None, max_length=32, description="E.164")
    date_of_birth: StrictStr | None = Field(None, description="ISO 8601 date")
    gender: StrictStr | None = Field(None, description=GENDERS)
    monthly_income: StrictStr | None = Field(None, description="a non-negative decimal string")
    business_type: StrictStr | None = Field(None, max_length=80)
    household_size: Int32 | None = None
    address: Address | None = None
    document_refs: list[StrictStr] | None = None
    expected_version: Int64 | None = Field(
        None,
        description="the `version` you read: if the borrower changed since, the edit is "
        "refused (422 naming this field and the current version); omit it to skip the check",
    )


class ConsentBody(Strict):
    kind: StrictStr = Field(max_length=80, description="what was agreed, e.g. credit_check")
    text_version: StrictStr = Field(
        "", max_length=40, description="the version of the consent text the borrower saw"
    )


class TransferBody(Strict):
    branch_id: StrictStr | None = Field(None, description="the new branch; omit to keep it")
    agent_id: StrictStr | None = Field(None, description="the new loan officer; omit to keep")
    reason: StrictStr = Field(max_length=500)


class Consent(BaseModel):
    kind: str = Field(description="what was agreed, e.g. credit_check")
    text_version: str = Field(description="the version of the consent text; may be empty")
    time: Timestamp
    recorded_by: str = Field(description="the user who recorded it")


class Assignment(BaseModel):
    """One entry of the borrower's branch and loan-officer history."""

    branch_id: str
    agent_id: str = Field(description="empty when no loan officer was assigned")
    time: Timestamp
    changed_by: str = Field(description="the user who made the change")
    reason: str = Field(description="`registered` for the first entry")


class Borrower(BaseModel):
    """A borrower's KYC profile. Every edit raises `version` and is kept in the versions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "agent_id": "usr_019d2a1244a6b8c0d2e4f6a8b0c2",
                    "first_name": "Achieng",
                    "last_name": "Otieno",
                    "national_id": "K123456789",
                    "phone": "+254712345678",
                    "date_of_birth": "1988-04-30",
                    "gender": "female",
                    "address": {
                        "line1": "Stall 14, Gikomba market",
                        "line2": "",
                        "city": "Nairobi",
                        "region": "Nairobi",
                        "country": "KE",
                    },
                    "business_type": "retail",
                    "monthly_income": "25000.00",
                    "household_size": 4,
                    "document_refs": [],
                    "kyc_status": "verified",
                    "consents": [
                        {
                            "kind": "credit_check",
                            "text_version": "2026-01",
                            "time": "2026-03-31T09:30:00.123Z",
                            "recorded_by": "usr_019d2a1244a6b8c0d2e4f6a8b0c2",
                        }
                    ],
                    "assignments": [
                        {
                            "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                            "agent_id": "usr_019d2a1244a6b8c0d2e4f6a8b0c2",
                            "time": "2026-03-31T09:30:00.123Z",
                            "changed_by": "usr_019d2a1244a6b8c0d2e4f6a8b0c2",
                            "reason": "registered",
                        }
                    ],
                    "group_id": None,
                    "version": 2,
                    "create_time": "2026-03-31T09:30:00.123Z",
                    "update_time": "2026-03-31T09:31:12.045Z",
                }
            ]
        }
    )

    id: str
    institution_id: str
    branch_id: str
    agent_id: str | None = Field(description="the loan officer in charge; null when none")
    first_name: str
    last_name: str
    national_id: str = Field(description="upper case, as normalised on entry")
    phone: str = Field(description="E.164")
    date_of_birth: IsoDate
    gender: Literal["female", "male", "other", "undisclosed"] | None
    address: Address
    business_type: str | None
    monthly_income: str | None = Field(
        description="a decimal string in major units of the institution's currency"
    )
    household_size: int | None
    document_refs: list[str]
    kyc_status: Literal["unverified", "pending_review", "verified", "rejected"] = Field(
        description="`unverified` when registered; set by `PUT /v1/borrowers/{id}/kyc-status`"
    )
    consents: list[Consent] = Field(description="every consent recorded, oldest first")
    assignments: list[Assignment] = Field(description="branch and agent history, oldest first")
    group_id: str | None = Field(description="the joint-liability group; null when none")
    version: int = Field(description="1 when registered; raised by every change")
    create_time: Timestamp
    update_time: Timestamp


class BorrowerHit(BaseModel):
    """A search result: the borrower's identifying fields only (`GET /v1/borrowers/{id}` for
    the profile)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "first_name": "Achieng",
                    "last_name": "Otieno",
                    "national_id": "K123456789",
                    "phone": "+254712345678",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                }
            ]
        }
    )

    id: str
    first_name: str
    last_name: str
    national_id: str
    phone: str
    branch_id: str


class BorrowerVersion(BaseModel):
    """One edit of a borrower's profile."""

    version: int = Field(description="the borrower's version this edit made")
    time: Timestamp
    changed_by: str = Field(description="the user who made the edit")
    changes: dict[str, list[Any]] = Field(
        description="field -> [old value, new value]",
        examples=[{"phone": ["+254712345678", "+254722000111"]}],
    )


class KycStatusBody(Strict):
    status: Literal["pending_review", "verified", "rejected"] = Field(
        description="`pending_review` to ask for a review (anyone who may edit the borrower); "
        "`verified` or `rejected` after reviewing the file (a branch manager or an admin, "
        "other than whoever registered the borrower)"
    )
    note: StrictStr | None = Field(None, max_length=500, description="why; kept in the versions")
