"""PackedDocuments: what a repository reads back is what it wrote, whatever the fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.mongo import PACKED, UNPACKED_IN_STORAGE, PackedDocuments

pytestmark = pytest.mark.unit

PACKING = PackedDocuments(frozenset({"institution_id", "status", "version", "outbox"}))

keys = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="$.\x00"), min_size=1
).filter(lambda k: k != UNPACKED_IN_STORAGE)  # the one reserved name
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(st.characters(blacklist_categories=["Cs"])),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=12).map(
    lambda d: {**d, "_id": "loan_1", "institution_id": "inst_1", "status": "active", "version": 3}
)


@given(documents)
def test_a_packed_document_unpacks_to_itself(doc: dict[str, Any]) -> None:
    stored = PACKING.pack(doc)
    assert set(stored) - {PACKED} <= PACKING.top
    assert PACKING.unpack(stored) == doc


@given(documents, st.dictionaries(keys, values, max_size=6))
def test_an_update_stores_the_document_as_changed(
    doc: dict[str, Any], fields: dict[str, Any]
) -> None:
    fields = {k: v for k, v in fields.items() if k not in {"_id", "version"}}
    update = PACKING.update(doc, {"$set": fields, "$inc": {"version": 1}})
    assert update["$inc"] == {"version": 1}
    assert "$unset" not in update
    # What a server does with the update: set the top-level fields and the packed value.
    stored = {**PACKING.pack(doc), **update["$set"], "version": doc["version"] + 1}
    assert PACKING.unpack(stored) == {**doc, **fields, "version": doc["version"] + 1}


def test_a_document_stored_before_packing_is_read_as_is_and_packed_by_its_next_write() -> None:
    legacy = {
        "_id": "loan_1",
        "institution_id": "inst_1",
        "status": "active",
        "version": 3,
        "view": {"rows": "1|2"},
        "term": 12,
    }
    doc = PACKING.unpack(legacy)
    assert doc[UNPACKED_IN_STORAGE] is True
    assert {k: v for k, v in doc.items() if k != UNPACKED_IN_STORAGE} == legacy

    update = PACKING.update(doc, {"$set": {"term": 24, "status": "closed"}})
    assert update["$unset"] == {"view": "", "term": ""}
    assert update["$set"]["status"] == "closed"
    stored = {k: v for k, v in legacy.items() if k not in update["$unset"]}
    stored.update(update["$set"])
    assert PACKING.unpack(stored) == {**legacy, "term": 24, "status": "closed"}
