"""Institutions (the tenants of the platform), their security policy, their lending settings
and their clock."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
)

from gateway.identity.schemas import InstitutionRole
from gateway.notifications.schemas import Language
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


LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _local_time(value: str) -> str:
    if not re.fullmatch(LOCAL_TIME_PATTERN, value):
        raise ValueError("must be a local time HH:MM, 00:00 to 23:59")
    return value


LocalTime = Annotated[
    StrictStr,
    AfterValidator(_local_time),
    Field(json_schema_extra={"pattern": LOCAL_TIME_PATTERN}),
]
"""A local time of day, `HH:MM` (24 hours), refused with a message saying so (a pattern's own
message would only quote the pattern)."""


class ScheduleBody(Strict):
    time_zone: StrictStr = Field(
        max_length=64, description="IANA time zone", examples=["Africa/Nairobi"]
    )
    close_of_business_time: LocalTime = Field(
        description="local `HH:MM`: each day's close of business runs then", examples=["18:00"]
    )
    reminder_days_before: Count = Field(
        le=30, description="reminders go out this many days before each due date (0: none)"
    )
    quiet_hours_start: LocalTime | None = Field(
        None,
        description="local `HH:MM`: messages falling between start and end wait until the end; "
        "both null: no quiet hours",
        examples=["20:00"],
    )
    quiet_hours_end: LocalTime | None = Field(None, examples=["07:00"])
    default_language: Language = Field("en", description="the language of borrowers who chose none")
    enabled: StrictBool = Field(
        True, description="false: the close of business runs only when someone asks for it"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Africa/Nairobi") from None
        return name


class Schedule(BaseModel):
    """The institution's clock: when its day closes, when reminders go out and when nobody is
    messaged, with the last close of business and the next."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "time_zone": "Africa/Nairobi",
                    "close_of_business_time": "18:00",
                    "reminder_days_before": 2,
                    "quiet_hours_start": "20:00",
                    "quiet_hours_end": "07:00",
                    "default_language": "sw",
                    "enabled": True,
                    "last_run": "2026-03-30T15:00:04.512Z",
                    "last_business_date": "2026-03-30",
                    "next_run": "2026-03-31T15:00:00Z",
                    "next_business_date": "2026-03-31",
                    "update_time": "2026-03-02T07:51:40.220Z",
                }
            ]
        }
    )

    institution_id: str
    time_zone: str
    close_of_business_time: str
    reminder_days_before: int
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    default_language: Language
    enabled: bool
    last_run: Timestamp | None = Field(description="when the last close of business ran")
    last_business_date: IsoDate | None = Field(description="the date it closed")
    next_run: Timestamp | None = Field(description="null while the schedule is disabled")
    next_business_date: IsoDate | None = Field(description="the date it will close")
    update_time: Timestamp | None = Field(description="null until first set")
