"""Centres: where a branch's groups meet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.centers.schemas import Center, CenterBody
from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from kopa.user.v1 import groups_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["groups"])


@router.post(
    "/v1/centers",
    status_code=201,
    summary="Open a centre",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def create_center(body: CenterBody, stubs: Stubs) -> Center:
    """A meeting place of one branch with its meeting day (and time, and the staff user who
    runs it). Groups that attend it (`center_id`) belong to its branch and meet on its day
    unless they name another."""
    reply = await stubs.groups.CreateCenter(
        groups_pb2.CreateCenterRequest(center=to_proto(groups_pb2.Center, body))
    )
    return from_proto(Center, reply.center)


@router.get(
    "/v1/centers",
    summary="List centres",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def list_centers(
    stubs: Stubs,
    branch_id: Annotated[str, Query(description="only this branch's centres")] = "",
    q: Annotated[
        str,
        Query(max_length=120, description="search by name, typo-tolerant; empty to list"),
    ] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Center]:
    """Centres in the caller's scope (agents and branch managers: their branch); with `q`,
    the best `page_size` matches by name, best first, in one page."""
    reply = await stubs.groups.ListCenters(
        groups_pb2.ListCentersRequest(
            branch_id=branch_id, page_size=page_size, page_token=page_token, query=q
        )
    )
    return Page[Center](
        items=[from_proto(Center, c) for c in reply.centers],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/centers/{center_id}",
    summary="Get a centre",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def get_center(center_id: str, stubs: Stubs) -> Center:
    """Another institution's centre, or for branch staff another branch's, is a 404."""
    reply = await stubs.groups.GetCenter(groups_pb2.GetCenterRequest(center_id=center_id))
    return from_proto(Center, reply.center)
