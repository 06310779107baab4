"""Sign-in, tokens, the caller's own account, its sessions and second factor, and the
record of sign-ins."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Strict, Timestamp
from shared import permissions

Role = Literal["platform_admin", "admin", "branch_manager", "risk_officer", "agent", "auditor"]
"""A staff member's role (`shared.permissions.Role`, but the service principal's, which no
staff member holds)."""

InstitutionRole = Literal["admin", "branch_manager", "risk_officer", "agent", "auditor"]
"""The staff roles of an institution (`shared.permissions.INSTITUTION_ROLES`)."""

# A role added to the permission table and not here would be refused in requests and fail
# answers naming it: stop at start-up instead.
if set(get_args(Role)) != {r.value for r in permissions.Role} - {permissions.Role.SERVICE}:
    raise RuntimeError("gateway.identity.schemas.Role differs from shared.permissions.Role")
if set(get_args(InstitutionRole)) != {r.value for r in permissions.INSTITUTION_ROLES}:
    raise RuntimeError("gateway.identity.schemas.InstitutionRole differs from INSTITUTION_ROLES")


class LoginBody(Strict):
    email: StrictStr = Field(max_length=254, examples=["ada@umoja.example"])
    password: StrictStr = Field(max_length=1024)
    otp: StrictStr | None = Field(
        None,
        max_length=32,
        description="The 6-digit code of your authenticator app, or one of your recovery "
        "codes; required once two-factor authentication is on (else 401 MFA_REQUIRED).",
    )


class RefreshBody(Strict):
    refresh_token: StrictStr = Field(max_length=512)


class TokenPair(BaseModel):
    """An access token for the `Authorization: Bearer` header and the refresh token that
    renews it (each refresh token works once)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjNxX2ZYIn0.eyJzdWIiOi.c2lnbmF0",
                    "refresh_token": "DciRAsHg5iXOUdu-pvs5F7P18rmCkPo0zumhVYDAjXI",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "must_change_password": False,
                    "mfa_enrolment_required": False,
                }
            ]
        }
    )

    access_token: str = Field(description="an EdDSA-signed JWT")
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds until the access token expires")
    must_change_password: bool = Field(
        description="The password is a temporary one an administrator set: change it with "
        "POST /v1/me/password."
    )
    mfa_enrolment_required: bool = Field(
        description="Your institution requires two-factor authentication for your role and "
        "you have not enrolled: this token only lets you enrol (POST /v1/me/mfa/enroll, then "
        "/v1/me/mfa/confirm), see your account and log out; every other call is 403 "
        "MFA_ENROLMENT_REQUIRED. Refresh once enrolled to get a token with your permissions.",
    )


class Jwk(BaseModel):
    """An Ed25519 public key (RFC 8037) that verifies access tokens."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="the public key, base64url")
    kid: str = Field(description="RFC 7638 thumbprint; the `kid` header of the tokens it signs")
    use: Literal["sig"]
    alg: Literal["EdDSA"]


class Jwks(BaseModel):
    """RFC 7517 JSON Web Key Set: the key that signs now, a successor published before it
    signs, and predecessors while tokens they signed can still be valid."""

    keys: list[Jwk]


class Account(BaseModel):
    """A staff account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                    "email": "wanjiru@umoja.example",
                    "full_name": "Wanjiru Otieno",
                    "role": "agent",
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "branch_id": "br_0199f3a1c4b3a2f1e0d9c8b7a6f5e4d3",
                    "mfa_enabled": False,
                    "must_change_password": False,
                }
            ]
        }
    )

    id: str
    email: str
    full_name: str
    role: Role
    institution_id: str | None = Field(description="null for the platform administrator")
    branch_id: str | None = Field(
        description="the branch an agent or branch manager works in; null for other roles"
    )
    mfa_enabled: bool = Field(description="signs in with a second factor")
    must_change_password: bool = Field(description="the password is a temporary one")


class Me(Account):
    """The caller's own account, with what its role allows (the console shows only those
    screens and actions; every service still checks each call)."""

    permissions: list[str] = Field(
        description="`<resource>:<verb>` words the role holds, e.g. `loans:approve`; empty "
        "while a required second factor is not enrolled",
        examples=[["borrowers:create", "borrowers:read", "loans:create", "loans:read"]],
    )


class ChangePasswordBody(Strict):
    current_password: StrictStr = Field(max_length=1024)
    new_password: StrictStr = Field(max_length=1024)


class MfaEnrolment(BaseModel):
    """What an authenticator app needs; two-factor authentication is on once a code it
    shows is confirmed."""

    otpauth_uri: str = Field(
        description="an `otpauth://totp/...` URI, to show as a QR code",
        examples=[
            "otpauth://totp/Kopa:ada%40umoja.example"
            "?secret=ET7NQT7KPVGGEI7ZIQ56FLH2EJSOZ3LR&issuer=Kopa"
        ],
    )
    secret: str = Field(description="the same secret in base32, to type in instead")


class ConfirmMfaBody(Strict):
    code: StrictStr = Field(
        max_length=32, description="the code the authenticator app shows now", examples=["492039"]
    )


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="One-time codes that replace the authenticator's (`otp` of the login) "
        "when it is lost. Shown only here: keep them safe."
    )


class Session(BaseModel):
    """A signed-in device: one login and the refreshes that followed it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ses_0199f3a2b4c1a1b2c3d4e5f60718293a",
                    "device": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0",
                    "address": "197.248.10.12",
                    "create_time": "2026-03-31T06:02:11.412Z",
                    "last_use_time": "2026-03-31T09:30:00.123Z",
                    "current": True,
                }
            ]
        }
    )

    id: str
    device: str = Field(description="the User-Agent it logged in with")
    address: str = Field(description="the IP address it logged in from")
    create_time: Timestamp
    last_use_time: Timestamp = Field(description="its last login or refresh")
    current: bool = Field(description="the session of the token making this request")


class LoginAttempt(BaseModel):
    """One sign-in attempt, successful or not."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "wanjiru@umoja.example",
                    "user_id": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                    "time": "2026-03-31T06:02:11.412Z",
                    "address": "197.248.10.12",
                    "user_agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0",
                    "success": False,
                    "failure_reason": "bad_password",
                }
            ]
        }
    )

    email: str = Field(description="as typed")
    user_id: str = Field(description="empty when the email is nobody's")
    time: Timestamp
    address: str
    user_agent: str
    success: bool
    failure_reason: str = Field(
        description="empty on success; else `bad_password`, `unknown_user`, `locked`, "
        "`disabled`, `mfa_required`, `mfa_invalid` or `throttled` (what was recorded, more "
        "telling than what the client was told)"
    )
