"""Staff accounts as their administrators see and manage them."""

from __future__ import annotations

from pydantic import ConfigDict, Field, StrictStr

from gateway.identity.schemas import Account, Role
from gateway.schema import Strict, Timestamp


class CreateUserBody(Strict):
    email: StrictStr = Field(max_length=254, examples=["wanjiru@umoja.example"])
    full_name: StrictStr = Field(min_length=1, max_length=120, examples=["Wanjiru Otieno"])
    role: Role = Field(
        description="The platform administrator creates institution admins; an institution's "
        "admin creates any staff role but the platform's."
    )
    password: StrictStr = Field(
        max_length=1024, description="the first password, which must meet the password policy"
    )
    branch_id: StrictStr | None = Field(
        None, description="required for an agent or a branch manager: the branch they work in"
    )
    institution_id: StrictStr | None = Field(
        None,
        description="Only the platform administrator names it (for a new institution's "
        "admin); others create users in their own institution.",
    )


class ResetPasswordBody(Strict):
    temporary_password: StrictStr = Field(
        max_length=1024, description="meets the password policy; the user must change it"
    )


class User(Account):
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
                    "disabled": False,
                    "mfa_enabled": False,
                    "must_change_password": False,
                    "create_time": "2026-03-02T07:45:12.031Z",
                }
            ]
        }
    )

    disabled: bool = Field(description="cannot log in; enable it to let them back")
    create_time: Timestamp
