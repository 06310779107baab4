from __future__ import annotations

from pydantic import BaseModel, Field, StrictStr

from gateway.schema import Strict


class LoginBody(Strict):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=1024)
    otp: StrictStr | None = Field(None, max_length=32)


class RefreshBody(Strict):
    refresh_token: StrictStr = Field(max_length=512)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    must_change_password: bool = False
    mfa_enrolment_required: bool = Field(
        False,
        description="Your institution requires two-factor authentication for your role and "
        "you have not enrolled: this token only lets you enrol (POST /v1/me/mfa/enroll, then "
        "/v1/me/mfa/confirm), see your account and log out; every other call is 403 "
        "MFA_ENROLMENT_REQUIRED. Refresh once enrolled to get a token with your permissions.",
    )


class CreateUserBody(Strict):
    email: StrictStr = Field(max_length=254)
    full_name: StrictStr = Field(min_length=1, max_length=120)
    role: StrictStr
    password: StrictStr = Field(max_length=1024)
    branch_id: StrictStr | None = None
    institution_id: StrictStr | None = None


class ChangePasswordBody(Strict):
    current_password: StrictStr = Field(max_length=1024)
    new_password: StrictStr = Field(max_length=1024)


class ResetPasswordBody(Strict):
    temporary_password: StrictStr = Field(max_length=1024)


class ConfirmMfaBody(Strict):
    code: StrictStr = Field(max_length=32)
