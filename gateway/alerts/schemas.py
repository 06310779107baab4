"""Alert rules of an institution and the alert queue they fill."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from gateway.identity.schemas import InstitutionRole
from gateway.schema import Amount, Count, DecimalString, Ratio, Strict, Timestamp
from shared.errors import ValidationError
from shared.money import check_amount_text

Trigger = Literal[
    "days_past_due", "branch_par30", "suspense_age", "webhook_failed", "large_disbursement"
]
AlertChannel = Literal["email", "webhook"]
AlertStatus = Literal["open", "acknowledged", "resolved"]

RATIO_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,10})?$"

TRIGGERS = (
    "`days_past_due`: a loan's days past due reach `days` (once per spell of arrears); "
    "`branch_par30`: a branch's PAR30 reaches `ratio` at a close of business; "
    "`suspense_age`: a payment held in suspense `hours` without being assigned; "
    "`webhook_failed`: a webhook endpoint disabled after persistent failure; "
    "`large_disbursement`: a loan disbursed with a principal of at least `amount`"
)


class AlertRuleBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120, examples=["PAR30 above 5%"])
    trigger: Trigger = Field(description=TRIGGERS)
    days: Count | None = Field(None, description="for `days_past_due`")
    ratio: StrictStr | None = Field(
        None,
        description="for `branch_par30`: a fraction as a decimal string (`0.05` is 5%)",
        json_schema_extra={"pattern": RATIO_PATTERN},
        examples=["0.05"],
    )
    hours: Count | None = Field(None, description="for `suspense_age`")
    amount: DecimalString | None = Field(
        None, description="for `large_disbursement`: in the institution's currency"
    )
    roles: list[InstitutionRole] = Field(
        default_factory=list,
        max_length=10,
        description="who sees its alerts besides the admins, who always do",
    )
    branch_ids: list[StrictStr] = Field(
        default_factory=list, max_length=200, description="only these branches; [] for every one"
    )
    channels: list[AlertChannel] = Field(
        default_factory=list,
        max_length=2,
        description="besides the console's queue: `email` to the staff who see the alert, "
        "`webhook` as `alert.raised` to the endpoints subscribed",
    )
    enabled: StrictBool = True

    @field_validator("ratio")
    @classmethod
    def _ratio_is_decimal(cls, ratio: str | None) -> str | None:
        if ratio is not None and not re.fullmatch(RATIO_PATTERN, ratio):
            raise ValueError('must be a fraction as a decimal string such as "0.05"')
        return ratio

    @field_validator("amount")
    @classmethod
    def _amount_is_positive(cls, amount: str | None) -> str | None:
        if amount is not None:
            try:
                check_amount_text(amount, "amount")
            except ValidationError as exc:
                raise ValueError(exc.field_errors[0][1]) from None
        return amount


class AlertRule(BaseModel):
    """What raises an alert, and who sees it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "alr_019d2c6a1b3d5f7a9c1e3a5c7e9a",
                    "name": "PAR30 above 5%",
                    "trigger": "branch_par30",
                    "days": None,
                    "ratio": "0.05",
                    "hours": None,
                    "amount": None,
                    "roles": ["branch_manager", "risk_officer"],
                    "branch_ids": [],
                    "channels": ["email"],
                    "enabled": True,
                    "create_time": "2026-03-31T09:30:00.123Z",
                    "created_by": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                }
            ]
        }
    )

    id: str
    name: str
    trigger: Trigger
    days: int | None = Field(description="the threshold of `days_past_due`")
    ratio: Ratio | None = Field(description="the threshold of `branch_par30`")
    hours: int | None = Field(description="the threshold of `suspense_age`")
    amount: Amount | None = Field(description="the threshold of `large_disbursement`")
    roles: list[str] = Field(description="who sees its alerts besides the admins")
    branch_ids: list[str] = Field(description="[] for every branch")
    channels: list[AlertChannel]
    enabled: bool
    create_time: Timestamp
    created_by: str


class AlertStep(BaseModel):
    action: str = Field(description="`raised`, `assigned`, `acknowledged` or `resolved`")
    actor_id: str | None = Field(description="the staff member; null for the platform")
    time: Timestamp
    note: str | None
    assignee_id: str | None = Field(description="for `assigned`")


class Alert(BaseModel):
    """Something staff should act on, with who did what about it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "alt_019d2c6b2c4e6a8c0e2a4c6e8a0c",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "rule_id": "alr_019d2c6a1b3d5f7a9c1e3a5c7e9a",
                    "trigger": "days_past_due",
                    "title": "Loan loan_019d2b8f is 30 days past due",
                    "detail": "Achieng Odhiambo owes KES 2,080.52 since 2026-03-01.",
                    "subject_type": "loan",
                    "subject_id": "loan_019d2b8f0c1e3a5c7e9a1c3e5a7c",
                    "status": "acknowledged",
                    "assignee_id": "usr_019d2a2b3c4d5e6f7a8b9c0d1e2f",
                    "roles": ["branch_manager"],
                    "history": [
                        {
                            "action": "raised",
                            "actor_id": None,
                            "time": "2026-03-31T18:00:02.000Z",
                            "note": None,
                            "assignee_id": None,
                        },
                        {
                            "action": "assigned",
                            "actor_id": "usr_019d2a1a2b3c4d5e6f7a8b9c0d1e",
                            "time": "2026-04-01T08:10:00.000Z",
                            "note": "please visit her this week",
                            "assignee_id": "usr_019d2a2b3c4d5e6f7a8b9c0d1e2f",
                        },
                        {
                            "action": "acknowledged",
                            "actor_id": "usr_019d2a2b3c4d5e6f7a8b9c0d1e2f",
                            "time": "2026-04-01T08:30:00.000Z",
                            "note": None,
                            "assignee_id": None,
                        },
                    ],
                    "create_time": "2026-03-31T18:00:02.000Z",
                    "update_time": "2026-04-01T08:30:00.000Z",
                }
            ]
        }
    )

    id: str
    branch_id: str | None = Field(description="null for an alert about no branch")
    rule_id: str
    trigger: Trigger
    title: str
    detail: str
    subject_type: str = Field(
        description="what it is about: `loan`, `branch`, `payment` or `webhook_endpoint`"
    )
    subject_id: str
    status: AlertStatus
    assignee_id: str | None
    roles: list[str] = Field(description="the roles that see it (from its rule), admins besides")
    history: list[AlertStep] = Field(description="oldest first")
    create_time: Timestamp
    update_time: Timestamp | None = Field(description="of the last step; null before any")


class NoteBody(Strict):
    note: StrictStr = Field("", max_length=1000)


class AlertAssignBody(Strict):
    assignee_id: StrictStr = Field(min_length=1, description="a staff member of the institution")
    note: StrictStr = Field("", max_length=1000)
