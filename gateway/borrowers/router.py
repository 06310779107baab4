"""Borrowers: KYC profiles, edits with history, consents, transfers, groups, search."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictInt, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Stubs, allowed
from gateway.schema import Strict
from kopa.reporting.v1 import reporting_pb2
from kopa.user.v1 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["borrowers"])


class AddressBody(Strict):
    line1: StrictStr = ""
    line2: StrictStr = ""
    city: StrictStr = ""
    region: StrictStr = ""
    country: StrictStr = ""


class BorrowerBody(Strict):
    first_name: StrictStr = Field(max_length=80)
    last_name: StrictStr = Field(max_length=80)
    national_id: StrictStr = Field(max_length=40)
    phone: StrictStr = Field(max_length=32, description="E.164, e.g. +254712345678")
    date_of_birth: StrictStr = Field(description="ISO date; the borrower must be an adult")
    branch_id: StrictStr | None = None
    agent_id: StrictStr | None = None
    gender: StrictStr | None = None
    monthly_income: StrictStr | None = Field(None, description="decimal string")
    business_type: StrictStr | None = Field(None, max_length=80)
    household_size: StrictInt | None = None
    address: AddressBody | None = None
    document_refs: list[StrictStr] | None = None


class BorrowerPatch(Strict):
    first_name: StrictStr | None = Field(None, max_length=80)
    last_name: StrictStr | None = Field(None, max_length=80)
    national_id: StrictStr | None = Field(None, max_length=40)
    phone: StrictStr | None = Field(None, max_length=32)
    date_of_birth: StrictStr | None = None
    gender: StrictStr | None = None
    monthly_income: StrictStr | None = None
    business_type: StrictStr | None = Field(None, max_length=80)
    household_size: StrictInt | None = None
    address: AddressBody | None = None
    document_refs: list[StrictStr] | None = None
    expected_version: StrictInt | None = None


class ConsentBody(Strict):
    kind: StrictStr = Field(max_length=80, description="what was agreed, e.g. credit_check")
    text_version: StrictStr = Field("", max_length=40)


class TransferBody(Strict):
    branch_id: StrictStr | None = None
    agent_id: StrictStr | None = None
    reason: StrictStr = Field(max_length=500)


class GroupBody(Strict):
    name: StrictStr = Field(max_length=120)
    member_ids: list[StrictStr]
    leader_id: StrictStr = ""
    meeting_day: StrictStr = ""
    branch_id: StrictStr | None = None


def borrower_json(b: user_pb2.Borrower) -> dict[str, Any]:
    data = to_json(b)
    data["household_size"] = b.household_size or None
    data["monthly_income"] = b.monthly_income or None
    data["version"] = b.version
    for key in ("gender", "business_type", "group_id", "agent_id"):
        data[key] = data.get(key) or None
    return data


@router.post("/v1/borrowers", status_code=201, dependencies=[allowed(P.BORROWERS_CREATE)])
async def create_borrower(body: BorrowerBody, stubs: Stubs) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    if "address" in fields:
        fields["address"] = user_pb2.Address(**fields["address"])
    reply = await stubs.user.CreateBorrower(
        user_pb2.CreateBorrowerRequest(borrower=user_pb2.Borrower(**fields))
    )
    return borrower_json(reply.borrower)


@router.get("/v1/borrowers", dependencies=[allowed(P.BORROWERS_READ)])
async def list_or_search_borrowers(
    stubs: Stubs, q: str = "", branch_id: str = "", page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    if q:
        found = await stubs.reporting.SearchBorrowers(
            reporting_pb2.SearchBorrowersRequest(
                query=q[:200], page_size=page_size, page_token=page_token
            )
        )
        return page([to_json(h) for h in found.borrowers], found.next_page_token)
    reply = await stubs.user.ListBorrowers(
        user_pb2.ListBorrowersRequest(
            branch_id=branch_id, page_size=page_size, page_token=page_token
        )
    )
    return page([borrower_json(b) for b in reply.borrowers], reply.next_page_token)


@router.get("/v1/borrowers/{borrower_id}", dependencies=[allowed(P.BORROWERS_READ)])
async def get_borrower(borrower_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.GetBorrower(user_pb2.GetBorrowerRequest(borrower_id=borrower_id))
    return borrower_json(reply.borrower)


@router.patch("/v1/borrowers/{borrower_id}", dependencies=[allowed(P.BORROWERS_UPDATE)])
async def update_borrower(borrower_id: str, body: BorrowerPatch, stubs: Stubs) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    expected = changes.pop("expected_version", None) or 0
    reply = await stubs.user.UpdateBorrower(
        user_pb2.UpdateBorrowerRequest(
            borrower_id=borrower_id, changes_json=json.dumps(changes), expected_version=expected
        )
    )
    return borrower_json(reply.borrower)


@router.get("/v1/borrowers/{borrower_id}/versions", dependencies=[allowed(P.BORROWERS_READ)])
async def borrower_versions(borrower_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.ListBorrowerVersions(
        user_pb2.ListBorrowerVersionsRequest(borrower_id=borrower_id)
    )
    items = []
    for v in reply.versions:
        item = to_json(v, drop=("changes_json",))
        item["changes"] = json.loads(v.changes_json or "{}")
        items.append(item)
    return page(items, "")


@router.post(
    "/v1/borrowers/{borrower_id}/consents",
    status_code=201,
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def record_consent(borrower_id: str, body: ConsentBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.RecordConsent(
        user_pb2.RecordConsentRequest(
            borrower_id=borrower_id, kind=body.kind, text_version=body.text_version
        )
    )
    return borrower_json(reply.borrower)


@router.post("/v1/borrowers/{borrower_id}/transfer", dependencies=[allowed(P.BORROWERS_UPDATE)])
async def transfer_borrower(borrower_id: str, body: TransferBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.TransferBorrower(
        user_pb2.TransferBorrowerRequest(
            borrower_id=borrower_id,
            branch_id=body.branch_id or "",
            agent_id=body.agent_id or "",
            reason=body.reason,
        )
    )
    return borrower_json(reply.borrower)


@router.post("/v1/groups", status_code=201, dependencies=[allowed(P.BORROWERS_UPDATE)])
async def create_group(body: GroupBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.CreateGroup(
        user_pb2.CreateGroupRequest(
            group=user_pb2.Group(
                name=body.name,
                member_ids=body.member_ids,
                leader_id=body.leader_id,
                meeting_day=body.meeting_day,
                branch_id=body.branch_id or "",
            )
        )
    )
    return to_json(reply.group)


@router.get("/v1/groups/{group_id}", dependencies=[allowed(P.BORROWERS_READ)])
async def get_group(group_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.user.GetGroup(user_pb2.GetGroupRequest(group_id=group_id))
    return to_json(reply.group)
