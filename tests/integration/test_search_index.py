"""reporting_service's search index against a real Elasticsearch: an event's documents go in
one request, an older version never overwrites a newer one, and any other refusal raises
(so the event is handled again rather than lost); a loan's document merged while another
writer changes it is read and merged again, so that both changes stand."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from reporting_service.adapters.search_index import Indexed, SearchIndex, elasticsearch_client
from reporting_service.domain import loan_view

pytestmark = pytest.mark.integration


@pytest.fixture
async def index(server_urls: dict[str, str]) -> AsyncIterator[SearchIndex]:
    es = elasticsearch_client(server_urls["ELASTICSEARCH_URL"])
    search = SearchIndex(es, f"it{secrets.token_hex(4)}")
    await search.ensure_indexes()
    try:
        yield search
    finally:
        for name in (search.borrowers, search.loans, search.repayments):
            await es.indices.delete(index=name, ignore_unavailable=True)
        await es.close()


def repayment(amount_minor: int, *, reversed_: bool = False) -> dict[str, object]:
    return {
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "loan_id": "loan_1",
        "paid_on": "2026-03-31",
        "amount_minor": amount_minor,
        "reversed": reversed_,
    }


async def test_documents_go_together_and_an_older_version_never_overwrites(
    index: SearchIndex,
) -> None:
    await index.put(
        Indexed(index.repayments, "pay_1", 2, repayment(5000, reversed_=True)),
        Indexed(index.repayments, "pay_2", 1, repayment(7000)),
    )
    # A late, older event (the repayment before its reversal) in the same request as a new one.
    await index.put(
        Indexed(index.repayments, "pay_1", 1, repayment(5000)),
        Indexed(index.repayments, "pay_3", 1, repayment(9000)),
    )
    first = await index.es.get(index=index.repayments, id="pay_1")
    assert first["_version"] == 2 and first["_source"]["reversed"] is True
    third = await index.es.get(index=index.repayments, id="pay_3")
    assert third["_source"]["amount_minor"] == 9000


async def test_a_refusal_other_than_an_older_version_raises(index: SearchIndex) -> None:
    with pytest.raises(RuntimeError, match="refused 1 document"):
        await index.put(
            Indexed(index.repayments, "pay_4", 1, repayment(1000)),
            Indexed(index.repayments, "pay_5", 1, {**repayment(1000), "paid_on": "not a date"}),
        )
    kept = await index.es.get(index=index.repayments, id="pay_4")
    assert kept["_source"]["amount_minor"] == 1000


def loan_change(version: int, fact: loan_view.Fact) -> loan_view.LoanChange:
    loan = loan_view.Position(
        loan_id="loan_1",
        institution_id="inst_1",
        branch_id="br_1",
        borrower_id="bor_1",
        currency="KES",
        status="active",
        outstanding_principal=100_000,
        installment_count=0,
    )
    return loan_view.LoanChange(version, loan, fact)


def paid(version: int, payment_id: str) -> loan_view.LoanChange:
    return loan_change(
        version,
        loan_view.RepaymentApplied(payment_id, date(2026, 3, 31), 5_000, 4_000, 5_000),
    )


async def test_a_loan_changed_between_read_and_write_is_read_and_merged_again(
    index: SearchIndex, server_urls: dict[str, str]
) -> None:
    disbursed = loan_change(3, loan_view.Disbursed(date(2026, 1, 1), 100_000))
    await index.merge(index.loans, "loan_1", lambda doc, v: loan_view.merge(doc, disbursed, v))
    seen: list[dict[str, Any] | None] = []

    def change(doc: dict[str, Any] | None, version: int) -> dict[str, Any]:
        seen.append(doc)
        if len(seen) == 1:
            # Another reporting instance writes its event after this one read the document.
            with Elasticsearch(server_urls["ELASTICSEARCH_URL"]) as other:
                current = other.get(index=index.loans, id="loan_1")
                other.index(
                    index=index.loans,
                    id="loan_1",
                    document=loan_view.merge(current["_source"], paid(5, "pay_2")),
                    if_seq_no=current["_seq_no"],
                    if_primary_term=current["_primary_term"],
                )
        return loan_view.merge(doc, paid(4, "pay_1"), version)

    await index.merge(index.loans, "loan_1", change)
    assert len(seen) == 2  # the first write was refused, the second made on what the other wrote
    doc = (await index.es.get(index=index.loans, id="loan_1"))["_source"]
    repayments = doc["snapshot"]["timeline"]["repayments"]
    assert [r["payment_id"] for r in repayments] == ["pay_1", "pay_2"]
    assert doc["snapshot"]["versions"]["position"] == 5
    assert doc["disbursement_date"] == "2026-01-01"


async def test_first_events_of_a_loan_at_once_all_land(index: SearchIndex) -> None:
    async def deliver(change: loan_view.LoanChange) -> None:
        await index.merge(index.loans, "loan_1", lambda doc, v: loan_view.merge(doc, change, v))

    # Each may find no document and create it: a creation refused (one made it first) is retried.
    await asyncio.gather(*(deliver(paid(v, f"pay_{v}")) for v in (1, 2, 3)))
    doc = (await index.es.get(index=index.loans, id="loan_1"))["_source"]
    assert [r["payment_id"] for r in doc["snapshot"]["timeline"]["repayments"]] == [
        "pay_1",
        "pay_2",
        "pay_3",
    ]


async def test_a_redelivered_event_writes_nothing(index: SearchIndex) -> None:
    change = paid(4, "pay_1")
    await index.merge(index.loans, "loan_1", lambda doc, v: loan_view.merge(doc, change, v))
    before = await index.es.get(index=index.loans, id="loan_1")
    await index.merge(index.loans, "loan_1", lambda doc, v: loan_view.merge(doc, change, v))
    after = await index.es.get(index=index.loans, id="loan_1")
    assert after["_seq_no"] == before["_seq_no"]
