"""The UserService servicer: maps proto requests to use cases and results back."""

from __future__ import annotations

import json
from typing import TypeAlias

import grpc

from kopa.user.v1 import user_pb2, user_pb2_grpc
from shared.errors import ValidationError
from user_service.adapters.groups import group_from_doc
from user_service.entrypoints import mapping as m
from user_service.service_layer.groups import GroupHandlers
from user_service.service_layer.handlers import UserHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext


class UserServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, handlers: UserHandlers, groups: GroupHandlers) -> None:
        self.h = handlers
        self.groups = groups

    async def CreateInstitution(
        self, request: user_pb2.CreateInstitutionRequest, context: Ctx
    ) -> user_pb2.CreateInstitutionResponse:
        doc = await self.h.create_institution(request.name, request.currency)
        return user_pb2.CreateInstitutionResponse(institution=m.institution_to_proto(doc))

    async def GetInstitution(
        self, request: user_pb2.GetInstitutionRequest, context: Ctx
    ) -> user_pb2.GetInstitutionResponse:
        doc = await self.h.get_institution(request.institution_id)
        return user_pb2.GetInstitutionResponse(institution=m.institution_to_proto(doc))

    async def ListInstitutions(
        self, request: user_pb2.ListInstitutionsRequest, context: Ctx
    ) -> user_pb2.ListInstitutionsResponse:
        docs, token = await self.h.list_institutions(request.page_size, request.page_token)
        return user_pb2.ListInstitutionsResponse(
            institutions=[m.institution_to_proto(d) for d in docs], next_page_token=token
        )

    async def CreateBranch(
        self, request: user_pb2.CreateBranchRequest, context: Ctx
    ) -> user_pb2.CreateBranchResponse:
        doc = await self.h.create_branch(request.name)
        return user_pb2.CreateBranchResponse(branch=m.branch_to_proto(doc))

    async def GetBranch(
        self, request: user_pb2.GetBranchRequest, context: Ctx
    ) -> user_pb2.GetBranchResponse:
        doc = await self.h.get_branch(request.branch_id)
        return user_pb2.GetBranchResponse(branch=m.branch_to_proto(doc))

    async def ListBranches(
        self, request: user_pb2.ListBranchesRequest, context: Ctx
    ) -> user_pb2.ListBranchesResponse:
        docs, token = await self.h.list_branches(request.page_size, request.page_token)
        return user_pb2.ListBranchesResponse(
            branches=[m.branch_to_proto(d) for d in docs], next_page_token=token
        )

    async def CreateBorrower(
        self, request: user_pb2.CreateBorrowerRequest, context: Ctx
    ) -> user_pb2.CreateBorrowerResponse:
        doc = await self.h.create_borrower(m.borrower_from_proto(request.borrower))
        return user_pb2.CreateBorrowerResponse(borrower=m.borrower_to_proto(doc))

    async def GetBorrower(
        self, request: user_pb2.GetBorrowerRequest, context: Ctx
    ) -> user_pb2.GetBorrowerResponse:
        doc = await self.h.get_borrower(request.borrower_id)
        return user_pb2.GetBorrowerResponse(borrower=m.borrower_to_proto(doc))

    async def BatchGetBorrowers(
        self, request: user_pb2.BatchGetBorrowersRequest, context: Ctx
    ) -> user_pb2.BatchGetBorrowersResponse:
        borrowers, groups = await self.h.batch_get_borrowers(list(request.borrower_ids))
        return user_pb2.BatchGetBorrowersResponse(
            borrowers=[m.borrower_to_proto(d) for d in borrowers],
            groups=[m.group_to_proto(group_from_doc(g)) for g in groups],
        )

    async def ListBorrowers(
        self, request: user_pb2.ListBorrowersRequest, context: Ctx
    ) -> user_pb2.ListBorrowersResponse:
        docs, token = await self.h.list_borrowers(
            request.branch_id, request.page_size, request.page_token
        )
        return user_pb2.ListBorrowersResponse(
            borrowers=[m.borrower_to_proto(d) for d in docs], next_page_token=token
        )

    async def UpdateBorrower(
        self, request: user_pb2.UpdateBorrowerRequest, context: Ctx
    ) -> user_pb2.UpdateBorrowerResponse:
        try:
            changes = json.loads(request.changes_json or "{}")
        except json.JSONDecodeError:
            raise ValidationError.of("changes_json", "is not JSON") from None
        if not isinstance(changes, dict):
            raise ValidationError.of("changes_json", "must be a JSON object")
        doc = await self.h.update_borrower(request.borrower_id, changes, request.expected_version)
        return user_pb2.UpdateBorrowerResponse(borrower=m.borrower_to_proto(doc))

    async def ListBorrowerVersions(
        self, request: user_pb2.ListBorrowerVersionsRequest, context: Ctx
    ) -> user_pb2.ListBorrowerVersionsResponse:
        doc = await self.h.get_borrower(request.borrower_id)
        return user_pb2.ListBorrowerVersionsResponse(
            versions=[
                user_pb2.BorrowerVersion(
                    version=v["version"],
                    time=m.ts(v["time"]),
                    changed_by=v["changed_by"],
                    changes_json=v["changes"],
                )
                for v in doc.get("history", [])
            ]
        )

    async def RecordConsent(
        self, request: user_pb2.RecordConsentRequest, context: Ctx
    ) -> user_pb2.RecordConsentResponse:
        doc = await self.h.record_consent(request.borrower_id, request.kind, request.text_version)
        return user_pb2.RecordConsentResponse(borrower=m.borrower_to_proto(doc))

    async def TransferBorrower(
        self, request: user_pb2.TransferBorrowerRequest, context: Ctx
    ) -> user_pb2.TransferBorrowerResponse:
        doc = await self.h.transfer_borrower(
            request.borrower_id, request.branch_id, request.agent_id, request.reason
        )
        return user_pb2.TransferBorrowerResponse(borrower=m.borrower_to_proto(doc))

    async def CreateGroup(
        self, request: user_pb2.CreateGroupRequest, context: Ctx
    ) -> user_pb2.CreateGroupResponse:
        g = request.group
        group = await self.groups.create_group(
            {
                "name": g.name,
                "member_ids": list(g.member_ids),
                "leader_id": g.leader_id,
                "secretary_id": g.secretary_id,
                "treasurer_id": g.treasurer_id,
                "meeting_day": g.meeting_day,
                "branch_id": g.branch_id,
                "center_id": g.center_id,
                "status": m.group_status_word(g.status),
            }
        )
        return user_pb2.CreateGroupResponse(group=m.group_to_proto(group))

    async def GetGroup(
        self, request: user_pb2.GetGroupRequest, context: Ctx
    ) -> user_pb2.GetGroupResponse:
        group = await self.groups.get_group(request.group_id)
        return user_pb2.GetGroupResponse(group=m.group_to_proto(group))
