"""An institution's branches."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.branches.schemas import Branch, BranchBody
from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from kopa.user.v2 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["branches"])


@router.post(
    "/v1/branches",
    summary="Create a branch",
    status_code=201,
    dependencies=[allowed(P.BRANCHES_CREATE)],
)
async def create_branch(body: BranchBody, stubs: Stubs) -> Branch:
    """A new branch of the caller's institution, to which agents, branch managers and
    borrowers are then assigned."""
    reply = await stubs.user.CreateBranch(to_proto(user_pb2.CreateBranchRequest, body))
    return from_proto(Branch, reply.branch)


@router.get("/v1/branches", summary="List branches", dependencies=[allowed(P.BRANCHES_READ)])
async def list_branches(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Branch]:
    """Every branch of the caller's institution."""
    reply = await stubs.user.ListBranches(
        user_pb2.ListBranchesRequest(page_size=page_size, page_token=page_token)
    )
    return Page(
        items=[from_proto(Branch, b) for b in reply.branches],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/branches/{branch_id}", summary="Get a branch", dependencies=[allowed(P.BRANCHES_READ)]
)
async def get_branch(branch_id: str, stubs: Stubs) -> Branch:
    """A branch of the caller's institution; another institution's is 404."""
    reply = await stubs.user.GetBranch(user_pb2.GetBranchRequest(branch_id=branch_id))
    return from_proto(Branch, reply.branch)
