"""Stored documents to proto messages and requests to plain fields, for both versions of the
contract.

kopa.user.v1 and kopa.user.v2 answer the same messages by the same field names; they differ
only in how the borrower's birth date, income and gender are written (a `Wire`): v1 writes ISO
text, decimal text and a word; v2 a `google.type.Date`, a `google.type.Money` naming the
institution's currency and a `Gender`. Institutions, branches, versions and groups are v1's
messages in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

from google.protobuf.json_format import MessageToDict

from kopa.user.v1 import groups_pb2, kyc_pb2, user_pb2
from kopa.user.v2 import user_pb2 as user_v2
from shared.dates import to_proto_date
from shared.money import to_money
from shared.protos import timestamp as ts
from shared.wire import enum_prefix, enum_word, request_fields
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


def borrower_to_proto(doc: dict[str, Any], currency: str = "") -> user_pb2.Borrower:
    """kopa.user.v1's borrower (its events' too). Its income is text, so `currency` goes
    unused: it is there for the one signature of `Wire.borrower`."""
    return _borrower(
        user_pb2,
        doc,
        date_of_birth=doc["date_of_birth"],
        gender=doc.get("gender", ""),
        monthly_income=doc.get("monthly_income", ""),
    )


def borrower_to_v2(doc: dict[str, Any], currency: str) -> user_v2.Borrower:
    """kopa.user.v2's borrower, the income an amount of `currency` (the institution's)."""
    gender = doc.get("gender", "")
    income = doc.get("monthly_income", "")
    return _borrower(  # type: ignore[no-any-return]
        user_v2,
        doc,
        date_of_birth=to_proto_date(doc["date_of_birth"]),
        gender=user_v2.Gender.Value(enum_prefix("Gender") + gender.upper()) if gender else 0,
        monthly_income=to_money(Decimal(income), currency) if income else None,
    )


def _borrower(pb: ModuleType, doc: dict[str, Any], **typed: Any) -> Any:
    """The borrower of `pb` with the fields both versions write alike, and `typed`."""
    return pb.Borrower(
        **typed,
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        agent_id=doc.get("agent_id", ""),
        first_name=doc["first_name"],
        last_name=doc["last_name"],
        national_id=doc["national_id"],
        phone=doc["phone"],
        address=user_pb2.Address(**doc.get("address", {})),
        business_type=doc.get("business_type", ""),
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


#: The borrower's fields no request sets (they change through their own use cases).
OUTPUT_ONLY = (
    "id",
    "institution_id",
    "version",
    "consents",
    "assignments",
    "create_time",
    "update_time",
    "group_id",
    "kyc_status",
)


def borrower_from_proto(message: user_pb2.Borrower) -> dict[str, Any]:
    """The fields a client set, as a plain dict for the domain validators."""
    data = MessageToDict(message, preserving_proto_field_name=True)
    for key in OUTPUT_ONLY:
        data.pop(key, None)
    return data


def borrower_fields(
    message: user_v2.Borrower,
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """A v2 borrower's fields as v1's carry them (ISO text, decimal text, the gender's word),
    a malformed Date, Money or Gender refused naming its field; and the currency its income
    names, if any."""
    fields = request_fields(message)
    values = dict(fields.values)
    values["address"] = MessageToDict(message.address, preserving_proto_field_name=True)
    values["document_refs"] = list(message.document_refs)
    return values, fields.currencies


def borrower_from_v2(
    message: user_v2.Borrower,
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """The fields a client set, as `borrower_from_proto` gives v1's (a zero value is not
    set), and the currency its income names, if any."""
    values, currencies = borrower_fields(message)
    data = {k: v for k, v in values.items() if k not in OUTPUT_ONLY and v not in ("", 0, [], {})}
    return data, currencies


@dataclass(frozen=True)
class Wire:
    """How one version of the contract writes borrowers."""

    #: The module of its messages.
    pb: ModuleType
    #: A stored borrower with the currency of its institution.
    borrower: Callable[[dict[str, Any], str], Any]
    #: Whether `borrower` writes Money (and so needs that currency).
    money: bool
    #: A request's borrower as the fields set and the currencies its amounts name.
    read: Callable[[Any], tuple[dict[str, Any], tuple[tuple[str, str], ...]]]


V1 = Wire(
    pb=user_pb2,
    borrower=borrower_to_proto,
    money=False,
    read=lambda b: (borrower_from_proto(b), ()),
)
V2 = Wire(pb=user_v2, borrower=borrower_to_v2, money=True, read=borrower_from_v2)


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


def group_status_word(value: int) -> str:
    """`GROUP_STATUS_FORMING` -> `forming`; the zero value -> `` (unset)."""
    return enum_word(user_pb2.GroupStatus.DESCRIPTOR, value, "status")
