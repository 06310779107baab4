"""Borrowers: KYC profiles, edits with history, consents, transfers, search."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from google.protobuf.field_mask_pb2 import FieldMask

from gateway.borrowers.schemas import (
    Borrower,
    BorrowerBody,
    BorrowerHit,
    BorrowerPatch,
    BorrowerVersion,
    ConsentBody,
    KycStatusBody,
    TransferBody,
)
from gateway.convert import enum_words, from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from kopa.reporting.v2 import reporting_pb2
from kopa.user.v1 import documents_pb2, kyc_pb2
from kopa.user.v1 import user_pb2 as user_v1
from kopa.user.v2 import user_pb2
from shared.dates import parse_date
from shared.errors import ValidationError
from shared.money import check_amount_text, to_money
from shared.permissions import Permission as P

router = APIRouter(tags=["borrowers"])

SEARCH_LENGTH = 200


GENDER_WORDS = enum_words(user_pb2.Gender.DESCRIPTOR)


def borrower(message: user_pb2.Borrower | user_v1.Borrower) -> Borrower:
    """The borrower as kopa.user.v2 writes it, or v1 (DocumentService answers v1's)."""
    # proto3 has no null: an unset household size travels as 0.
    return from_proto(Borrower, message, household_size=message.household_size or None)


def _income(text: str) -> Any:
    # Zero is an income; whether it has too many decimals for the institution's currency is
    # user_service's to say. Malformed text is told what user_service tells it
    # (user_service.domain.borrowers.INCOME_MALFORMED).
    try:
        check_amount_text(text, "monthly_income", allow_zero=True)
    except ValidationError:
        raise ValidationError.of(
            "monthly_income", "must be a non-negative decimal string"
        ) from None
    return to_money(Decimal(text), field="monthly_income")


def _gender(word: str) -> str:
    if word not in GENDER_WORDS:
        raise ValidationError.of("gender", f"must be one of {', '.join(GENDER_WORDS)}")
    return word


def typed_borrower(body: BorrowerBody | BorrowerPatch) -> user_pb2.Borrower:
    """The body as kopa.user.v2's borrower. Its birth date, income and gender are text in the
    API (see `schemas`) and typed on the wire: each malformed one is refused here, all of them
    at once, with the message user_service gives; an empty one is not given."""
    given = body.model_dump(exclude_none=True, exclude={"expected_version"})
    errors: list[tuple[str, str]] = []
    typed: dict[str, Any] = {}
    readers: dict[str, Callable[[str], Any]] = {
        # In the order user_service judges them.
        "date_of_birth": lambda t: parse_date(t, "date_of_birth"),
        "gender": _gender,
        "monthly_income": _income,
    }
    for name, read in readers.items():
        text = given.pop(name, "")
        if text:
            try:
                typed[name] = read(text)
            except ValidationError as exc:
                errors.extend(exc.field_errors)
    if errors:
        # Worded as user_service words a profile it refuses, so the 422 reads the same.
        raise ValidationError(
            "the borrower profile is invalid: " + "; ".join(f"{f} {m}" for f, m in errors),
            field_errors=errors,
        )
    income = typed.pop("monthly_income", None)
    message = to_proto(user_pb2.Borrower, given | typed)
    if income is not None:
        message.monthly_income.CopyFrom(income)
    return message


@router.post(
    "/v1/borrowers",
    status_code=201,
    summary="Register a borrower",
    dependencies=[allowed(P.BORROWERS_CREATE)],
)
async def create_borrower(body: BorrowerBody, stubs: Stubs) -> Borrower:
    """Registers a borrower's KYC profile in the caller's institution, in `branch_id` (an
    agent's or branch manager's own branch by default) and in the care of `agent_id` (the
    calling agent by default). Names, national ID, phone and birth date are checked together
    and every bad one is named in one 422; a national ID or phone already registered in the
    institution is a 409 (`DUPLICATE_NATIONAL_ID`, `DUPLICATE_PHONE`) naming the borrower
    who holds it."""
    reply = await stubs.user.CreateBorrower(
        user_pb2.CreateBorrowerRequest(borrower=typed_borrower(body))
    )
    return borrower(reply.borrower)


@router.get(
    "/v1/borrowers",
    summary="List or search borrowers",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def list_or_search_borrowers(
    stubs: Stubs,
    q: Annotated[
        str,
        Query(
            description="search text: typo-tolerant on names, exact on national ID and phone "
            f"(its first {SEARCH_LENGTH} characters are used); empty to list"
        ),
    ] = "",
    branch_id: Annotated[
        str, Query(description="when listing, only this branch's borrowers; ignored by search")
    ] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Borrower] | Page[BorrowerHit]:
    """Without `q`, a page of full borrower profiles (`Borrower`), optionally of one branch.
    With `q`, the best `page_size` search hits (at most 100, in one page) as `BorrowerHit`:
    id, names, national ID, phone and branch only; the search index follows changes within
    seconds. Agents and branch managers only see their branch's borrowers."""
    if q:
        found = await stubs.reporting.SearchBorrowers(
            reporting_pb2.SearchBorrowersRequest(
                query=q[:SEARCH_LENGTH], page_size=page_size, page_token=page_token
            )
        )
        return Page[BorrowerHit](
            items=[from_proto(BorrowerHit, h) for h in found.borrowers],
            next_page_token=found.next_page_token,
        )
    reply = await stubs.user.ListBorrowers(
        user_pb2.ListBorrowersRequest(
            branch_id=branch_id, page_size=page_size, page_token=page_token
        )
    )
    return Page[Borrower](
        items=[borrower(b) for b in reply.borrowers], next_page_token=reply.next_page_token
    )


@router.get(
    "/v1/borrowers/{borrower_id}",
    summary="Get a borrower",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def get_borrower(borrower_id: str, stubs: Stubs) -> Borrower:
    """The borrower's full profile, with consents and branch/agent history. Another
    institution's borrower, or for branch staff another branch's, is a 404."""
    reply = await stubs.user.GetBorrower(user_pb2.GetBorrowerRequest(borrower_id=borrower_id))
    return borrower(reply.borrower)


@router.patch(
    "/v1/borrowers/{borrower_id}",
    summary="Edit a borrower",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def update_borrower(borrower_id: str, body: BorrowerPatch, stubs: Stubs) -> Borrower:
    """Changes the profile fields sent, checked as at registration, and records the edit
    (who, when, each field's old and new value) as a new version. Send `expected_version`
    to refuse the edit (422 naming it) if someone changed the borrower since you read it.
    Branch, agent and group change through their own operations. An edit that changes
    nothing returns the borrower as it is, with the same version."""
    # A field sent as null is named with its zero value: cleared, or refused if required.
    paths = sorted(body.model_fields_set - {"expected_version"})
    reply = await stubs.user.UpdateBorrower(
        user_pb2.UpdateBorrowerRequest(
            borrower_id=borrower_id,
            borrower=typed_borrower(body),
            update_mask=FieldMask(paths=paths),
            expected_version=body.expected_version or 0,
        )
    )
    return borrower(reply.borrower)


@router.get(
    "/v1/borrowers/{borrower_id}/versions",
    summary="A borrower's edit history",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def borrower_versions(borrower_id: str, stubs: Stubs) -> Page[BorrowerVersion]:
    """Every edit of the borrower's profile, oldest first, in one page: who changed which
    fields from what to what. Registration is version 1 and has no entry."""
    reply = await stubs.user.ListBorrowerVersions(
        user_pb2.ListBorrowerVersionsRequest(borrower_id=borrower_id)
    )
    return Page[BorrowerVersion](
        items=[
            from_proto(BorrowerVersion, v, changes=json.loads(v.changes_json or "{}"))
            for v in reply.versions
        ],
        next_page_token="",
    )


@router.post(
    "/v1/borrowers/{borrower_id}/consents",
    status_code=201,
    summary="Record a consent",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def record_consent(borrower_id: str, body: ConsentBody, stubs: Stubs) -> Borrower:
    """Records that the borrower agreed to something (a credit bureau check, data sharing),
    with the version of the text shown, the time and the recording user. Returns the
    borrower with the consent appended to `consents`."""
    reply = await stubs.user.RecordConsent(
        to_proto(user_pb2.RecordConsentRequest, body, borrower_id=borrower_id)
    )
    return borrower(reply.borrower)


@router.post(
    "/v1/borrowers/{borrower_id}/transfer",
    summary="Move a borrower to another branch or agent",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def transfer_borrower(borrower_id: str, body: TransferBody, stubs: Stubs) -> Borrower:
    """Moves the borrower to another branch and/or loan officer of the institution, with a
    reason; the move is appended to `assignments`, so the history is kept."""
    reply = await stubs.user.TransferBorrower(
        to_proto(user_pb2.TransferBorrowerRequest, body, borrower_id=borrower_id)
    )
    return borrower(reply.borrower)


@router.put(
    "/v1/borrowers/{borrower_id}/kyc-status",
    summary="Set a borrower's KYC status",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def set_kyc_status(borrower_id: str, body: KycStatusBody, stubs: Stubs) -> Borrower:
    """Records where the borrower's KYC review stands. Anyone who may edit the borrower sends
    the file to `pending_review`; `verified` and `rejected` need `borrowers:verify` (branch
    managers and admins) and someone other than whoever registered the borrower (409
    `KYC_SELF_REVIEW`). The change and its note are kept in the borrower's versions and in
    the audit log; setting the status the borrower has changes nothing."""
    reply = await stubs.documents.SetKycStatus(
        documents_pb2.SetKycStatusRequest(
            borrower_id=borrower_id,
            status=kyc_pb2.KycStatus.Value(f"KYC_STATUS_{body.status.upper()}"),
            note=body.note or "",
        )
    )
    return borrower(reply.borrower)
