"""The UserService servicers' shared methods (`UserUseCases`) and kopa.user.v1's servicer: each
maps a proto request to a use case (`service_layer.handlers`) and the result back
(`mapping`)."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import grpc

from kopa.user.v1 import user_pb2, user_pb2_grpc
from shared.errors import ValidationError
from user_service.adapters.groups import group_from_doc
from user_service.entrypoints import mapping as m
from user_service.service_layer.groups import GroupHandlers
from user_service.service_layer.handlers import UserHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext


class UserUseCases:
    """The methods kopa.user.v1.UserService and kopa.user.v2.UserService share: each reads its
    request (a borrower by `wire.read`), runs its use case and answers in the messages of
    `wire` (the two versions differ only there)."""

    wire: m.Wire

    def __init__(self, handlers: UserHandlers) -> None:
        self.h = handlers

    async def _borrowers(self, docs: list[dict[str, Any]]) -> list[Any]:
        wire = self.wire
        return [
            wire.borrower(
                d, await self.h.institution_currency(d["institution_id"]) if wire.money else ""
            )
            for d in docs
        ]

    async def _borrower(self, doc: dict[str, Any]) -> Any:
        return (await self._borrowers([doc]))[0]

    async def CreateInstitution(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.create_institution(request.name, request.currency)
        return self.wire.pb.CreateInstitutionResponse(institution=m.institution_to_proto(doc))

    async def GetInstitution(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.get_institution(request.institution_id)
        return self.wire.pb.GetInstitutionResponse(institution=m.institution_to_proto(doc))

    async def ListInstitutions(self, request: Any, context: Ctx) -> Any:
        docs, token = await self.h.list_institutions(request.page_size, request.page_token)
        return self.wire.pb.ListInstitutionsResponse(
            institutions=[m.institution_to_proto(d) for d in docs], next_page_token=token
        )

    async def CreateBranch(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.create_branch(request.name)
        return self.wire.pb.CreateBranchResponse(branch=m.branch_to_proto(doc))

    async def GetBranch(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.get_branch(request.branch_id)
        return self.wire.pb.GetBranchResponse(branch=m.branch_to_proto(doc))

    async def ListBranches(self, request: Any, context: Ctx) -> Any:
        docs, token = await self.h.list_branches(request.page_size, request.page_token)
        return self.wire.pb.ListBranchesResponse(
            branches=[m.branch_to_proto(d) for d in docs], next_page_token=token
        )

    async def CreateBorrower(self, request: Any, context: Ctx) -> Any:
        data, currencies = self.wire.read(request.borrower)
        doc = await self.h.create_borrower(data, currencies)
        return self.wire.pb.CreateBorrowerResponse(borrower=await self._borrower(doc))

    async def GetBorrower(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.get_borrower(request.borrower_id)
        return self.wire.pb.GetBorrowerResponse(borrower=await self._borrower(doc))

    async def BatchGetBorrowers(self, request: Any, context: Ctx) -> Any:
        borrowers, groups = await self.h.batch_get_borrowers(list(request.borrower_ids))
        return self.wire.pb.BatchGetBorrowersResponse(
            borrowers=await self._borrowers(borrowers),
            groups=[m.group_to_proto(group_from_doc(g)) for g in groups],
        )

    async def ListBorrowers(self, request: Any, context: Ctx) -> Any:
        docs, token = await self.h.list_borrowers(
            request.branch_id, request.page_size, request.page_token
        )
        return self.wire.pb.ListBorrowersResponse(
            borrowers=await self._borrowers(docs), next_page_token=token
        )

    async def ListBorrowerVersions(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.get_borrower(request.borrower_id)
        return self.wire.pb.ListBorrowerVersionsResponse(
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

    async def RecordConsent(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.record_consent(request.borrower_id, request.kind, request.text_version)
        return self.wire.pb.RecordConsentResponse(borrower=await self._borrower(doc))

    async def TransferBorrower(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.transfer_borrower(
            request.borrower_id, request.branch_id, request.agent_id, request.reason
        )
        return self.wire.pb.TransferBorrowerResponse(borrower=await self._borrower(doc))


class UserServicer(UserUseCases, user_pb2_grpc.UserServiceServicer):
    """kopa.user.v1.UserService: its borrower edits are a JSON object, and it forms groups."""

    wire = m.V1

    def __init__(self, handlers: UserHandlers, groups: GroupHandlers) -> None:
        super().__init__(handlers)
        self.groups = groups

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
        return user_pb2.UpdateBorrowerResponse(borrower=await self._borrower(doc))

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
