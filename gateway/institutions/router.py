"""Institutions (platform admin) and their branches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Acting, Stubs
from gateway.identity.schemas import Strict
from kopa.user.v1 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["institutions"])


class InstitutionBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    currency: StrictStr = Field(min_length=3, max_length=3, description="ISO 4217, e.g. KES")


class BranchBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)


@router.post("/v1/institutions", status_code=201)
async def create_institution(
    body: InstitutionBody, _: Acting(P.INSTITUTIONS_CREATE), stubs: Stubs
) -> dict[str, Any]:
    reply = await stubs.user.CreateInstitution(
        user_pb2.CreateInstitutionRequest(name=body.name, currency=body.currency)
    )
    return to_json(reply.institution, drop=("create_time",))


@router.get("/v1/institutions")
async def list_institutions(
    _: Acting(P.INSTITUTIONS_READ), stubs: Stubs, page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.user.ListInstitutions(
        user_pb2.ListInstitutionsRequest(page_size=page_size, page_token=page_token)
    )
    return page(
        [to_json(i, drop=("create_time",)) for i in reply.institutions], reply.next_page_token
    )


@router.get("/v1/institutions/{institution_id}")
async def get_institution(
    institution_id: str, _: Acting(P.INSTITUTIONS_READ), stubs: Stubs
) -> dict[str, Any]:
    reply = await stubs.user.GetInstitution(
        user_pb2.GetInstitutionRequest(institution_id=institution_id)
    )
    return to_json(reply.institution, drop=("create_time",))


@router.post("/v1/branches", status_code=201)
async def create_branch(
    body: BranchBody, _: Acting(P.BRANCHES_CREATE), stubs: Stubs
) -> dict[str, Any]:
    reply = await stubs.user.CreateBranch(user_pb2.CreateBranchRequest(name=body.name))
    return to_json(reply.branch, drop=("create_time",))


@router.get("/v1/branches")
async def list_branches(
    _: Acting(P.BRANCHES_READ), stubs: Stubs, page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.user.ListBranches(
        user_pb2.ListBranchesRequest(page_size=page_size, page_token=page_token)
    )
    return page([to_json(b, drop=("create_time",)) for b in reply.branches], reply.next_page_token)


@router.get("/v1/branches/{branch_id}")
async def get_branch(branch_id: str, _: Acting(P.BRANCHES_READ), stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.GetBranch(user_pb2.GetBranchRequest(branch_id=branch_id))
    return to_json(reply.branch, drop=("create_time",))
