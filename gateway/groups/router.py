"""Joint-liability groups of borrowers."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.groups.schemas import Group, GroupBody
from kopa.user.v1 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["groups"])


@router.post(
    "/v1/groups",
    status_code=201,
    summary="Form a group",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def create_group(body: GroupBody, stubs: Stubs) -> Group:
    """Forms a joint-liability group of 2 to 50 borrowers of one branch, none of whom is
    already in a group; each member's `group_id` is set to the new group."""
    reply = await stubs.user.CreateGroup(
        user_pb2.CreateGroupRequest(group=to_proto(user_pb2.Group, body))
    )
    return from_proto(Group, reply.group)


@router.get(
    "/v1/groups/{group_id}",
    summary="Get a group",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def get_group(group_id: str, stubs: Stubs) -> Group:
    """The group with its members. Another institution's group, or for branch staff another
    branch's, is a 404."""
    reply = await stubs.user.GetGroup(user_pb2.GetGroupRequest(group_id=group_id))
    return from_proto(Group, reply.group)
