"""auth_service over real gRPC: reading the audit trail — filtered by target and actor,
page by page, on indexes — and the sign-outs recorded in it."""

from __future__ import annotations

import json

import pytest

from auth_service.adapters.audit_store import AuditStore
from kopa.auth.v1 import auth_pb2
from tests.support.auth_fleet import PASSWORD, Fleet, append_entries, new_institution, verify_chain
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


def about(kind: str, target: str, tag: str) -> auth_pb2.NewAuditEntry:
    return auth_pb2.NewAuditEntry(
        action=f"{kind}.update", target_kind=kind, target_id=target, request_id=tag
    )


async def listed(
    fleet: Fleet, token: str, *, size: int = 50, page_token: str = "", **filters: str
) -> auth_pb2.ListAuditEntriesResponse:
    return await fleet.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(page_size=size, page_token=page_token, **filters),
        metadata=md(token),
    )


async def every_page(fleet: Fleet, token: str, size: int, **filters: str) -> list[list[str]]:
    """The request ids of each page, following next_page_token with the same filters."""
    pages: list[list[str]] = []
    page_token = ""
    while True:
        reply = await listed(fleet, token, size=size, page_token=page_token, **filters)
        pages.append([e.request_id for e in reply.entries])
        page_token = reply.next_page_token
        if not page_token:
            return pages
        assert len(pages) < 20, "paging does not end"


async def test_audit_entries_are_listed_by_target_and_actor_page_by_page(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    agent = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    agent_token = (await fleet.login(agent.email, PASSWORD)).access_token
    auditor = await fleet.create_user(inst.admin_token, "auditor")
    token = (await fleet.login(auditor.email, PASSWORD)).access_token
    # Five entries about one borrower among entries about another, a loan and a loan whose id
    # is the borrower's (another kind); two of the borrower's are by the agent.
    script = [
        ("borrowers", "bor_a", "a1", ""),
        ("borrowers", "bor_b", "b1", ""),
        ("borrowers", "bor_a", "a2", agent_token),
        ("loans", "loan_x", "x1", agent_token),
        ("loans", "bor_a", "not-a-borrower", ""),
        ("borrowers", "bor_a", "a3", ""),
        ("borrowers", "bor_ab", "ab1", ""),
        ("borrowers", "bor_a", "a4", agent_token),
        ("borrowers", "BOR_A", "upper", ""),
        ("borrowers", "bor_a", "a5", ""),
    ]
    entries = []
    for kind, target, tag, actor in script:
        entry = about(kind, target, tag)
        entry.access_token = actor
        entries.append(entry)
    await append_entries(fleet.auth, inst.admin_token, entries)

    borrower = {"target_kind": "borrowers", "target_id": "bor_a"}
    reply = await listed(fleet, token, **borrower)
    assert [e.request_id for e in reply.entries] == ["a5", "a4", "a3", "a2", "a1"]
    assert not reply.next_page_token
    assert {(e.target_kind, e.target_id) for e in reply.entries} == {("borrowers", "bor_a")}
    # Pages of two follow each other with the filters, to the last one.
    assert await every_page(fleet, token, 2, **borrower) == [["a5", "a4"], ["a3", "a2"], ["a1"]]
    by_agent = {"actor_id": agent.id}
    assert await every_page(fleet, token, 2, **by_agent) == [["a4", "x1"], ["a2"]]
    agents_on_borrower = await listed(fleet, token, actor_id=agent.id, **borrower)
    assert [e.request_id for e in agents_on_borrower.entries] == ["a4", "a2"]
    loans = await listed(fleet, token, target_kind="loans")
    assert [e.request_id for e in loans.entries] == ["not-a-borrower", "x1"]
    # Exact comparison: an unknown kind or id, or another case, is simply no match.
    for nothing in (
        {"target_kind": "borrower"},
        {"target_kind": "borrowers", "target_id": "bor_"},
        {"target_kind": "Borrowers", "target_id": "bor_a"},
        {"actor_id": "usr_nobody"},
    ):
        empty = await listed(fleet, token, **nothing)
        assert (list(empty.entries), empty.next_page_token) == ([], ""), nothing
    # Without filters the whole trail pages as before (tokens of the earlier form).
    everything = await every_page(fleet, token, 4)
    assert [len(page) for page in everything] == [4, 4, 2]
    assert everything[0][0] == "a5"

    # A page token belongs to the filters it was issued for.
    first = await listed(fleet, token, size=2, **borrower)
    unfiltered = await listed(fleet, token, size=2)
    for page_token, filters in (
        (first.next_page_token, {"target_kind": "borrowers", "target_id": "bor_b"}),
        (first.next_page_token, {}),
        (first.next_page_token, {**borrower, "actor_id": agent.id}),
        (unfiltered.next_page_token, borrower),
        ("12.not-a-mark", {}),
        ("²", {}),
        ("99999999999999999999", {}),
    ):
        refused = await rpc_error(
            listed(fleet, token, size=2, page_token=page_token, **filters),
            Code.INVALID_ARGUMENT,
        )
        assert [f for f, _ in refused.field_errors] == ["page_token"], (page_token, filters)
    refused = await rpc_error(listed(fleet, token, target_id="bor_a"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in refused.field_errors] == ["target_id"]
    refused = await rpc_error(
        listed(fleet, token, target_kind="x" * 101, actor_id="u" * 201), Code.INVALID_ARGUMENT
    )
    assert [f for f, _ in refused.field_errors] == ["target_kind", "actor_id"]
    refused = await rpc_error(listed(fleet, token, actor_id="a\x00b"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in refused.field_errors] == ["actor_id"]

    # Another institution's auditor asking about the same ids sees its own chain only.
    other = await new_institution(fleet)
    stranger = await fleet.create_user(other.admin_token, "auditor")
    stranger_token = (await fleet.login(stranger.email, PASSWORD)).access_token
    assert list((await listed(fleet, stranger_token, **borrower)).entries) == []
    assert list((await listed(fleet, stranger_token, **by_agent)).entries) == []
    # An agent may not read the log, filtered or not.
    await rpc_error(listed(fleet, agent_token, **borrower), Code.PERMISSION_DENIED)


async def test_the_filtered_lists_have_indexes(fleet: Fleet) -> None:
    """The indexes the filtered lists need exist on this server (FerretDB or MongoDB), each
    with the chain first, then what is filtered on, then seq newest first."""
    await AuditStore(fleet.db).ensure_indexes()  # again: creating them twice is harmless
    indexes = await fleet.db.audit_log.index_information()
    assert [tuple(k) for k in indexes["by_target"]["key"]] == [
        ("chain", 1),
        ("target.kind", 1),
        ("target.id", 1),
        ("seq", -1),
    ]
    assert [tuple(k) for k in indexes["by_actor"]["key"]] == [
        ("chain", 1),
        ("actor.user_id", 1),
        ("seq", -1),
    ]


async def test_sign_outs_are_in_the_audit_log(fleet: Fleet) -> None:
    """A logout, and ending one's current session, revoke the token the gateway would append
    their entries with: auth_service records them itself, before ending the session."""
    inst = await new_institution(fleet)
    user = await fleet.create_user(inst.admin_token, "risk_officer")
    leaving = await fleet.login(user.email, PASSWORD)
    phone = await fleet.login(user.email, PASSWORD)
    laptop = await fleet.login(user.email, PASSWORD)
    before = await fleet.auth.ListSessions(
        auth_pb2.ListSessionsRequest(), metadata=md(leaving.access_token)
    )
    leaving_session = next(s.id for s in before.sessions if s.current)
    await fleet.auth.Logout(
        auth_pb2.LogoutRequest(), metadata=(*md(leaving.access_token), ("x-request-id", "bye-1"))
    )
    await rpc_error(fleet.me(leaving.access_token), Code.UNAUTHENTICATED)
    # Ending one's own current session (and, below, another one of one's sessions).
    sessions = await fleet.auth.ListSessions(
        auth_pb2.ListSessionsRequest(), metadata=md(laptop.access_token)
    )
    current = next(s.id for s in sessions.sessions if s.current)
    other = next(s.id for s in sessions.sessions if not s.current)
    await fleet.auth.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=other), metadata=md(laptop.access_token)
    )
    await fleet.auth.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=current), metadata=md(laptop.access_token)
    )
    await rpc_error(fleet.me(laptop.access_token), Code.UNAUTHENTICATED)
    await rpc_error(fleet.me(phone.access_token), Code.UNAUTHENTICATED)
    # Asking to end a session one may not end leaves no entry.
    stranger = await fleet.create_user(inst.admin_token, "auditor")
    stranger_token = (await fleet.login(stranger.email, PASSWORD)).access_token
    await rpc_error(
        fleet.auth.RevokeSession(
            auth_pb2.RevokeSessionRequest(session_id=other), metadata=md(stranger_token)
        ),
        Code.NOT_FOUND,
    )
    assert list((await listed(fleet, inst.admin_token, actor_id=stranger.id)).entries) == []

    reply = await listed(fleet, inst.admin_token, actor_id=user.id)
    revoked_current, revoked_other, logout = reply.entries
    assert (logout.action, logout.target_kind, logout.target_id) == ("auth.logout", "auth", "")
    assert (logout.actor_id, logout.actor_role, logout.institution_id) == (
        user.id,
        "risk_officer",
        inst.id,
    )
    assert logout.request_id == "bye-1"
    assert json.loads(logout.summary_json) == {"session_id": leaving_session}
    for entry, session_id in ((revoked_other, other), (revoked_current, current)):
        assert (entry.action, entry.target_kind, entry.target_id) == (
            "me.sessions",
            "me",
            session_id,
        )
        assert json.loads(entry.summary_json) == {"session_id": session_id, "user_id": user.id}
    assert (await verify_chain(fleet, inst.admin_token)).ok
