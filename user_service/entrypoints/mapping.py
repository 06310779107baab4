"""Stored documents to proto messages and back."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from kopa.user.v1 import groups_pb2, kyc_pb2, user_pb2
from shared.dates import to_proto_date
from shared.protos import timestamp as ts
from user_service.domain.groups import Group


def institution_to_proto(doc: dict[str, Any]) -> user_pb2.Institution:
    return user_pb2.Institution(
        id=doc["_id"],
        name=doc["name"],
        currency=doc["currency"],
        create_time=ts(doc.get("create_time")),
    )


def branch_to_proto(doc: dict[str, Any]) -> user_pb2.Branch:
    return user_pb2.Branch(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        name=doc["name"],
        create_time=ts(doc.get("create_time")),
    )


def borrower_to_proto(doc: dict[str, Any]) -> user_pb2.Borrower:
    return user_pb2.Borrower(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        agent_id=doc.get("agent_id", ""),
        first_name=doc["first_name"],
        last_name=doc["last_name"],
        national_id=doc["national_id"],
        phone=doc["phone"],
        date_of_birth=doc["date_of_birth"],
        gender=doc.get("gender", ""),
        address=user_pb2.Address(**doc.get("address", {})),
        business_type=doc.get("business_type", ""),
        monthly_income=doc.get("monthly_income", ""),
        household_size=doc.get("household_size", 0),
        document_refs=doc.get("document_refs", []),
        # Borrowers registered before KYC review existed have no status stored: unverified.
        kyc_status=kyc_pb2.KycStatus.Value(
            f"KYC_STATUS_{doc.get('kyc_status', 'unverified').upper()}"
        ),
        consents=[
            user_pb2.Consent(
                kind=c["kind"],
                text_version=c.get("text_version", ""),
                time=ts(c.get("time")),
                recorded_by=c.get("recorded_by", ""),
            )
            for c in doc.get("consents", [])
        ],
        assignments=[
            user_pb2.Assignment(
                branch_id=a["branch_id"],
                agent_id=a.get("agent_id", ""),
                time=ts(a.get("time")),
                changed_by=a.get("changed_by", ""),
                reason=a.get("reason", ""),
            )
            for a in doc.get("assignments", [])
        ],
        group_id=doc.get("group_id", ""),
        version=doc["version"],
        create_time=ts(doc.get("create_time")),
        update_time=ts(doc.get("update_time")),
    )


def borrower_from_proto(message: user_pb2.Borrower) -> dict[str, Any]:
    """The fields a client set, as a plain dict for the domain validators."""
    data = MessageToDict(message, preserving_proto_field_name=True)
    for key in (
        "id",
        "institution_id",
        "version",
        "consents",
        "assignments",
        "create_time",
        "update_time",
        "group_id",
        "kyc_status",
    ):
        data.pop(key, None)
    return data


def group_to_proto(group: Group) -> user_pb2.Group:
    return user_pb2.Group(
        id=group.id,
        institution_id=group.institution_id,
        branch_id=group.branch_id,
        name=group.name,
        member_ids=group.member_ids,
        leader_id=group.leader_id,
        meeting_day=group.meeting_day,
        create_time=ts(group.create_time),
        center_id=group.center_id,
        status=user_pb2.GroupStatus.Value(f"GROUP_STATUS_{group.status.name}"),
        secretary_id=group.secretary_id,
        treasurer_id=group.treasurer_id,
        members=[
            user_pb2.GroupMember(
                borrower_id=m.borrower_id,
                joined_on=to_proto_date(m.joined_on),
                join_reason=m.join_reason,
                left_on=to_proto_date(m.left_on),
                leave_reason=m.leave_reason,
            )
            for m in group.members
        ],
        version=group.version,
    )


def center_to_proto(doc: dict[str, Any]) -> groups_pb2.Center:
    return groups_pb2.Center(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        name=doc["name"],
        meeting_day=doc["meeting_day"],
        meeting_time=doc.get("meeting_time", ""),
        agent_id=doc.get("agent_id", ""),
        create_time=ts(doc.get("create_time")),
    )


def group_status_word(value: user_pb2.GroupStatus.ValueType) -> str:
    """`GROUP_STATUS_FORMING` -> `forming`; the zero value -> `` (unset)."""
    return (
        "" if value == 0 else user_pb2.GroupStatus.Name(value).removeprefix("GROUP_STATUS_").lower()
    )  # type: ignore[arg-type]
