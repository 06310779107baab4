"""The hash-chained audit log and its verification."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth_service.domain.audit import (
    GENESIS_HASH,
    Actor,
    AuditDraft,
    AuditEntry,
    Target,
    chain_segment,
    format_timestamp,
    verify_chain,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
ACTOR = Actor("u-bm", "branch_manager")


def chain(n: int, institution: str = "inst-1") -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    previous = None
    for i in range(n):
        previous = AuditEntry.append(
            previous,
            institution_id=institution,
            actor=ACTOR,
            action="loans.approve",
            target=Target("loan", f"loan-{i + 1}"),
            request_id=f"req-{i + 1}",
            at=NOW + timedelta(minutes=i),
            summary={"status": {"from": "submitted", "to": "approved"}, "principal": "1000.00"},
        )
        entries.append(previous)
    return entries


def test_an_intact_chain_verifies() -> None:
    entries = chain(5)
    result = verify_chain(entries)
    assert (result.ok, result.checked, result.first_bad_seq, result.reason) == (True, 5, None, None)
    assert result.last_hash == entries[-1].hash
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert verify_chain([]).ok


def test_the_hash_is_sha256_of_the_canonical_json() -> None:
    entry = chain(1)[0]
    expected = {
        "seq": 1,
        "institution_id": "inst-1",
        "actor": {"user_id": "u-bm", "role": "branch_manager"},
        "action": "loans.approve",
        "target": {"kind": "loan", "id": "loan-1"},
        "request_id": "req-1",
        "at": "2026-03-31T09:00:00.000Z",
        "summary": {"status": {"from": "submitted", "to": "approved"}, "principal": "1000.00"},
        "prev_hash": "0" * 64,
    }
    canonical = json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
    assert entry.hash == hashlib.sha256(canonical).hexdigest()


def test_an_edited_summary_is_caught() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], summary={"status": "rejected"})
    result = verify_chain(entries)
    assert (result.ok, result.checked, result.first_bad_seq, result.reason) == (
        False,
        2,
        3,
        "HASH_MISMATCH",
    )
    assert result.last_hash == entries[1].hash


@pytest.mark.parametrize(
    "field", ["institution_id", "actor", "action", "target", "request_id", "at"]
)
def test_editing_any_field_is_caught(field: str) -> None:
    entries = chain(3)
    value: Any = {
        "institution_id": "inst-2",
        "actor": Actor("u-evil", "admin"),
        "action": "loans.reject",
        "target": Target("loan", "loan-99"),
        "request_id": "req-x",
        "at": "2026-03-31T09:00:00.001Z",
    }[field]
    entries[1] = dataclasses.replace(entries[1], **{field: value})
    result = verify_chain(entries)
    assert not result.ok and result.first_bad_seq == 2


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], summary={"status": "rejected"}).with_hash()
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 4, "PREV_HASH_MISMATCH")


def test_a_deleted_entry_is_caught() -> None:
    entries = chain(5)
    del entries[2]
    result = verify_chain(entries)
    assert (result.ok, result.checked, result.first_bad_seq, result.reason) == (
        False,
        2,
        3,
        "SEQ_GAP",
    )


def test_deleting_the_first_entry_is_caught() -> None:
    result = verify_chain(chain(3)[1:])
    assert (result.ok, result.first_bad_seq) == (False, 1)


def test_a_swapped_order_is_caught() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    result = verify_chain(entries)
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 1, 2)


def test_a_duplicated_entry_is_caught() -> None:
    entries = chain(3)
    result = verify_chain([entries[0], entries[1], entries[1], entries[2]])
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, "SEQ_ORDER")


def test_deleting_the_newest_entries_needs_the_recorded_head() -> None:
    entries = chain(5)
    head = (entries[-1].seq, entries[-1].hash)
    assert verify_chain(entries[:-1]).ok  # a shorter chain is self-consistent...
    result = verify_chain(entries[:-1], expected_head=head)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 5, "HEAD_MISMATCH")
    assert verify_chain(entries, expected_head=head).ok


def test_entries_from_another_institution_are_caught() -> None:
    mixed = chain(2, "inst-1") + chain(3, "inst-2")[2:]
    result = verify_chain(mixed)
    assert (result.ok, result.reason) == (False, "INSTITUTION_MISMATCH")


def test_verifying_page_by_page() -> None:
    entries = chain(6)
    first = verify_chain(entries[:3])
    assert first.ok
    assert verify_chain(entries[3:], after=entries[2]).ok
    assert not verify_chain(entries[4:], after=entries[2]).ok


def test_documents_round_trip_and_still_verify() -> None:
    entries = chain(3)
    docs = json.loads(json.dumps([e.to_document() for e in entries]))
    restored = [AuditEntry.from_document(d) for d in docs]
    assert restored == entries
    assert verify_chain(restored).ok


def test_summary_values_are_normalised_and_floats_refused() -> None:
    entry = AuditEntry.append(
        None,
        institution_id="inst-1",
        actor=ACTOR,
        action="repayments.create",
        target=Target("repayment", "r-1"),
        request_id="req-1",
        at=datetime(2026, 3, 31, 9, 0, 0, 123_987, tzinfo=UTC),
        summary={"amount": Decimal("125.50"), "paid_on": NOW.date(), "items": ("a", 1)},
    )
    assert entry.summary == {"amount": "125.50", "paid_on": "2026-03-31", "items": ["a", 1]}
    assert entry.at == "2026-03-31T09:00:00.123Z"  # milliseconds, as MongoDB keeps them
    with pytest.raises(ValueError, match="float"):
        AuditEntry.append(
            None,
            institution_id="inst-1",
            actor=ACTOR,
            action="x.y",
            target=Target("x", "1"),
            request_id="r",
            at=NOW,
            summary={"amount": 1.5},
        )


def test_timestamps_are_utc() -> None:
    from zoneinfo import ZoneInfo

    nairobi = datetime(2026, 3, 31, 12, 0, tzinfo=ZoneInfo("Africa/Nairobi"))
    assert format_timestamp(nairobi) == "2026-03-31T09:00:00.000Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 3, 31))


@given(
    st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
    ),
    st.sampled_from(["edit", "delete", "swap"]),
)
def test_any_single_tampering_is_caught_at_the_right_place(
    size_and_index: tuple[int, int], tamper: str
) -> None:
    size, index = size_and_index
    entries = chain(size)
    if tamper == "edit":
        entries[index] = dataclasses.replace(entries[index], summary={"tampered": True})
    elif tamper == "delete":
        del entries[index]
    else:
        if index == size - 1:
            return
        entries[index], entries[index + 1] = entries[index + 1], entries[index]
    result = verify_chain(entries)
    if tamper == "delete" and index == size - 1:
        assert result.ok  # the end of a chain is only caught with the recorded head
        assert not verify_chain(entries, expected_head=(size, chain(size)[-1].hash)).ok
        return
    assert not result.ok
    assert result.first_bad_seq == index + 1
    assert result.checked == index


def drafts(n: int) -> list[AuditDraft]:
    return [
        AuditDraft.of(
            actor=ACTOR,
            action="loans.repayments",
            target=Target("loan", f"loan-{i}"),
            request_id=f"req-{i}",
            summary={"amount": Decimal("1.50"), "i": i},
        )
        for i in range(n)
    ]


@given(st.integers(min_value=0, max_value=8), st.integers(min_value=0, max_value=8))
def test_a_segment_is_what_appending_one_by_one_gives(before: int, size: int) -> None:
    existing = chain(before)
    head = (existing[-1].seq, existing[-1].hash) if existing else (0, GENESIS_HASH)
    segment = chain_segment(head, drafts(size), institution_id="inst-1", at=NOW)
    previous = existing[-1] if existing else None
    one_by_one = []
    for draft in drafts(size):
        previous = AuditEntry.append(
            previous,
            institution_id="inst-1",
            actor=draft.actor,
            action=draft.action,
            target=draft.target,
            request_id=draft.request_id,
            at=NOW,
            summary=draft.summary,
        )
        one_by_one.append(previous)
    assert segment == one_by_one
    assert [e.seq for e in segment] == list(range(before + 1, before + size + 1))
    whole = existing + segment
    assert verify_chain(whole).ok
    if whole:
        assert verify_chain(whole, expected_head=(whole[-1].seq, whole[-1].hash)).ok


def test_a_draft_holds_json_values_only() -> None:
    (draft,) = drafts(1)
    assert draft.summary == {"amount": "1.50", "i": 0}
    with pytest.raises(ValueError, match="floats"):
        AuditDraft.of(
            actor=ACTOR, action="a.b", target=Target("x", "1"), request_id="r", summary={"f": 1.5}
        )
    with pytest.raises(ValueError, match="required"):
        AuditDraft.of(actor=ACTOR, action="", target=Target("x", "1"), request_id="r")
