"""Institutions (the tenants of the platform), their security policy and their lending
settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.identity.schemas import InstitutionRole
from gateway.schema import Amount, Count, IsoDate, Strict, Timestamp


class InstitutionBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120, examples=["Umoja Microfinance"])
    currency: StrictStr = Field(
        min_length=3,
        max_length=3,
        description="ISO 4217: every amount of the institution is in it",
        examples=["KES"],
    )


class Institution(BaseModel):
    """A microfinance institution: its staff, borrowers, loans and books are its own, and
    nobody outside it sees them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "name": "Umoja Microfinance",
                    "currency": "KES",
                }
            ]
        }
    )

    id: str
    name: str
    currency: str = Field(description="ISO 4217, upper case")


class SecurityPolicyBody(Strict):
    mfa_required_roles: list[InstitutionRole] = Field(
        max_length=20,
        description="The staff roles that must sign in with two-factor authentication "
        "([] requires it of nobody). A user of such a role who has not enrolled yet can still "
        "log in, but only to enrol: the login answers `mfa_enrolment_required: true` and every "
        "other call is 403 MFA_ENROLMENT_REQUIRED until they enrol and refresh. Open sessions "
        "are held to the new policy from their next refresh.",
        examples=[["admin", "branch_manager"]],
    )


class SecurityPolicy(BaseModel):
    """Who must sign in to the institution with a second factor."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "mfa_required_roles": ["admin", "branch_manager"],
                    "update_time": "2026-03-02T07:51:40.220Z",
                    "updated_by": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                }
            ]
        }
    )

    institution_id: str
    mfa_required_roles: list[InstitutionRole] = Field(description="sorted; [] for nobody")
    update_time: Timestamp | None = Field(description="null until the policy is first set")
    updated_by: str | None = Field(description="the user who last replaced it")


class BucketBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=40, examples=["1-30"])
    min_days: Count = Field(description="days past due, from")
    max_days: Count | None = Field(
        None, description="days past due, up to and including; null for the last bucket"
    )


class LoanSettingsBody(Strict):
    approval_limits: dict[StrictStr, StrictStr | None] | None = Field(
        None,
        description="The largest principal each approving role (`branch_manager`, `admin`) "
        "may approve, as a decimal string in the institution's currency; null or a role left "
        "out: no limit. Omit the field to leave the limits unchanged.",
        examples=[{"branch_manager": "500000.00", "admin": None}],
    )
    delinquency_buckets: list[BucketBody] | None = Field(
        None,
        max_length=20,
        description="Contiguous from 0 days past due, the last open-ended (max_days null). "
        "Every active loan is reclassified by the next close of business. Omit the field to "
        "leave the buckets unchanged (default: current, 1-30, 31-60, 61-90, 91-180, over_180).",
    )


class DelinquencyBucket(BaseModel):
    """A class of loans by days past due (the classification history of a loan names them)."""

    name: str
    min_days: int = Field(description="days past due, from")
    max_days: int | None = Field(
        description="days past due, up to and including; null for the last bucket"
    )


class LoanSettings(BaseModel):
    """How the institution lends: who may approve how much, how late loans are classified,
    and how far the daily close of business has run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "approval_limits": {"admin": None, "branch_manager": "500000.00"},
                    "delinquency_buckets": [
                        {"name": "current", "min_days": 0, "max_days": 0},
                        {"name": "1-30", "min_days": 1, "max_days": 30},
                        {"name": "31-60", "min_days": 31, "max_days": 60},
                        {"name": "61-90", "min_days": 61, "max_days": 90},
                        {"name": "91-180", "min_days": 91, "max_days": 180},
                        {"name": "over_180", "min_days": 181, "max_days": None},
                    ],
                    "business_date": "2026-03-30",
                }
            ]
        }
    )

    institution_id: str
    approval_limits: dict[str, Amount | None] = Field(
        description="per approving role (`admin`, `branch_manager`), the largest principal it "
        "may approve; null: no limit"
    )
    delinquency_buckets: list[DelinquencyBucket] = Field(
        description="contiguous from 0 days past due, the last open-ended"
    )
    business_date: IsoDate | None = Field(
        description="the last date the close of business completed; null before the first"
    )
