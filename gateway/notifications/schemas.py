"""Messages to borrowers (SMS and email), the templates they are rendered from and each
borrower's choices about them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StrictStr

from gateway.schema import Strict, Timestamp

MessageChannel = Literal["sms", "email"]
"""Where a message to a borrower goes."""

TemplateKind = Literal[
    "installment_due",
    "installment_overdue",
    "repayment_received",
    "loan_disbursed",
    "loan_approved",
    "loan_rejected",
]
"""What a message is about: one template per kind, channel and language."""

Language = Literal["en", "sw"]
"""The languages messages are written in (BCP 47 primary subtags)."""

MessageStatus = Literal["queued", "sent", "delivered", "failed", "suppressed"]


class Notification(BaseModel):
    """One message to a borrower, as rendered and as the SMS gateway or mail server saw it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ntf_019d2c4e8a1b3c5d7e9f1a3b5c7d",
                    "channel": "sms",
                    "recipient": "+254712345678",
                    "template": "repayment_received",
                    "status": "delivered",
                    "text": "Asante Achieng! We received KES 1,040.26 for loan loan_019d2b. "
                    "Balance: KES 5,201.30.",
                    "create_time": "2026-03-31T09:30:01.120Z",
                    "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "loan_id": "loan_019d2b8f0c1e3a5c7e9a1c3e5a7c",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "language": "en",
                    "subject": None,
                    "attempts": 1,
                    "provider_id": "ntf_019d2c4e8a1b3c5d7e9f1a3b5c7d",
                    "failure_reason": None,
                    "event_id": "evt_019d2c4e7f0a2c4e6a8c0e2a4c6e",
                    "send_time": "2026-03-31T09:30:01.480Z",
                    "delivery_time": "2026-03-31T09:30:04.002Z",
                    "next_attempt_time": None,
                }
            ]
        }
    )

    id: str
    channel: MessageChannel
    recipient: str = Field(description="the phone (E.164) or the email address")
    template: TemplateKind = Field(description="the kind of template it was rendered from")
    status: MessageStatus = Field(
        description="`queued` (waiting: an outage, the quiet hours, a retry), `sent` (the "
        "provider took it), `delivered` (the provider reported it delivered), `failed` (given "
        "up), `suppressed` (not sent by rule: opted out, no consent or no address; "
        "`failure_reason` says which)"
    )
    text: str = Field(description="the rendered text")
    create_time: Timestamp
    borrower_id: str
    loan_id: str | None = Field(description="null for a message about no loan")
    branch_id: str
    language: str = Field(description="the language it was written in, `en` or `sw`")
    subject: str | None = Field(description="email only")
    attempts: int
    provider_id: str | None = Field(description="the SMS gateway's or mail server's id")
    failure_reason: str | None
    event_id: str = Field(description="the event that caused it")
    send_time: Timestamp | None = Field(description="when the provider took it")
    delivery_time: Timestamp | None = Field(description="when it was reported delivered")
    next_attempt_time: Timestamp | None = Field(
        description="while `queued`: not before this time (the quiet hours, a retry's back-off)"
    )


class Template(BaseModel):
    """The text of one kind of message in one channel and language: the institution's own, or
    Kopa's default."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "installment_due",
                    "channel": "sms",
                    "language": "sw",
                    "subject": None,
                    "body": "Habari {{ first_name }}, kumbuka kulipa {{ amount_due }} "
                    "tarehe {{ due_date }}.",
                    "default": False,
                    "variables": ["first_name", "amount_due", "due_date", "loan_id"],
                    "update_time": "2026-03-31T09:30:00.123Z",
                    "updated_by": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                }
            ]
        }
    )

    kind: TemplateKind
    channel: MessageChannel
    language: Language
    subject: str | None = Field(description="email only")
    body: str = Field(description="Jinja2 text (sandboxed)")
    default: bool = Field(description="true for Kopa's built-in text (no override saved)")
    variables: list[str] = Field(description="the variables this kind of template may use")
    update_time: Timestamp | None = Field(description="null for the default text")
    updated_by: str | None


class TemplateBody(Strict):
    subject: StrictStr | None = Field(
        None, max_length=200, description="email only: the subject line (Jinja2 too)"
    )
    body: StrictStr = Field(
        min_length=1,
        max_length=5000,
        description="Jinja2 text with the kind's `variables` (see `GET` of the template). A "
        "syntax error or a variable the kind does not offer is 422 naming `body` (or "
        "`subject`) with the line; nothing is saved.",
        examples=[
            "Habari {{ first_name }}, kumbuka kulipa {{ amount_due }} tarehe {{ due_date }}."
        ],
    )


class Preferences(BaseModel):
    """A borrower's choices about messages."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "sms": True,
                    "email": False,
                    "email_address": None,
                    "language": "sw",
                    "opted_out": False,
                    "update_time": "2026-03-31T09:30:00.123Z",
                    "updated_by": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                }
            ]
        }
    )

    borrower_id: str
    sms: bool = Field(description="consented to SMS")
    email: bool = Field(description="consented to email")
    email_address: str | None
    language: Language | None = Field(description="null: the institution's default language")
    opted_out: bool = Field(description="opted out of every message")
    update_time: Timestamp | None = Field(description="null until first recorded")
    updated_by: str | None


class PreferencesBody(Strict):
    sms: StrictBool = Field(description="the borrower consents to SMS")
    email: StrictBool = Field(description="the borrower consents to email")
    email_address: EmailStr | None = Field(
        None, max_length=254, description="needed for email; null for none"
    )
    language: Language | None = Field(None, description="null: the institution's default")
    opted_out: StrictBool = Field(False, description="true: no message at all")
