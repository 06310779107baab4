"""Institutions (platform admin) and their branches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Stubs, allowed
from gateway.identity.schemas import Strict
from kopa.user.v1 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["institutions"])


class InstitutionBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    currency: StrictStr = Field(min_length=3, max_length=3, description="ISO 4217, e.g. KES")


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
