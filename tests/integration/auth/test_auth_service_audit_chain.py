"""auth_service over real gRPC: the audit log's hash chain — appends one by one and in
batches, concurrent appenders and replicas, tampering and deletions found, and the recovery
from a writer that crashed or was cut short."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import grpc
import pytest
from pymongo.errors import BulkWriteError

from auth_service import bootstrap as auth_bootstrap
from auth_service.adapters.audit_store import AuditStore, entry_document
from auth_service.domain.audit import Actor, AuditDraft, Target, chain_segment
from auth_service.service_layer.audit import AuditHandlers, AuditRecord
from auth_service.service_layer.unit import AuthUnit
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from shared import context
from shared.permissions import Principal, Role
from tests.support.auth_fleet import (
    PASSWORD,
    Fleet,
    Institution,
    append_entries,
    new_institution,
    start_service,
    verify_chain,
)
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


# --- audit log ----------------------------------------------------------------------------


async def append(fleet: Fleet, token: str, n: int) -> auth_pb2.AuditEntry:
    reply = await fleet.auth.AppendAuditEntry(
        auth_pb2.AppendAuditEntryRequest(
            action="loans.approve",
            target_kind="loan",
            target_id=f"loan_{n}",
            request_id=f"req_{n}",
            summary_json=f'{{"n": {n}, "amount": 1250.50}}',
        ),
        metadata=md(token),
    )
    return reply.entry


async def test_audit_entries_chain_under_concurrency_and_tampering_is_found(
    fleet: Fleet,
) -> None:
    inst = await new_institution(fleet)
    entries = await asyncio.gather(*(append(fleet, inst.admin_token, n) for n in range(12)))
    assert sorted(e.seq for e in entries) == list(range(1, 13))
    assert all(e.institution_id == inst.id and e.actor_id == inst.admin.id for e in entries)
    assert entries[0].summary_json in ('{"amount":"1250.50","n":0}',)
    by_seq = {e.seq: e for e in entries}
    assert all(by_seq[s].prev_hash == by_seq[s - 1].hash for s in range(2, 13))

    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 12 and report.first_bad_seq == 0

    auditor = await fleet.create_user(inst.admin_token, "auditor")
    auditor_token = (await fleet.login(auditor.email, PASSWORD)).access_token
    listed = await fleet.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(page_size=5), metadata=md(auditor_token)
    )
    assert [e.seq for e in listed.entries] == [12, 11, 10, 9, 8] and listed.next_page_token
    rest = await fleet.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(page_size=50, page_token=listed.next_page_token),
        metadata=md(auditor_token),
    )
    assert [e.seq for e in rest.entries] == list(range(7, 0, -1))
    agent = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    agent_token = (await fleet.login(agent.email, PASSWORD)).access_token
    await rpc_error(verify_chain(fleet, agent_token), Code.PERMISSION_DENIED)
    # Another institution's chain is its own.
    other = await new_institution(fleet)
    assert (await append(fleet, other.admin_token, 1)).seq == 1

    # Someone with database access edits entry 5.
    result = await fleet.db.audit_log.update_one(
        {"institution_id": inst.id, "seq": 5}, {"$set": {"summary.amount": "1.00"}}
    )
    assert result.modified_count == 1
    report = await verify_chain(fleet, auditor_token)
    assert not report.ok and report.first_bad_seq == 5 and report.reason == "HASH_MISMATCH"
    assert report.checked == 4
    # Appending still works (linked to the recorded head).
    assert (await append(fleet, inst.admin_token, 99)).seq == 13


async def test_deleting_the_newest_audit_entries_is_found(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    for n in range(3):
        await append(fleet, inst.admin_token, n)
    assert (await verify_chain(fleet, inst.admin_token)).ok
    await fleet.db.audit_log.delete_one({"institution_id": inst.id, "seq": 3})
    report = await verify_chain(fleet, inst.admin_token)
    assert not report.ok and report.first_bad_seq == 3 and report.reason == "HEAD_MISMATCH"
    await fleet.db.audit_log.delete_one({"institution_id": inst.id, "seq": 1})
    report = await verify_chain(fleet, inst.admin_token)
    assert not report.ok and report.first_bad_seq == 1 and report.reason == "SEQ_GAP"


async def test_a_platform_admin_writes_to_the_chain_it_names(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    reply = await fleet.auth.AppendAuditEntry(
        auth_pb2.AppendAuditEntryRequest(
            action="institutions.create",
            target_kind="institution",
            target_id=inst.id,
            institution_id=inst.id,
        ),
        metadata=md(inst.root_token),
    )
    assert reply.entry.institution_id == inst.id and reply.entry.actor_role == "platform_admin"
    platform = await fleet.auth.AppendAuditEntry(
        auth_pb2.AppendAuditEntryRequest(action="platform.check", target_kind="platform"),
        metadata=md(inst.root_token),
    )
    assert platform.entry.institution_id == "" and platform.entry.seq >= 1
    await rpc_error(
        fleet.auth.AppendAuditEntry(
            auth_pb2.AppendAuditEntryRequest(action="loans.approve", institution_id="inst_other"),
            metadata=md(inst.admin_token),
        ),
        Code.PERMISSION_DENIED,
    )
    bad = await rpc_error(
        fleet.auth.AppendAuditEntry(
            auth_pb2.AppendAuditEntryRequest(action="", summary_json="[1]"),
            metadata=md(inst.admin_token),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in bad.field_errors] == ["action"]
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 1


def new_entries(tag: str, n: int, token: str = "") -> list[auth_pb2.NewAuditEntry]:
    return [
        auth_pb2.NewAuditEntry(
            action="loans.repayments",
            target_kind="loans",
            target_id=f"loan_{tag}_{i}",
            request_id=f"{tag}-{i}",
            summary_json=f'{{"amount": "1.00", "i": {i}}}',
            access_token=token,
        )
        for i in range(n)
    ]


async def test_entries_appended_in_one_call_follow_each_other_all_or_none(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    agent = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    agent_token = (await fleet.login(agent.email, PASSWORD)).access_token
    first = await append(fleet, inst.admin_token, 0)
    # The gateway's call: the first entry's token authenticates it, the others name theirs.
    batch = new_entries("batch", 5)
    for entry in batch[1::2]:
        entry.access_token = agent_token
    reply = await fleet.auth.AppendAuditEntry(
        auth_pb2.AppendAuditEntryRequest(entries=batch), metadata=md(inst.admin_token)
    )
    entries = list(reply.entries)
    assert [e.seq for e in entries] == [2, 3, 4, 5, 6] and reply.entry == entries[-1]
    assert [e.request_id for e in entries] == [f"batch-{i}" for i in range(5)]
    admin_id = inst.admin.id
    assert [e.actor_id for e in entries] == [admin_id, agent.id, admin_id, agent.id, admin_id]
    assert [e.actor_role for e in entries[:2]] == ["admin", "agent"]
    assert {e.institution_id for e in entries} == {inst.id}
    assert entries[0].prev_hash == first.hash
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[1].summary_json == '{"amount":"1.00","i":1}'
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 6

    # Every refusal comes before anything is written.
    bad = new_entries("bad", 4)
    bad[3].action = ""
    bad[1].summary_json = "[1]"
    refused = await rpc_error(
        append_entries(fleet.auth, inst.admin_token, bad), Code.INVALID_ARGUMENT
    )
    assert [f for f, _ in refused.field_errors] == ["entries[1].summary_json", "entries[3].action"]
    forged = new_entries("forged", 2)
    forged[1].access_token = "a.b.c"
    await rpc_error(append_entries(fleet.auth, inst.admin_token, forged), Code.UNAUTHENTICATED)
    other = await new_institution(fleet)
    mixed = new_entries("mixed", 2)
    mixed[1].access_token = other.admin_token
    refused = await rpc_error(
        append_entries(fleet.auth, inst.admin_token, mixed), Code.INVALID_ARGUMENT
    )
    assert [f for f, _ in refused.field_errors] == ["entries"]
    elsewhere = new_entries("elsewhere", 2)
    elsewhere[1].institution_id = other.id
    await rpc_error(append_entries(fleet.auth, agent_token, elsewhere), Code.PERMISSION_DENIED)
    both = auth_pb2.AppendAuditEntryRequest(action="loans.approve", entries=new_entries("both", 2))
    await rpc_error(
        fleet.auth.AppendAuditEntry(both, metadata=md(inst.admin_token)), Code.INVALID_ARGUMENT
    )
    await rpc_error(
        append_entries(fleet.auth, inst.admin_token, new_entries("many", 101)),
        Code.INVALID_ARGUMENT,
    )
    # A token revoked since (its user logged out) refuses the call too; the logout itself is
    # the one entry added.
    await fleet.auth.Logout(auth_pb2.LogoutRequest(), metadata=md(agent_token))
    revoked = new_entries("revoked", 2, agent_token)
    revoked[0].access_token = ""
    await rpc_error(append_entries(fleet.auth, inst.admin_token, revoked), Code.UNAUTHENTICATED)
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 7
    assert await fleet.db.audit_log.count_documents({"chain": inst.id}) == 7
    newest = await fleet.db.audit_log.find_one({"chain": inst.id, "seq": 7})
    assert newest is not None and newest["action"] == "auth.logout"


async def test_concurrent_appenders_lose_and_duplicate_no_entry(fleet: Fleet) -> None:
    """Six gateway replicas' writers append to one institution at once, through two
    auth_service replicas, in calls of 1 to 17 entries by two actors."""
    inst = await new_institution(fleet)
    agent = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    agent_token = (await fleet.login(agent.email, PASSWORD)).access_token
    replica = await start_service(
        fleet.auth_settings(auth_service_addr="127.0.0.1:9"), "auth", auth_bootstrap.setup
    )
    sent: list[list[str]] = []
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{replica.port}")
        fleet.channels.append(channel)
        stubs = [fleet.auth, auth_pb2_grpc.AuthServiceStub(channel)]

        async def gateway(g: int) -> None:
            for call in range(6):
                entries = new_entries(f"g{g}c{call}", 1 + (g * 7 + call * 5) % 17)
                for entry in entries[::3]:
                    entry.access_token = agent_token
                appended = await append_entries(stubs[g % 2], inst.admin_token, entries)
                assert [e.request_id for e in appended] == [e.request_id for e in entries]
                sent.append([e.request_id for e in entries])

        await asyncio.gather(*(gateway(g) for g in range(6)))
    finally:
        await replica.stop()
    docs = await fleet.db.audit_log.find({"chain": inst.id}).sort("seq", 1).to_list(None)
    total = sum(len(call) for call in sent)
    assert sorted(d["request_id"] for d in docs) == sorted(r for call in sent for r in call)
    assert [d["seq"] for d in docs] == list(range(1, total + 1))
    seq_of = {d["request_id"]: d["seq"] for d in docs}
    for call in sent:  # each call's entries in the order sent
        assert [seq_of[r] for r in call] == sorted(seq_of[r] for r in call)
    head = await fleet.db.audit_heads.find_one({"_id": inst.id})
    assert head["seq"] == total and head["hash"] == docs[-1]["hash"]
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == total


def direct_appender(fleet: Fleet, inst: Institution, at: datetime) -> AuditHandlers:
    """The append use case on the real store, as inst's admin, with a fixed clock (so a
    test knows the entries it will build)."""
    unit = cast(AuthUnit, SimpleNamespace(audit=AuditStore(fleet.db), clock=lambda: at))
    principal = Principal(inst.admin.id, Role.ADMIN, inst.id, None, "ses_test")
    context.set_current(context.RequestContext(request_id="test", principal=principal))
    return AuditHandlers(unit)


def records(tag: str, n: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            action="loans.repayments",
            target_kind="loans",
            target_id=f"loan_{tag}_{i}",
            request_id=f"{tag}-{i}",
            summary_json=f'{{"i": {i}}}',
        )
        for i in range(n)
    ]


def drafts_of(inst: Institution, batch: list[AuditRecord]) -> list[AuditDraft]:
    """The drafts the use case makes of `batch` for inst's admin."""
    return [
        AuditDraft.of(
            actor=Actor(inst.admin.id, "admin"),
            action=r.action,
            target=Target(r.target_kind, r.target_id),
            request_id=r.request_id,
            summary=json.loads(r.summary_json),
        )
        for r in batch
    ]


async def test_an_append_helps_the_head_over_a_segment_a_crashed_writer_left(
    fleet: Fleet,
) -> None:
    inst = await new_institution(fleet)
    at = datetime.now(UTC)
    handlers = direct_appender(fleet, inst, at)
    store = handlers.u.audit
    await handlers.append_many(records("before", 3))
    # A writer inserted a segment of 6 and died before moving the head; another inserted
    # 2 entries of its 5 (a crash inside insert_many) after them.
    head = await store.head(inst.id)
    crashed = chain_segment(
        head, drafts_of(inst, records("crashed", 6)), institution_id=inst.id, at=at
    )
    cut = chain_segment(
        (crashed[-1].seq, crashed[-1].hash),
        drafts_of(inst, records("cut", 5)),
        institution_id=inst.id,
        at=at,
    )[:2]
    await fleet.db.audit_log.insert_many([entry_document(e) for e in crashed + cut])
    assert await store.head(inst.id) == head

    appended = await handlers.append_many(records("after", 4))
    assert [e.seq for e in appended] == [12, 13, 14, 15]
    assert appended[0].prev_hash == cut[-1].hash
    assert await store.head(inst.id) == (15, appended[-1].hash)
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 15


async def test_an_append_cut_short_by_another_writer_appends_the_rest_after_it(
    fleet: Fleet,
) -> None:
    """The race an ordered insert_many can lose half-way: a helper moved the head onto the
    first entries of this writer's segment and another writer appended after them before
    the rest was inserted. What was inserted stays; the rest follows the other's entry."""
    inst = await new_institution(fleet)
    at = datetime.now(UTC)
    handlers = direct_appender(fleet, inst, at)
    store = handlers.u.audit
    await handlers.append_many(records("before", 2))
    head = await store.head(inst.id)
    batch = records("mine", 5)
    mine = chain_segment(head, drafts_of(inst, batch), institution_id=inst.id, at=at)
    # The other writer's entry follows the second of this writer's (seq 4 after 3).
    (theirs,) = chain_segment(
        (mine[1].seq, mine[1].hash),
        drafts_of(inst, records("theirs", 1)),
        institution_id=inst.id,
        at=at,
    )
    await fleet.db.audit_log.insert_one(entry_document(theirs))

    appended = await handlers.append_many(batch)
    assert [e.seq for e in appended] == [3, 4, 6, 7, 8]
    assert appended[:2] == mine[:2]
    assert appended[2].prev_hash == theirs.hash
    docs = await fleet.db.audit_log.find({"chain": inst.id}).sort("seq", 1).to_list(None)
    assert [d["request_id"] for d in docs] == [
        "before-0", "before-1", "mine-0", "mine-1", "theirs-0", "mine-2", "mine-3", "mine-4"
    ]  # fmt: skip
    assert await store.head(inst.id) == (8, appended[-1].hash)
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 8


async def test_an_ordered_insert_stops_at_the_first_taken_seq(fleet: Fleet) -> None:
    """What `append_segment` relies on, checked against the server: an ordered insert_many
    inserts every document before the first duplicate and none after it, and says where."""
    docs = fleet.db[f"ordered_probe_{secrets.token_hex(3)}"]
    await docs.insert_one({"_id": 3})
    with pytest.raises(BulkWriteError) as info:
        await docs.insert_many([{"_id": n} for n in range(1, 7)], ordered=True)
    (error,) = info.value.details["writeErrors"]
    assert error["index"] == 2 and error["code"] == 11000
    assert info.value.details["nInserted"] == 2
    assert sorted(d["_id"] for d in await docs.find().to_list(None)) == [1, 2, 3]


async def test_replicas_alternating_appends_keep_one_chain_though_each_holds_a_stale_head(
    fleet: Fleet,
) -> None:
    """Each store remembers the head it moved last (one read less per append): after the
    other replica appended, that head is stale, and the append must notice, not fork."""
    inst = await new_institution(fleet)
    at = datetime.now(UTC)
    first, second = direct_appender(fleet, inst, at), direct_appender(fleet, inst, at)
    for round_ in range(3):
        await first.append_many(records(f"first{round_}", 2))
        await second.append_many(records(f"second{round_}", 3))
    docs = await fleet.db.audit_log.find({"chain": inst.id}).sort("seq", 1).to_list(None)
    assert [d["seq"] for d in docs] == list(range(1, 16))
    assert [d["request_id"] for d in docs[:5]] == [
        "first0-0", "first0-1", "second0-0", "second0-1", "second0-2"
    ]  # fmt: skip
    report = await verify_chain(fleet, inst.admin_token)
    assert report.ok and report.checked == 15
