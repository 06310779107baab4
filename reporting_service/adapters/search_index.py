"""Elasticsearch read models: borrowers (search), loans and repayments (reports).

Only the core query subset (bool/match/term/range/fuzzy, sum and filter aggregations) is used,
so the same code runs on the stripped local build and on a full cluster. Borrowers and
repayments are written whole with external versioning (the aggregate's version), so a late,
older event never overwrites a newer state. A loan's document is merged from its events
instead (`merge`): read, changed, written back only if nobody wrote it in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch, OrjsonSerializer
from elasticsearch.serializer import NdjsonSerializer

from shared.lru import Lru

BORROWER_MAPPING: dict[str, Any] = {
    "properties": {
        "institution_id": {"type": "keyword"},
        "branch_id": {"type": "keyword"},
        "first_name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "last_name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "full_name": {"type": "text"},
        "national_id": {"type": "keyword"},
        "phone": {"type": "keyword"},
        "phone_digits": {"type": "keyword"},
    }
}

LOAN_MAPPING: dict[str, Any] = {
    "properties": {
        "id": {"type": "keyword"},
        "institution_id": {"type": "keyword"},
        "branch_id": {"type": "keyword"},
        "borrower_id": {"type": "keyword"},
        "status": {"type": "keyword"},
        "currency": {"type": "keyword"},
        "rescheduled": {"type": "boolean"},
        "disbursement_date": {"type": "date", "format": "strict_date"},
        "oldest_unpaid_due_date": {"type": "date", "format": "strict_date"},
        "principal_minor": {"type": "long"},
        "outstanding_principal_minor": {"type": "long"},
        "days_past_due": {"type": "integer"},
        "delinquency_bucket": {"type": "keyword"},
        # A group loan's member loan: its group and the group's centre ("" for an individual
        # loan); the portfolio report groups by them.
        "group_id": {"type": "keyword"},
        "center_id": {"type": "keyword"},
        # The day from which the loan changes no figure any more (closed: its last repayment;
        # written off: the write-off); absent while it is active. Lets the trends report skip
        # the loans settled before its range instead of reading the institution's history.
        "settled_on": {"type": "date", "format": "strict_date"},
        "snapshot": {"type": "object", "enabled": False},
    }
}

REPAYMENT_MAPPING: dict[str, Any] = {
    "properties": {
        "institution_id": {"type": "keyword"},
        "branch_id": {"type": "keyword"},
        "loan_id": {"type": "keyword"},
        "paid_on": {"type": "date", "format": "strict_date"},
        "amount_minor": {"type": "long"},
        "reversed": {"type": "boolean"},
    }
}


#: The status of a document whose newer version is already indexed (`external_gte`).
CONFLICT = 409

#: How many documents `merge` keeps after writing them, the least recently used dropped.
HELD_DOCUMENTS = 10_000

#: A document as read for a merge: its source (None: none), seq_no, primary term, version.
Held = tuple[dict[str, Any] | None, int, int, int]

#: Attempts of one merge before giving up (the event is then handled again): each conflict
#: means another writer changed the document in between, which is rare for one loan.
MERGE_ATTEMPTS = 10


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """Bulk bodies encoded with orjson: the client's NDJSON encoder is the standard library's
    even with `OrjsonSerializer`, and it was the consumer's hottest frame (a loan's document
    is written whole on every event)."""

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)


def elasticsearch_client(url: str) -> AsyncElasticsearch:
    """The client the read models use: orjson for JSON and NDJSON bodies and answers."""
    return AsyncElasticsearch(
        url,
        request_timeout=30,
        # The client maps the compatibility mimetypes it sends to these too.
        serializers={
            "application/json": OrjsonSerializer(),
            "application/x-ndjson": OrjsonNdjsonSerializer(),
        },
    )


def _whole(docs: Iterable[Indexed]) -> list[dict[str, Any]]:
    """The bulk operations writing `docs` whole, each unless a newer version is there."""
    operations: list[dict[str, Any]] = []
    for d in docs:
        action = {"_index": d.index, "_id": d.doc_id, "version": d.version}
        operations += [{"index": {**action, "version_type": "external_gte"}}, d.doc]
    return operations


def _raise_refused(results: Iterable[dict[str, Any]]) -> None:
    """Raises for any write refused other than for a newer version already there (so the
    event is handled again)."""
    failed = [r for r in results if r.get("error") and r.get("status") != CONFLICT]
    if failed:
        raise RuntimeError(f"Elasticsearch refused {len(failed)} document(s): {failed[:3]}")


@dataclass(frozen=True)
class Indexed:
    """One document to index under an external version (the aggregate's version)."""

    index: str
    doc_id: str
    version: int
    doc: dict[str, Any]


class SearchIndex:
    def __init__(self, es: AsyncElasticsearch, namespace: str) -> None:
        self.es = es
        # The loan documents last read or written, oldest first (`merge`).
        self._held: Lru[tuple[str, str], Held] = Lru(HELD_DOCUMENTS)
        self.borrowers = f"{namespace}-borrowers"
        self.loans = f"{namespace}-loans"
        self.repayments = f"{namespace}-repayments"

    async def ensure_indexes(self) -> None:
        await self.es.cluster.health(wait_for_status="yellow", timeout="60s")
        for name, mapping in (
            (self.borrowers, BORROWER_MAPPING),
            (self.loans, LOAN_MAPPING),
            (self.repayments, REPAYMENT_MAPPING),
        ):
            if not await self.es.indices.exists(index=name):
                await self.es.options(ignore_status=400).indices.create(
                    index=name,
                    mappings=mapping,
                    settings={"number_of_shards": 1, "number_of_replicas": 0},
                )
            else:
                # An index made by an earlier release gains the fields added since (adding
                # fields is the only mapping change Elasticsearch allows in place).
                await self.es.indices.put_mapping(index=name, properties=mapping["properties"])

    async def put(self, *docs: Indexed) -> None:
        """Indexes each document unless a newer version of it is already there, all in one
        request (an event's loan and its repayment: one round trip, not two). Any refusal
        other than that version conflict raises, so the event is handled again."""
        # No refresh wait: a document becomes searchable within the index's refresh
        # interval (1 s), and the event consumer does not stall on every write.
        reply = await self.es.bulk(operations=_whole(docs))
        if reply.get("errors"):
            _raise_refused([item["index"] for item in reply["items"]])

    async def merge(
        self,
        index: str,
        doc_id: str,
        change: Callable[[dict[str, Any] | None, int], dict[str, Any]],
        *also: Indexed,
    ) -> None:
        """Writes `change(document, version)` over the document as it is now (None, 0: there
        is none; the version is Elasticsearch's: the external one a whole write gave it),
        unless another writer changed it after it was read: then reads and changes it again.
        `also` (written whole, external versions) go in the same request. Optimistic
        concurrency (`if_seq_no`), not a script: the stripped local build has no scripting.
        `change` may run several times, so it must not have side effects, and must not
        change the document it is given (the last one written is held, not read again)."""
        key = (index, doc_id)
        for attempt in range(MERGE_ATTEMPTS):
            held = self._held.pop(key) if attempt == 0 else None
            if held is None:
                held = await self._read(index, doc_id)
            current, seq_no, primary_term, version = held
            merged = change(current, version)
            if merged == current:
                # A redelivery, or an older event that changes nothing the loan's shows.
                self._hold(key, held)
                if also:
                    await self.put(*also)
                return
            target = {"_index": index, "_id": doc_id}
            action = (
                {"create": target}
                if current is None
                else {"index": {**target, "if_seq_no": seq_no, "if_primary_term": primary_term}}
            )
            reply = await self.es.bulk(operations=[action, merged, *_whole(also)])
            (first, *others) = [next(iter(item.values())) for item in reply["items"]]
            _raise_refused(others)
            if first.get("status") == CONFLICT:
                continue  # another writer came first: read its document, merge again
            if first.get("error"):
                raise RuntimeError(f"Elasticsearch refused {index}/{doc_id}: {first['error']}")
            self._hold(key, (merged, first["_seq_no"], first["_primary_term"], 0))
            return
        raise RuntimeError(f"{index}/{doc_id} kept changing: {MERGE_ATTEMPTS} attempts failed")

    async def _read(self, index: str, doc_id: str) -> Held:
        # A realtime GET sees the last write even before the index refreshes.
        found = await self.es.options(ignore_status=404).get(index=index, id=doc_id, realtime=True)
        if not found.get("found"):
            return None, 0, 0, 0
        return found["_source"], found["_seq_no"], found["_primary_term"], found["_version"]

    def _hold(self, key: tuple[str, str], held: Held) -> None:
        """Keeps the document last read or written (the next event of the loan, usually
        soon, merges into it without reading it again; a write by anyone else since makes
        the `if_seq_no` write fail, and it is read again)."""
        if held[0] is None:
            return
        self._held.put(key, held)

    async def full_names(self, borrower_ids: Iterable[str]) -> dict[str, str]:
        """The indexed full name of each borrower found, by id (one request per 1,000)."""
        ids = sorted(set(borrower_ids))
        names: dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            reply = await self.es.mget(
                index=self.borrowers, ids=ids[start : start + 1000], source=["full_name"]
            )
            names.update(
                (doc["_id"], doc["_source"].get("full_name", ""))
                for doc in reply["docs"]
                if doc.get("found")
            )
        return names

    async def search(
        self,
        index: str,
        query: dict[str, Any],
        *,
        size: int,
        search_after: list[Any] | None = None,
        sort: list[Any] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"index": index, "query": query, "size": size}
        if sort:
            kwargs["sort"] = sort
        if search_after:
            kwargs["search_after"] = search_after
        return dict(await self.es.search(**kwargs))

    async def aggregate(
        self, index: str, query: dict[str, Any], aggs: dict[str, Any]
    ) -> dict[str, Any]:
        reply = await self.es.search(
            index=index, query=query, aggs=aggs, size=0, track_total_hits=True
        )
        return dict(reply["aggregations"])

    async def scan(
        self, index: str, query: dict[str, Any], *, batch: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        after: list[Any] | None = None
        while True:
            # Sorting on _id is disabled in recent Elasticsearch: documents carry `id`.
            reply = await self.search(
                index, query, size=batch, search_after=after, sort=[{"id": "asc"}]
            )
            hits = reply["hits"]["hits"]
            for hit in hits:
                yield hit["_source"] | {"_id": hit["_id"]}
            if len(hits) < batch:
                return
            after = hits[-1]["sort"]
