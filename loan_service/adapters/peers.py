"""Outbound gRPC calls: user_service (borrowers, institutions, groups) and scoring_service.

The caller's token is forwarded by the shared client channel, so each peer checks the
caller's own permissions and scope. A peer's NOT_FOUND becomes this service's `NotFound`
naming what was missing; other client-caused errors pass through the interceptor unchanged.
The interfaces they implement (and the records they return) are the service layer's
(`service_layer.ports`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from kopa.scoring.v2 import scoring_pb2, scoring_pb2_grpc
from kopa.user.v1 import kyc_pb2, user_pb2, user_pb2_grpc
from kopa.user.v2 import user_pb2 as user_v2
from kopa.user.v2 import user_pb2_grpc as user_v2_grpc
from loan_service.service_layer.ports import (
    Borrower,
    BorrowerContact,
    GroupInfo,
    Scorer,
    ScoreResult,
    UserDirectory,
)
from shared.dates import from_proto_date
from shared.errors import NotFound
from shared.money import fmt, from_money
from shared.wire import enum_word

#: The most borrowers one BatchGetBorrowers call asks for (user_service's limit).
BATCH = 1000


def _not_found(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.NOT_FOUND


class GrpcUserDirectory(UserDirectory):
    """Borrowers and institutions from kopa.user.v2; groups from v1's GetGroup (no v2 yet)."""

    def __init__(self, channel: Any) -> None:
        self._stub = user_v2_grpc.UserServiceStub(channel)
        self._groups = user_pb2_grpc.UserServiceStub(channel)

    async def borrower(self, borrower_id: str) -> Borrower:
        try:
            reply = await self._stub.GetBorrower(
                user_v2.GetBorrowerRequest(borrower_id=borrower_id)
            )
        except grpc.aio.AioRpcError as err:
            if _not_found(err):
                raise NotFound(
                    f"borrower {borrower_id} not found",
                    reason="BORROWER_NOT_FOUND",
                    metadata={"borrower_id": borrower_id},
                ) from None
            raise
        b = reply.borrower
        born = from_proto_date(b.date_of_birth, "date_of_birth")
        income = b.monthly_income
        # The record keeps v1's text (what the scorecards read): ISO date, the income with
        # its currency's decimals, the gender's word.
        return Borrower(
            id=b.id,
            institution_id=b.institution_id,
            branch_id=b.branch_id,
            date_of_birth=born.isoformat() if born else "",
            monthly_income=fmt(from_money(income), income.currency_code)
            if b.HasField("monthly_income")
            else "",
            household_size=b.household_size,
            gender=enum_word(user_v2.Gender.DESCRIPTOR, b.gender),
            business_type=b.business_type,
            group_id=b.group_id,
            kyc_status=enum_word(kyc_pb2.KycStatus.DESCRIPTOR, b.kyc_status),
        )

    async def institution_currency(self, institution_id: str) -> str:
        try:
            reply = await self._stub.GetInstitution(
                user_v2.GetInstitutionRequest(institution_id=institution_id)
            )
        except grpc.aio.AioRpcError as err:
            if _not_found(err):
                raise NotFound(
                    f"institution {institution_id} not found", reason="INSTITUTION_NOT_FOUND"
                ) from None
            raise
        return reply.institution.currency

    async def group_size(self, group_id: str) -> int | None:
        try:
            reply = await self._groups.GetGroup(user_pb2.GetGroupRequest(group_id=group_id))
        except grpc.aio.AioRpcError as err:
            if _not_found(err):
                return None
            raise
        return len(reply.group.member_ids)

    async def group(self, group_id: str) -> GroupInfo:
        try:
            reply = await self._groups.GetGroup(user_pb2.GetGroupRequest(group_id=group_id))
        except grpc.aio.AioRpcError as err:
            if _not_found(err):
                raise NotFound(
                    f"group {group_id} not found",
                    reason="GROUP_NOT_FOUND",
                    metadata={"group_id": group_id},
                ) from None
            raise
        g = reply.group
        status = enum_word(user_pb2.GroupStatus.DESCRIPTOR, g.status)
        return GroupInfo(
            id=g.id,
            institution_id=g.institution_id,
            branch_id=g.branch_id,
            center_id=g.center_id,
            name=g.name,
            status=status,
            member_ids=tuple(g.member_ids),
        )

    async def contacts(self, borrower_ids: Sequence[str]) -> dict[str, BorrowerContact]:
        out: dict[str, BorrowerContact] = {}
        ids = list(borrower_ids)
        for start in range(0, len(ids), BATCH):
            reply = await self._stub.BatchGetBorrowers(
                user_v2.BatchGetBorrowersRequest(borrower_ids=ids[start : start + BATCH])
            )
            groups = {g.id: g for g in reply.groups}
            for b in reply.borrowers:
                group = groups.get(b.group_id)
                out[b.id] = BorrowerContact(
                    id=b.id,
                    name=f"{b.first_name} {b.last_name}".strip(),
                    phone=b.phone,
                    agent_id=b.agent_id,
                    group_id=b.group_id,
                    group_name=group.name if group else "",
                    center_id=group.center_id if group else "",
                )
        return out


class GrpcScorer(Scorer):
    def __init__(self, channel: Any) -> None:
        self._stub = scoring_pb2_grpc.ScoringServiceStub(channel)

    async def score(self, subject_id: str, applicant_json: str) -> ScoreResult:
        reply = await self._stub.Score(
            scoring_pb2.ScoreRequest(subject_id=subject_id, applicant_json=applicant_json)
        )
        return ScoreResult(
            score=reply.score,
            band=reply.band,
            scorecard_id=reply.scorecard_id,
            scorecard_version=reply.scorecard_version,
            contributions=[(c.rule, c.points, c.note) for c in reply.contributions],
        )
