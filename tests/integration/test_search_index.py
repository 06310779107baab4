"""reporting_service's search index against a real Elasticsearch: an event's documents go in
one request, an older version never overwrites a newer one, and any other refusal raises
(so the event is handled again rather than lost)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from elasticsearch import AsyncElasticsearch

from reporting_service.adapters.search_index import Indexed, SearchIndex

pytestmark = pytest.mark.integration


@pytest.fixture
async def index(server_urls: dict[str, str]) -> AsyncIterator[SearchIndex]:
    es = AsyncElasticsearch(server_urls["ELASTICSEARCH_URL"])
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
