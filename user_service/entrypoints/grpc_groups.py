"""The GroupService servicer: centres and the life cycle of groups and their members."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kopa.user.v1 import groups_pb2, groups_pb2_grpc
from shared.dates import from_proto_date
from user_service.entrypoints import mapping as m
from user_service.service_layer.groups import GroupHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext


class GroupServicer(groups_pb2_grpc.GroupServiceServicer):
    def __init__(self, handlers: GroupHandlers) -> None:
        self.h = handlers

    async def CreateCenter(
        self, request: groups_pb2.CreateCenterRequest, context: Ctx
    ) -> groups_pb2.CreateCenterResponse:
        c = request.center
        doc = await self.h.create_center(
            {
                "name": c.name,
                "branch_id": c.branch_id,
                "meeting_day": c.meeting_day,
                "meeting_time": c.meeting_time,
                "agent_id": c.agent_id,
            }
        )
        return groups_pb2.CreateCenterResponse(center=m.center_to_proto(doc))

    async def GetCenter(
        self, request: groups_pb2.GetCenterRequest, context: Ctx
    ) -> groups_pb2.GetCenterResponse:
        doc = await self.h.get_center(request.center_id)
        return groups_pb2.GetCenterResponse(center=m.center_to_proto(doc))

    async def ListCenters(
        self, request: groups_pb2.ListCentersRequest, context: Ctx
    ) -> groups_pb2.ListCentersResponse:
        docs, token = await self.h.list_centers(
            request.branch_id, request.page_size, request.page_token, request.query
        )
        return groups_pb2.ListCentersResponse(
            centers=[m.center_to_proto(d) for d in docs], next_page_token=token
        )

    async def ListGroups(
        self, request: groups_pb2.ListGroupsRequest, context: Ctx
    ) -> groups_pb2.ListGroupsResponse:
        groups, token = await self.h.list_groups(
            request.branch_id,
            request.center_id,
            m.group_status_word(request.status),
            request.page_size,
            request.page_token,
            request.query,
        )
        return groups_pb2.ListGroupsResponse(
            groups=[m.group_to_proto(g) for g in groups], next_page_token=token
        )

    async def AddGroupMember(
        self, request: groups_pb2.AddGroupMemberRequest, context: Ctx
    ) -> groups_pb2.AddGroupMemberResponse:
        group = await self.h.add_member(
            request.group_id,
            request.borrower_id,
            from_proto_date(request.joined_on, "joined_on"),
            request.reason,
            request.expected_version,
        )
        return groups_pb2.AddGroupMemberResponse(group=m.group_to_proto(group))

    async def RemoveGroupMember(
        self, request: groups_pb2.RemoveGroupMemberRequest, context: Ctx
    ) -> groups_pb2.RemoveGroupMemberResponse:
        group = await self.h.remove_member(
            request.group_id,
            request.borrower_id,
            from_proto_date(request.left_on, "left_on"),
            request.reason,
            request.expected_version,
        )
        return groups_pb2.RemoveGroupMemberResponse(group=m.group_to_proto(group))

    async def SetGroupOfficers(
        self, request: groups_pb2.SetGroupOfficersRequest, context: Ctx
    ) -> groups_pb2.SetGroupOfficersResponse:
        group = await self.h.set_officers(
            request.group_id,
            request.leader_id,
            request.secretary_id,
            request.treasurer_id,
            request.expected_version,
        )
        return groups_pb2.SetGroupOfficersResponse(group=m.group_to_proto(group))

    async def ActivateGroup(
        self, request: groups_pb2.ActivateGroupRequest, context: Ctx
    ) -> groups_pb2.ActivateGroupResponse:
        group = await self.h.activate(request.group_id, request.expected_version)
        return groups_pb2.ActivateGroupResponse(group=m.group_to_proto(group))

    async def CloseGroup(
        self, request: groups_pb2.CloseGroupRequest, context: Ctx
    ) -> groups_pb2.CloseGroupResponse:
        group = await self.h.close(request.group_id, request.reason, request.expected_version)
        return groups_pb2.CloseGroupResponse(group=m.group_to_proto(group))

    async def ListGroupVersions(
        self, request: groups_pb2.ListGroupVersionsRequest, context: Ctx
    ) -> groups_pb2.ListGroupVersionsResponse:
        entries = await self.h.versions(request.group_id)
        return groups_pb2.ListGroupVersionsResponse(
            versions=[
                groups_pb2.GroupVersion(
                    version=e["version"],
                    time=m.ts(e["time"]),
                    changed_by=e["changed_by"],
                    action=e["action"],
                    changes_json=e["changes"],
                )
                for e in entries
            ]
        )
