"""Joint-liability groups of borrowers and their members' life cycle."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.groups.schemas import (
    CloseBody,
    Group,
    GroupBody,
    GroupVersion,
    LeaveBody,
    MemberBody,
    OfficersBody,
    VersionBody,
)
from gateway.schema import Page, PageSize, PageToken
from kopa.user.v1 import groups_pb2, user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["groups"])


@router.post(
    "/v1/groups",
    status_code=201,
    summary="Form a group",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def create_group(body: GroupBody, stubs: Stubs) -> Group:
    """Forms a joint-liability group of borrowers of one branch (that of its centre, when
    it attends one), none of whom is already in a group; each member's `group_id` is set to
    the new group. An `active` group has 2 to 50 members at once; a `forming` one may start
    with fewer and is activated when complete. Officers (leader, secretary, treasurer) must
    be members."""
    reply = await stubs.user_v1.CreateGroup(
        user_pb2.CreateGroupRequest(group=to_proto(user_pb2.Group, body))
    )
    return from_proto(Group, reply.group)


@router.get(
    "/v1/groups",
    summary="List groups",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def list_groups(
    stubs: Stubs,
    branch_id: Annotated[str, Query(description="only this branch's groups")] = "",
    center_id: Annotated[str, Query(description="only the groups of this centre")] = "",
    status: Annotated[Literal["forming", "active", "closed"] | None, Query()] = None,
    q: Annotated[
        str,
        Query(max_length=120, description="search by name, typo-tolerant; empty to list"),
    ] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Group]:
    """Groups in the caller's scope (agents and branch managers: their branch), oldest
    first; with `q`, the best `page_size` matches by name (one or two letters wrong still
    match), best first, in one page."""
    reply = await stubs.groups.ListGroups(
        to_proto(
            groups_pb2.ListGroupsRequest,
            {
                "branch_id": branch_id,
                "center_id": center_id,
                "status": status,
                "page_size": page_size,
                "page_token": page_token,
                "query": q,
            },
        )
    )
    return Page[Group](
        items=[from_proto(Group, g) for g in reply.groups], next_page_token=reply.next_page_token
    )


@router.get(
    "/v1/groups/{group_id}",
    summary="Get a group",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def get_group(group_id: str, stubs: Stubs) -> Group:
    """The group with its members, current and past. Another institution's group, or for
    branch staff another branch's, is a 404."""
    reply = await stubs.user_v1.GetGroup(user_pb2.GetGroupRequest(group_id=group_id))
    return from_proto(Group, reply.group)


@router.post(
    "/v1/groups/{group_id}/members",
    summary="Add a member",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def add_member(group_id: str, body: MemberBody, stubs: Stubs) -> Group:
    """A borrower of the group's branch who is in no group joins it, from `joined_on`.
    A closed group takes no members (409)."""
    reply = await stubs.groups.AddGroupMember(
        to_proto(groups_pb2.AddGroupMemberRequest, body, group_id=group_id)
    )
    return from_proto(Group, reply.group)


@router.post(
    "/v1/groups/{group_id}/members/{borrower_id}/leave",
    summary="A member leaves",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def remove_member(group_id: str, borrower_id: str, body: LeaveBody, stubs: Stubs) -> Group:
    """The member leaves on `left_on` for `reason`, and leaves any office they held. A member
    with a loan not yet repaid (submitted, approved or active) cannot leave (409
    `MEMBER_HAS_OPEN_LOANS`, naming the loans), nor can an active group drop below 2 members
    (409 `GROUP_TOO_SMALL`: close it instead)."""
    reply = await stubs.groups.RemoveGroupMember(
        to_proto(
            groups_pb2.RemoveGroupMemberRequest, body, group_id=group_id, borrower_id=borrower_id
        )
    )
    return from_proto(Group, reply.group)


@router.put(
    "/v1/groups/{group_id}/officers",
    summary="Set the officers",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def set_officers(group_id: str, body: OfficersBody, stubs: Stubs) -> Group:
    """Leader, secretary and treasurer, each a current member or empty."""
    reply = await stubs.groups.SetGroupOfficers(
        to_proto(groups_pb2.SetGroupOfficersRequest, body, group_id=group_id)
    )
    return from_proto(Group, reply.group)


@router.post(
    "/v1/groups/{group_id}/activate",
    summary="Activate a forming group",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def activate_group(group_id: str, body: VersionBody, stubs: Stubs) -> Group:
    """A forming group with 2 to 50 members becomes active (and may borrow)."""
    reply = await stubs.groups.ActivateGroup(
        to_proto(groups_pb2.ActivateGroupRequest, body, group_id=group_id)
    )
    return from_proto(Group, reply.group)


@router.post(
    "/v1/groups/{group_id}/close",
    summary="Close a group",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def close_group(group_id: str, body: CloseBody, stubs: Stubs) -> Group:
    """Every member leaves and the group closes for good; refused (409
    `MEMBER_HAS_OPEN_LOANS`) while any member has a loan not yet repaid."""
    reply = await stubs.groups.CloseGroup(
        to_proto(groups_pb2.CloseGroupRequest, body, group_id=group_id)
    )
    return from_proto(Group, reply.group)


@router.get(
    "/v1/groups/{group_id}/versions",
    summary="A group's history",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def group_versions(group_id: str, stubs: Stubs) -> Page[GroupVersion]:
    """Every change of the group, oldest first, in one page: who did what, when, and which
    fields it changed from what to what. Its creation is version 1."""
    reply = await stubs.groups.ListGroupVersions(
        groups_pb2.ListGroupVersionsRequest(group_id=group_id)
    )
    return Page[GroupVersion](
        items=[
            from_proto(GroupVersion, v, changes=json.loads(v.changes_json or "{}"))
            for v in reply.versions
        ],
        next_page_token="",
    )
