"""FerretDB v1 backends (SQLite vs PostgreSQL) on Kopa's own MongoDB access patterns.

Prints one table: ops/s and p50/p99 latency per pattern and backend, then a check of the
MongoDB features FerretDB v1 is said not to support. The numbers chose the default backend
of deploy/local/infra.sh (KOPA_FERRETDB_BACKEND): PostgreSQL. Results and the features found
missing or wrong are in deploy/local/README.md. In short, at 10k loans: update_one
{_id, version} 221/s (p50 3.5 ms) on PostgreSQL against 0.1/s (9.9 s) on SQLite, whose
backend scans every document for each query.

Usage (as root, after `deploy/local/infra.sh install ferretdb postgresql`):

    # spawn one FerretDB per backend on spare ports (27117 sqlite, 27118 postgresql), fresh data;
    # the postgresql one needs PostgreSQL: `deploy/local/infra.sh start postgresql`
    .venv/bin/python bench/ferretdb_backends.py --spawn

    # or measure servers that already run
    .venv/bin/python bench/ferretdb_backends.py --target sqlite=mongodb://127.0.0.1:27017/

Options: --docs N (collection size, default 10000), --large N (also run (e) and (g) at N docs,
0 to skip; default 100000), --seconds S (time budget per pattern, default 6), --no-features.

Patterns (single client, one operation at a time, as a service handler does them):
  a  insert_one of a ~2 KB loan (12-52 installment schedule, outbox array)
  b  find_one by _id
  c  update_one {_id, version} with $set + $push outbox + $inc version (optimistic concurrency)
  d  update_one clearing the outbox ($set outbox: [])
  e  find_one by institution_id + national_id (unique compound index)
  f  find_one_and_update upsert by _id ($setOnInsert: idempotency key)
  f2 find_one_and_update job lease: {status: PENDING, lease_until < now} sort _id, $set lease
  g  list page: {institution_id, status} sort _id limit 50
  h  aggregate $match + $group with $sum
  i  bulk_write of 1000 UpdateOne by _id (ops/s counts single updates)
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bson
import pymongo
from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import OperationFailure, PyMongoError

INSTITUTIONS = 20
STATUSES = ("PENDING", "APPROVED", "ACTIVE", "CLOSED")
UTC = dt.UTC
BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=UTC)


def loan_doc(i: int, rng: random.Random) -> dict:
    term = rng.randint(12, 52)
    principal = rng.randint(5_000, 500_000) * 100
    per = principal // term
    # compact installments (~50 B BSON each) so that a loan averages about 2 KB
    schedule = [
        {"n": k + 1, "due": BASE_TIME + dt.timedelta(weeks=k + 1), "amount_minor": per + per // 10}
        for k in range(term)
    ]
    return {
        "_id": ObjectId(),
        "institution_id": f"inst-{i % INSTITUTIONS:03d}",
        "national_id": f"NID{i:09d}",
        "borrower": {
            "name": f"Borrower {i} Wanjiru",
            "phone": f"+2547{i % 100_000_000:08d}",
            "branch": f"branch-{i % 37}",
        },
        "product_id": f"prod-{i % 7}",
        "status": STATUSES[(i // INSTITUTIONS) % len(STATUSES)],
        "principal_minor": principal,
        "currency": "KES",
        "rate_bps": 1800 + i % 400,
        "term_weeks": term,
        "created_at": BASE_TIME + dt.timedelta(minutes=i),
        "version": 1,
        "schedule": schedule,
        "outbox": [],
    }


@dataclass
class Result:
    pattern: str
    n: int
    seconds: float
    lat: list[float] = field(default_factory=list)
    per_op: int = 1  # operations represented by one latency sample (bulk_write)
    note: str = ""

    @property
    def ops_s(self) -> float:
        return self.n * self.per_op / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.lat:
            return float("nan")
        s = sorted(self.lat)
        return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


def timed(pattern: str, fn: Callable[[int], object], max_ops: int, budget_s: float) -> Result:
    """Run fn one call at a time until max_ops calls or budget_s seconds (at least one call)."""
    lat: list[float] = []
    start = time.perf_counter()
    i = 0
    while i < max_ops and (i == 0 or (time.perf_counter() - start) < budget_s):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
        i += 1
    return Result(pattern, i, time.perf_counter() - start, lat)


def load(coll, n: int, seed: int) -> tuple[float, list[dict]]:
    rng = random.Random(seed)
    docs = [loan_doc(i, rng) for i in range(n)]
    t0 = time.perf_counter()
    for k in range(0, n, 1000):
        coll.insert_many(docs[k : k + 1000], ordered=False)
    return time.perf_counter() - t0, docs


def loans_collection(db, name: str):
    coll = db[name]
    coll.drop()
    coll.create_index([("institution_id", 1), ("national_id", 1)], unique=True, name="inst_nid")
    coll.create_index([("institution_id", 1), ("status", 1)], name="inst_status")
    return coll


# a pattern: (name, function of the call number, max calls, operations per call)
Pattern = tuple[str, Callable[[int], object], int, int]
NOTES: list[str] = []
BULK_SIZES: dict[str, dict[str, int]] = {}


def patterns_10k(
    db, backend: str, n_docs: int, log: Callable[[str], None]
) -> tuple[list[Pattern], str]:
    loans = loans_collection(db, "loans")
    load_s, docs = load(loans, n_docs, seed=1)
    avg_size = statistics.mean(len(bson.encode(d)) for d in docs[:500])
    rate = n_docs / load_s
    log(f"loaded {n_docs} loans in {load_s:.1f} s ({rate:.0f} docs/s), avg {avg_size:.0f} B")
    rng = random.Random(2)
    extra_rng = random.Random(3)
    ids = [d["_id"] for d in docs]
    versions = {d["_id"]: 1 for d in docs}

    def occ_update(i: int) -> None:
        _id = rng.choice(ids)
        v = versions[_id]
        r = loans.update_one(
            {"_id": _id, "version": v},
            {
                "$set": {"status": "ACTIVE", "updated_at": dt.datetime.now(UTC)},
                "$push": {"outbox": {"id": str(ObjectId()), "type": "loan.repaid", "v": v + 1}},
                "$inc": {"version": 1},
            },
        )
        if r.modified_count != 1:
            raise AssertionError(f"version guard failed for {_id}: {r.raw_result}")
        versions[_id] = v + 1

    idem = db["idempotency"]
    idem.drop()

    def idem_key(i: int) -> None:
        idem.find_one_and_update(
            {"_id": f"req-{rng.randrange(2 * n_docs)}"},
            {"$setOnInsert": {"response": {"loan_id": "x"}, "at": dt.datetime.now(UTC)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    jobs = db["jobs"]
    jobs.drop()
    jobs.create_index([("status", 1), ("lease_until", 1)], name="status_lease")
    jobs.insert_many(
        [
            {"status": "PENDING", "lease_until": BASE_TIME, "kind": "accrue", "loan_id": str(i)}
            for i in ids
        ]
    )

    def lease(i: int) -> None:
        now = dt.datetime.now(UTC)
        jobs.find_one_and_update(
            {"status": "PENDING", "lease_until": {"$lt": now}},
            {"$set": {"status": "LEASED", "lease_until": now + dt.timedelta(seconds=30)}},
            sort=[("_id", 1)],
            return_document=ReturnDocument.AFTER,
        )

    def aggregate(i: int) -> list:
        inst = f"inst-{rng.randrange(INSTITUTIONS):03d}"
        return list(
            loans.aggregate(
                [
                    {"$match": {"institution_id": inst}},
                    {"$group": {"_id": "$status", "principal": {"$sum": "$principal_minor"}}},
                ]
            )
        )

    bulk_size = BULK_SIZES.setdefault(backend, {"n": 1000})

    def bulk_of(size: int) -> None:
        ops = [
            UpdateOne(
                {"_id": rng.choice(ids)},
                {"$inc": {"accrued_minor": 17}, "$set": {"accrued_at": BASE_TIME}},
            )
            for _ in range(size)
        ]
        r = loans.bulk_write(ops, ordered=False)
        if r.matched_count != size:
            raise AssertionError(r.bulk_api_result)

    # probe with 20 updates (not timed): a backend that needs more than 30 ms per update
    # would take over 30 s per 1000-update bulk, so it is measured with bulks of 20
    t = time.perf_counter()
    bulk_of(20)
    per_update = (time.perf_counter() - t) / 20
    if per_update > 0.03:
        bulk_size["n"] = 20
        NOTES.append(
            f"{backend}: i measured with bulks of 20 updates "
            f"(a 1000-update bulk would take ~{per_update * 1000:.0f} s)"
        )

    def bulk(i: int) -> None:
        bulk_of(bulk_size["n"])

    patterns: list[Pattern] = [
        (
            "a insert_one ~2 KB loan",
            lambda i: loans.insert_one(loan_doc(n_docs + i, extra_rng)),
            2000,
            1,
        ),
        ("b find_one {_id}", lambda i: _expect(loans.find_one({"_id": rng.choice(ids)})), 5000, 1),
        ("c update_one {_id,version} $set+$push+$inc", occ_update, 3000, 1),
        (
            "d update_one {_id} $set outbox:[]",
            lambda i: loans.update_one({"_id": rng.choice(ids)}, {"$set": {"outbox": []}}),
            3000,
            1,
        ),
        (
            "e find_one {institution_id,national_id}",
            lambda i: _by_national_id(loans, docs, rng),
            3000,
            1,
        ),
        ("f find_one_and_update upsert (idem key)", idem_key, 3000, 1),
        ("f2 find_one_and_update job lease", lease, 2000, 1),
        ("g page {inst,status} sort _id limit 50", lambda i: _page(loans, rng), 2000, 1),
        ("h aggregate $match+$group $sum", aggregate, 500, 1),
        ("i bulk_write 1000 UpdateOne (per update)", bulk, 20, 1000),
    ]
    return (
        patterns,
        f"{n_docs / load_s:.0f} docs/s (insert_many 1000/batch, avg {avg_size:.0f} B BSON)",
    )


def patterns_large(db, n_large: int, log: Callable[[str], None]) -> list[Pattern]:
    loans = loans_collection(db, "loans_large")
    load_s, docs = load(loans, n_large, seed=11)
    log(f"loaded {n_large} loans in {load_s:.1f} s ({n_large / load_s:.0f} docs/s)")
    rng = random.Random(12)
    k = n_large // 1000
    return [
        (
            f"b find_one {{_id}} @{k}k",
            lambda i: _expect(loans.find_one({"_id": docs[rng.randrange(n_large)]["_id"]})),
            3000,
            1,
        ),
        (
            f"e find_one {{institution_id,national_id}} @{k}k",
            lambda i: _by_national_id(loans, docs, rng),
            2000,
            1,
        ),
        (f"g page {{inst,status}} sort _id limit 50 @{k}k", lambda i: _page(loans, rng), 1000, 1),
    ]


def _expect(doc):
    if doc is None:
        raise AssertionError("expected a document")
    return doc


def _by_national_id(coll, docs: list[dict], rng: random.Random) -> dict:
    d = docs[rng.randrange(len(docs))]
    return _expect(
        coll.find_one({"institution_id": d["institution_id"], "national_id": d["national_id"]})
    )


def _page(coll, rng: random.Random) -> list:
    page = list(
        coll.find(
            {
                "institution_id": f"inst-{rng.randrange(INSTITUTIONS):03d}",
                "status": rng.choice(STATUSES),
            },
            {"schedule": 0},
        )
        .sort("_id", 1)
        .limit(50)
    )
    if not page:
        raise AssertionError("empty page")
    return page


def run_interleaved(
    per_backend: dict[str, list[Pattern]], budget: float, log: Callable[[str], None]
) -> dict[str, dict[str, Result]]:
    """Run each pattern on every backend in turn, so background load hits all alike."""
    table: dict[str, dict[str, Result]] = {}
    names = list(per_backend)
    for idx in range(len(per_backend[names[0]])):
        for name in names:
            pname, fn, max_ops, per_op = per_backend[name][idx]
            r = timed(pname, fn, max_ops, budget)
            r.per_op = BULK_SIZES.get(name, {}).get("n", per_op) if per_op > 1 else per_op
            table.setdefault(pname, {})[name] = r
            log(
                f"{name}: {pname}: {r.ops_s:.0f} ops/s "
                f"p50 {r.pct(0.5):.2f} ms p99 {r.pct(0.99):.2f} ms (n={r.n})"
            )
    return table


# ---------------------------------------------------------------------------------------
# features said to be unsupported


def feature_checks(client: pymongo.MongoClient, dbname: str) -> list[tuple[str, str]]:
    db = client[dbname]
    c = db["features"]
    c.drop()
    out: list[tuple[str, str]] = []

    def attempt(name: str, fn: Callable[[], str]) -> None:
        try:
            out.append((name, fn()))
        except OperationFailure as e:
            details = e.details or {}
            out.append(
                (
                    name,
                    f"error {e.code} {details.get('codeName', '')}: "
                    f"{str(details.get('errmsg', e))[:90]}",
                )
            )
        except PyMongoError as e:
            out.append((name, f"{type(e).__name__}: {str(e)[:100]}"))
        except AssertionError as e:
            out.append((name, f"WRONG RESULT: {e}"))

    def txn_abort() -> str:
        with client.start_session() as s:
            s.start_transaction()
            try:
                c.insert_one({"_id": "txn-a"}, session=s)
                s.abort_transaction()
                msg = "insert inside the transaction accepted"
            except PyMongoError as e:
                msg = f"insert inside the transaction FAILED ({type(e).__name__}: {str(e)[:60]})"
        kept = c.find_one({"_id": "txn-a"}) is not None
        return f"{msg}; after abort the document {'EXISTS' if kept else 'does not exist'}"

    def txn_commit() -> str:
        with client.start_session() as s:
            s.start_transaction()
            try:
                c.insert_one({"_id": "txn-c1"}, session=s)
                c.insert_one({"_id": "txn-c2"}, session=s)
                s.commit_transaction()
                msg = "commit_transaction succeeded"
            except PyMongoError as e:
                msg = f"FAILED at the first write ({type(e).__name__})"
        kept = c.count_documents({"_id": {"$in": ["txn-c1", "txn-c2"]}})
        return f"{msg}; {kept}/2 writes visible afterwards"

    def session_no_txn() -> str:
        with client.start_session() as s:
            c.insert_one({"_id": "sess"}, session=s)
            assert c.find_one({"_id": "sess"}, session=s) is not None
        return "works (sessions without transactions are fine)"

    def lookup() -> str:
        c.insert_one({"_id": "l1", "ref": "r1"})
        db["refs"].insert_one({"_id": "r1", "x": 1})
        r = list(
            c.aggregate(
                [
                    {"$match": {"_id": "l1"}},
                    {
                        "$lookup": {
                            "from": "refs",
                            "localField": "ref",
                            "foreignField": "_id",
                            "as": "j",
                        }
                    },
                ]
            )
        )
        return f"works: {r}"

    def array_filters() -> str:
        c.insert_one({"_id": "af", "schedule": [{"n": 1, "s": "DUE"}, {"n": 2, "s": "DUE"}]})
        c.update_one(
            {"_id": "af"}, {"$set": {"schedule.$[x].s": "PAID"}}, array_filters=[{"x.n": 1}]
        )
        return f"works: {c.find_one({'_id': 'af'})['schedule']}"

    def positional() -> str:
        c.insert_one({"_id": "pos", "schedule": [{"n": 1, "s": "DUE"}, {"n": 2, "s": "DUE"}]})
        r = c.update_one({"_id": "pos", "schedule.n": 2}, {"$set": {"schedule.$.s": "PAID"}})
        got = c.find_one({"_id": "pos"})["schedule"]
        assert got[1]["s"] == "PAID", f"matched {r.matched_count}, schedule {got}"
        return "works"

    def dotted_int_query() -> str:
        c.insert_one({"_id": "dq", "schedule": [{"n": 1, "s": "DUE"}, {"n": 2, "s": "DUE"}]})
        n_int = c.count_documents({"_id": "dq", "schedule.n": 2})
        n_str = c.count_documents({"_id": "dq", "schedule.s": "DUE"})
        assert (n_int, n_str) == (1, 1), f"schedule.n: 2 -> {n_int}, schedule.s: 'DUE' -> {n_str}"
        return "works"

    def dotted_index_set() -> str:
        c.insert_one({"_id": "dot", "schedule": [{"n": 1, "s": "DUE"}, {"n": 2, "s": "DUE"}]})
        c.update_one({"_id": "dot"}, {"$set": {"schedule.1.s": "PAID"}})
        got = c.find_one({"_id": "dot"})["schedule"]
        assert got[1]["s"] == "PAID", got
        return "works"

    def partial_index() -> str:
        c.create_index(
            [("national_id", 1)],
            unique=True,
            partialFilterExpression={"national_id": {"$exists": True}},
            name="partial_nid",
        )
        return "created (check enforcement separately)"

    def ttl_index() -> str:
        c.create_index([("expires_at", 1)], expireAfterSeconds=60, name="ttl")
        return "created"

    def text_index() -> str:
        c.create_index([("name", "text")], name="text")
        return "created"

    def multi_sum() -> str:
        c.insert_many([{"g": "x", "a": 1, "b": 10}, {"g": "x", "a": 2, "b": 20}])
        r = list(
            c.aggregate(
                [
                    {"$match": {"g": "x"}},
                    {
                        "$group": {
                            "_id": "$g",
                            "sa": {"$sum": "$a"},
                            "sb": {"$sum": "$b"},
                            "n": {"$sum": 1},
                        }
                    },
                ]
            )
        )
        assert r == [{"_id": "x", "sa": 3, "sb": 30, "n": 2}], r
        return f"correct: {r}"

    def other_accumulators() -> str:
        r = list(
            c.aggregate([{"$match": {"g": "x"}}, {"$group": {"_id": "$g", "m": {"$max": "$a"}}}])
        )
        return f"$max works: {r}"

    def facet() -> str:
        r = list(c.aggregate([{"$facet": {"a": [{"$count": "n"}]}}]))
        return f"works: {r}"

    def pull_condition() -> str:
        c.insert_one({"_id": "pull", "outbox": [{"id": "e1"}, {"id": "e2"}]})
        c.update_one({"_id": "pull"}, {"$pull": {"outbox": {"id": "e1"}}})
        got = c.find_one({"_id": "pull"})["outbox"]
        assert got == [{"id": "e2"}], got
        return "works"

    def pull_in() -> str:
        c.insert_one({"_id": "pullin", "outbox": [{"id": "e1"}, {"id": "e2"}, {"id": "e3"}]})
        c.update_one({"_id": "pullin"}, {"$pull": {"outbox": {"id": {"$in": ["e1", "e2"]}}}})
        got = c.find_one({"_id": "pullin"})["outbox"]
        assert got == [{"id": "e3"}], got
        return "works"

    def pull_all() -> str:
        c.insert_one({"_id": "pullall", "outbox": [{"id": "e1"}, {"id": "e2"}]})
        c.update_one({"_id": "pullall"}, {"$pullAll": {"outbox": [{"id": "e1"}]}})
        got = c.find_one({"_id": "pullall"})["outbox"]
        assert got == [{"id": "e2"}], got
        return "works (exact element match)"

    def pop() -> str:
        c.insert_one({"_id": "pop", "outbox": [{"id": "e1"}, {"id": "e2"}]})
        c.update_one({"_id": "pop"}, {"$pop": {"outbox": -1}})
        got = c.find_one({"_id": "pop"})["outbox"]
        assert got == [{"id": "e2"}], got
        return "works"

    def push_each_slice() -> str:
        c.insert_one({"_id": "ps", "a": [1, 2]})
        c.update_one({"_id": "ps"}, {"$push": {"a": {"$each": [3, 4], "$slice": -3}}})
        return f"works: {c.find_one({'_id': 'ps'})['a']}"

    def elem_match() -> str:
        c.insert_one({"_id": "em", "outbox": [{"id": "e1", "t": "x"}]})
        n = c.count_documents({"outbox": {"$elemMatch": {"id": "e1", "t": "x"}}})
        assert n == 1, n
        return "works"

    def elem_match_ops() -> str:
        n = c.count_documents(
            {"_id": "em", "outbox": {"$elemMatch": {"$eq": {"id": "e1", "t": "x"}}}}
        )
        return f"accepted ({n} matches)"

    def pipeline() -> str:
        c.insert_many([{"g": "p", "items": [1, 2, 3], "v": 5}, {"g": "p", "items": [4], "v": 7}])
        r = list(
            c.aggregate(
                [
                    {"$match": {"g": "p"}},
                    {"$group": {"_id": "$g", "total": {"$sum": "$v"}}},
                    {"$sort": {"_id": 1}},
                    {"$skip": 0},
                    {"$limit": 10},
                    {"$project": {"total": 1}},
                    {"$unset": "x"},
                ]
            )
        )
        assert r == [{"_id": "p", "total": 12}], r
        n = list(c.aggregate([{"$match": {"g": "p"}}, {"$count": "n"}]))
        assert n == [{"n": 2}], n
        return "works"

    def unwind() -> str:
        r = list(c.aggregate([{"$match": {"g": "p", "v": 7}}, {"$unwind": "$items"}]))
        assert r and r[0].get("g") == "p", f"other fields dropped: {r}"
        return "works"

    def dotted_array_query() -> str:
        n = c.count_documents({"outbox.id": "e1"})
        return f"works ({n} matches)"

    def exists_array_index() -> str:
        n = c.count_documents({"_id": "em", "outbox.0": {"$exists": True}})
        assert n == 1, n
        return "works"

    def change_stream() -> str:
        with c.watch(max_await_time_ms=100) as s:
            s.try_next()
        return "works"

    def unique_enforced() -> str:
        u = db["uniq"]
        u.drop()
        u.create_index([("a", 1), ("b", 1)], unique=True)
        u.insert_one({"a": 1, "b": 1})
        try:
            u.insert_one({"a": 1, "b": 1})
        except pymongo.errors.DuplicateKeyError:
            return "DuplicateKeyError raised"
        return "NOT enforced"

    def distinct() -> str:
        return f"works: {sorted(c.distinct('g'))}"

    def collation() -> str:
        list(c.find({"g": "X"}).collation({"locale": "en", "strength": 2}))
        return "accepted"

    def hint() -> str:
        list(c.find({"g": "x"}).hint([("_id", 1)]))
        return "accepted"

    def write_concern_majority() -> str:
        c.with_options(write_concern=pymongo.WriteConcern(w="majority")).insert_one({"_id": "wc"})
        return "accepted"

    for name, fn in [
        ("multi-doc transaction, abort", txn_abort),
        ("multi-doc transaction, commit", txn_commit),
        ("session without transaction", session_no_txn),
        ("$match $group $sort $skip $limit $project $unset; $count", pipeline),
        ("$unwind keeps the other fields", unwind),
        ("$lookup", lookup),
        ("arrayFilters ($[x])", array_filters),
        ("positional $ update", positional),
        ("dotted query into array schedule.n: 2", dotted_int_query),
        ("$set schedule.1.s (index path)", dotted_index_set),
        ("partial index", partial_index),
        ("TTL index", ttl_index),
        ("text index", text_index),
        ("$group with several $sum", multi_sum),
        ("$group $max", other_accumulators),
        ("$facet", facet),
        ("$pull with condition {id: e1}", pull_condition),
        ("$pull {id: {$in: [...]}}", pull_in),
        ("$pullAll exact element", pull_all),
        ("$pop", pop),
        ("$push $each + $slice", push_each_slice),
        ("$elemMatch {id: e1, t: x}", elem_match),
        ("$elemMatch {$eq: {...}}", elem_match_ops),
        ("dotted array query outbox.id", dotted_array_query),
        ("outbox.0 $exists", exists_array_index),
        ("change stream (watch)", change_stream),
        ("unique compound index enforced", unique_enforced),
        ("distinct", distinct),
        ("collation", collation),
        ("hint", hint),
        ("w: majority", write_concern_majority),
    ]:
        attempt(name, fn)
    return out


# ---------------------------------------------------------------------------------------
# spawning FerretDB


def spawn(backends: list[str], binary: str, log: Callable[[str], None]) -> dict[str, str]:
    targets: dict[str, str] = {}
    procs: list[subprocess.Popen] = []
    tmp = tempfile.mkdtemp(prefix="kopa-ferretdb-bench-")

    def cleanup() -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    for name in backends:
        port = {"sqlite": 27117, "postgresql": 27118}[name]
        env = dict(os.environ, KOPA_FERRETDB_BACKEND=name, KOPA_FERRETDB_LISTEN=f"127.0.0.1:{port}")
        if name == "sqlite":
            os.makedirs(f"{tmp}/sqlite")
            env["KOPA_FERRETDB_SQLITE_URL"] = f"file:{tmp}/sqlite/?_pragma=synchronous(normal)"
        else:
            psql = [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
            ]
            subprocess.run([*psql, "DROP DATABASE IF EXISTS ferretdb_bench"], check=True)
            subprocess.run(
                [
                    *psql,
                    "CREATE DATABASE ferretdb_bench ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                    "TEMPLATE template0",
                ],
                check=True,
            )
            env["KOPA_FERRETDB_PG_URL"] = "postgres://postgres@127.0.0.1:5432/ferretdb_bench"
        logf = open(f"{tmp}/{name}.log", "w")  # noqa: SIM115 (kept open for the child)
        procs.append(
            subprocess.Popen(
                [binary], env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
        url = f"mongodb://127.0.0.1:{port}/"
        deadline = time.time() + 20
        while True:
            try:
                pymongo.MongoClient(url, serverSelectionTimeoutMS=500).admin.command("ping")
                break
            except PyMongoError:
                if time.time() > deadline or procs[-1].poll() is not None:
                    log_text = Path(f"{tmp}/{name}.log").read_text()
                    sys.exit(f"FerretDB ({name}) did not start; log:\n{log_text}")
                time.sleep(0.2)
        targets[name] = url
        log(f"spawned FerretDB {name} on {url}")
    return targets


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--target", action="append", default=[], metavar="NAME=URL")
    ap.add_argument(
        "--spawn",
        action="store_true",
        help="start FerretDB for sqlite and postgresql on ports 27117/27118",
    )
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--binary",
        default=os.path.join(
            os.environ.get("KOPA_INSTALL_DIR", "/opt/kopa"), "bin", "kopa-ferretdb"
        ),
    )
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument(
        "--large-backends",
        default="postgresql",
        help="backends measured at --large docs (sqlite scans every document: minutes per query)",
    )
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--no-features", action="store_true")
    args = ap.parse_args()

    def log(msg: str) -> None:
        sys.stderr.write(f"[bench] {msg}\n")
        sys.stderr.flush()

    targets = dict(t.split("=", 1) for t in args.target)
    if args.spawn:
        targets.update(spawn(args.backends.split(","), args.binary, log))
    if not targets:
        ap.error("give --spawn or at least one --target NAME=URL")

    clients = {
        name: pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
        for name, url in targets.items()
    }
    dbname = f"kopa_bench_{int(time.time())}"
    loads: dict[str, str] = {}
    per_backend: dict[str, list[Pattern]] = {}
    for name, client in clients.items():
        log(f"{name}: loading {args.docs} loans...")
        per_backend[name], loads[name] = patterns_10k(
            client[dbname], name, args.docs, lambda m, n=name: log(f"{n}: {m}")
        )
    table = run_interleaved(per_backend, args.seconds, log)
    for client in clients.values():
        client[dbname]["loans"].drop()
    if args.large:
        large: dict[str, list[Pattern]] = {}
        for name, client in clients.items():
            if name not in args.large_backends.split(","):
                continue
            log(f"{name}: loading {args.large} loans...")
            large[name] = patterns_large(
                client[dbname], args.large, lambda m, n=name: log(f"{n}: {m}")
            )
        if large:
            table.update(run_interleaved(large, args.seconds, log))
    features: dict[str, list[tuple[str, str]]] = {}
    for name, client in clients.items():
        if not args.no_features:
            features[name] = feature_checks(client, dbname + "_features")
            client.drop_database(dbname + "_features")
        client.drop_database(dbname)
        client.close()

    names = list(targets)
    w = max(len(p) for p in table) + 2
    head = f"{'pattern':<{w}}" + "".join(
        f"| {n + ' ops/s':>17} {'p50 ms':>8} {'p99 ms':>8} {'n':>5} " for n in names
    )
    print(head)
    print("-" * len(head))
    for pattern, per in table.items():
        row = f"{pattern:<{w}}"
        for n in names:
            r = per.get(n)
            row += (
                f"| {r.ops_s:>17.{0 if r.ops_s >= 100 else 1}f} "
                f"{r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} {r.n:>5} "
                if r
                else "| " + " " * 41
            )
        print(row)
    print()
    for n in names:
        print(f"load {n}: {loads[n]}")
    for note in NOTES:
        print(f"note: {note}")
    if features:
        print()
        fw = max(len(f) for f, _ in next(iter(features.values()))) + 2
        for n in names:
            print(f"features on {n}:")
            for f, res in features[n]:
                print(f"  {f:<{fw}} {res}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
