"""Institutions (platform admin), their security policy and their branches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Stubs, allowed
from gateway.schema import Strict
from kopa.auth.v1 import auth_pb2
from kopa.user.v1 import user_pb2
from shared.permissions import INSTITUTION_ROLES
from shared.permissions import Permission as P

router = APIRouter(tags=["institutions"])


class InstitutionBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    currency: StrictStr = Field(min_length=3, max_length=3, description="ISO 4217, e.g. KES")


class SecurityPolicyBody(Strict):
    mfa_required_roles: list[StrictStr] = Field(
        max_length=20,
        description="The staff roles that must sign in with two-factor authentication "
        f"(any of {', '.join(sorted(INSTITUTION_ROLES))}; [] requires it of nobody). A user of "
        "such a role who has not enrolled yet can still log in, but only to enrol: the login "
        "answers `mfa_enrolment_required: true` and every other call is 403 "
        "MFA_ENROLMENT_REQUIRED until they enrol and refresh. Open sessions are held to the "
        "new policy from their next refresh.",
        examples=[["admin", "branch_manager"]],
    )


class BranchBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)


@router.post("/v1/institutions", status_code=201, dependencies=[allowed(P.INSTITUTIONS_CREATE)])
async def create_institution(body: InstitutionBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.CreateInstitution(
        user_pb2.CreateInstitutionRequest(name=body.name, currency=body.currency)
    )
    return to_json(reply.institution, drop=("create_time",))


@router.get("/v1/institutions", dependencies=[allowed(P.INSTITUTIONS_READ)])
async def list_institutions(
    stubs: Stubs, page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.user.ListInstitutions(
        user_pb2.ListInstitutionsRequest(page_size=page_size, page_token=page_token)
    )
    return page(
        [to_json(i, drop=("create_time",)) for i in reply.institutions], reply.next_page_token
    )


@router.get("/v1/institutions/{institution_id}", dependencies=[allowed(P.INSTITUTIONS_READ)])
async def get_institution(institution_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.GetInstitution(
        user_pb2.GetInstitutionRequest(institution_id=institution_id)
    )
    return to_json(reply.institution, drop=("create_time",))


def policy_json(policy: auth_pb2.SecurityPolicy) -> dict[str, Any]:
    data = to_json(policy)
    data["update_time"] = data.get("update_time")
    data["updated_by"] = policy.updated_by or None
    return data


@router.get(
    "/v1/institutions/{institution_id}/security-policy",
    dependencies=[allowed(P.SECURITY_POLICY_READ)],
)
async def get_security_policy(institution_id: str, stubs: Stubs) -> dict[str, Any]:
    """The institution's security policy: its admins and auditors, or the platform admin.
    Another institution's is 404."""
    reply = await stubs.auth.GetSecurityPolicy(
        auth_pb2.GetSecurityPolicyRequest(institution_id=institution_id)
    )
    return policy_json(reply.policy)


@router.put(
    "/v1/institutions/{institution_id}/security-policy",
    dependencies=[allowed(P.SECURITY_POLICY_MANAGE)],
)
async def replace_security_policy(
    institution_id: str, body: SecurityPolicyBody, stubs: Stubs
) -> dict[str, Any]:
    """Replace the institution's security policy: its admins, or the platform admin. The
    change is in the institution's audit log."""
    reply = await stubs.auth.UpdateSecurityPolicy(
        auth_pb2.UpdateSecurityPolicyRequest(
            policy=auth_pb2.SecurityPolicy(
                institution_id=institution_id, mfa_required_roles=body.mfa_required_roles
            )
        )
    )
    return policy_json(reply.policy)


@router.post("/v1/branches", status_code=201, dependencies=[allowed(P.BRANCHES_CREATE)])
async def create_branch(body: BranchBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.CreateBranch(user_pb2.CreateBranchRequest(name=body.name))
    return to_json(reply.branch, drop=("create_time",))


@router.get("/v1/branches", dependencies=[allowed(P.BRANCHES_READ)])
async def list_branches(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.user.ListBranches(
        user_pb2.ListBranchesRequest(page_size=page_size, page_token=page_token)
    )
    return page([to_json(b, drop=("create_time",)) for b in reply.branches], reply.next_page_token)


@router.get("/v1/branches/{branch_id}", dependencies=[allowed(P.BRANCHES_READ)])
async def get_branch(branch_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.GetBranch(user_pb2.GetBranchRequest(branch_id=branch_id))
    return to_json(reply.branch, drop=("create_time",))
