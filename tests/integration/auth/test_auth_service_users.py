"""auth_service over real gRPC: user administration (who may create, see, disable whom),
passwords changed and reset, user events, and the versioned writes every user and session
change relies on."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import UTC, datetime

import aio_pika
import pytest

from auth_service.adapters.repository import SessionRepository, UserRepository
from auth_service.adapters.secrets import SecretBox
from kopa.auth.v1 import auth_pb2, events_pb2
from kopa.user.v1 import user_pb2
from shared.errors import Unauthenticated
from tests.support.auth_fleet import (
    ENCRYPTION_SECRET,
    OTHER_PASSWORD,
    PASSWORD,
    Fleet,
    Institution,
    new_institution,
)
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


# --- user administration ----------------------------------------------------------------------


async def test_who_may_create_whom(fleet: Fleet, inst: Institution) -> None:
    agent = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    assert agent.institution_id == inst.id and agent.branch_id == inst.branch_id
    agent_token = (await fleet.login(agent.email, PASSWORD)).access_token

    denied = await rpc_error(
        fleet.create_user(agent_token, "agent", branch_id=inst.branch_id), Code.PERMISSION_DENIED
    )
    assert denied.metadata.get("permission") == "users:create"
    await rpc_error(fleet.create_user(inst.admin_token, "platform_admin"), Code.PERMISSION_DENIED)
    other = await new_institution(fleet)
    await rpc_error(
        fleet.create_user(inst.admin_token, "auditor", institution_id=other.id),
        Code.PERMISSION_DENIED,
    )
    # The platform admin creates admins only.
    await rpc_error(
        fleet.create_user(
            inst.root_token, "agent", institution_id=inst.id, branch_id=inst.branch_id
        ),
        Code.PERMISSION_DENIED,
    )

    bad = await rpc_error(fleet.create_user(inst.admin_token, "wizard"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in bad.field_errors] == ["role"]
    weak = await rpc_error(
        fleet.create_user(inst.admin_token, "auditor", password="short"), Code.INVALID_ARGUMENT
    )
    assert weak.reason == "PASSWORD_POLICY" and {f for f, _ in weak.field_errors} == {"password"}
    no_branch = await rpc_error(fleet.create_user(inst.admin_token, "agent"), Code.INVALID_ARGUMENT)
    assert "branch_id" in {f for f, _ in no_branch.field_errors}
    foreign = await rpc_error(
        fleet.create_user(inst.admin_token, "agent", branch_id=other.branch_id),
        Code.INVALID_ARGUMENT,
    )
    assert foreign.reason == "BRANCH_NOT_FOUND"
    ghost = await rpc_error(
        fleet.create_user(inst.root_token, "admin", institution_id="inst_does_not_exist"),
        Code.INVALID_ARGUMENT,
    )
    assert ghost.reason == "INSTITUTION_NOT_FOUND"

    duplicate = await rpc_error(
        fleet.create_user(inst.admin_token, "auditor", email=agent.email.upper()),
        Code.ALREADY_EXISTS,
    )
    assert duplicate.reason == "EMAIL_TAKEN"
    # A retried request returns the user it created.
    request_id = secrets.token_hex(8)
    email = f"retry-{request_id}@{fleet.ns}.test"
    made = await asyncio.gather(
        *(
            fleet.create_user(inst.admin_token, "auditor", email=email, request_id=request_id)
            for _ in range(2)
        )
    )
    assert made[0].id == made[1].id
    assert await fleet.db.users.count_documents({"email": email}) == 1

    # Scope: another institution's users do not exist for this admin.
    await rpc_error(
        fleet.auth.GetUser(
            auth_pb2.GetUserRequest(user_id=other.admin.id), metadata=md(inst.admin_token)
        ),
        Code.NOT_FOUND,
    )
    await rpc_error(
        fleet.auth.DisableUser(
            auth_pb2.DisableUserRequest(user_id=other.admin.id), metadata=md(inst.admin_token)
        ),
        Code.NOT_FOUND,
    )
    listed = await fleet.auth.ListUsers(
        auth_pb2.ListUsersRequest(page_size=200), metadata=md(inst.admin_token)
    )
    assert {u.institution_id for u in listed.users} == {inst.id}
    assert agent.id in {u.id for u in listed.users}
    # The platform admin sees the admins of every institution and nobody else.
    by_root = await fleet.auth.ListUsers(
        auth_pb2.ListUsersRequest(page_size=200), metadata=md(inst.root_token)
    )
    roles = {u.role for u in by_root.users}
    assert roles <= {"admin", "platform_admin"}
    assert {inst.admin.id, other.admin.id} <= {u.id for u in by_root.users}
    await rpc_error(
        fleet.auth.GetUser(auth_pb2.GetUserRequest(user_id=agent.id), metadata=md(inst.root_token)),
        Code.NOT_FOUND,
    )


async def test_a_branch_manager_sees_its_branch_and_the_institution_wide_staff(
    fleet: Fleet,
) -> None:
    inst = await new_institution(fleet)
    second = (
        await fleet.users.CreateBranch(
            user_pb2.CreateBranchRequest(name="Market square"), metadata=md(inst.admin_token)
        )
    ).branch
    manager = await fleet.create_user(inst.admin_token, "branch_manager", branch_id=inst.branch_id)
    here = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    there = await fleet.create_user(inst.admin_token, "agent", branch_id=second.id)
    token = (await fleet.login(manager.email, PASSWORD)).access_token
    listed = await fleet.auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=md(token))
    assert {u.id for u in listed.users} == {inst.admin.id, manager.id, here.id}
    await rpc_error(
        fleet.auth.GetUser(auth_pb2.GetUserRequest(user_id=there.id), metadata=md(token)),
        Code.NOT_FOUND,
    )
    assert (
        await fleet.auth.GetUser(auth_pb2.GetUserRequest(user_id=here.id), metadata=md(token))
    ).user.branch_id == inst.branch_id
    # Paging through the admin's list visits everyone once.
    seen: list[str] = []
    page_token = ""
    while True:
        page = await fleet.auth.ListUsers(
            auth_pb2.ListUsersRequest(page_size=2, page_token=page_token),
            metadata=md(inst.admin_token),
        )
        seen.extend(u.id for u in page.users)
        page_token = page.next_page_token
        if not page_token:
            break
    assert sorted(seen) == sorted({inst.admin.id, manager.id, here.id, there.id})


async def test_disabling_a_user_ends_their_sessions_at_once(
    fleet: Fleet, inst: Institution
) -> None:
    user = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    sessions = [await fleet.login(user.email, PASSWORD) for _ in range(2)]
    verify = fleet.authenticator()
    for tokens in sessions:
        await verify(tokens.access_token)
    agent_token = sessions[0].access_token
    await rpc_error(
        fleet.auth.DisableUser(
            auth_pb2.DisableUserRequest(user_id=inst.admin.id), metadata=md(agent_token)
        ),
        Code.PERMISSION_DENIED,
    )

    disabled = await fleet.auth.DisableUser(
        auth_pb2.DisableUserRequest(user_id=user.id), metadata=md(inst.admin_token)
    )
    assert disabled.user.disabled
    for tokens in sessions:
        with pytest.raises(Unauthenticated):
            await verify(tokens.access_token)
        await rpc_error(fleet.refresh(tokens.refresh_token), Code.UNAUTHENTICATED)
    refused = await rpc_error(fleet.login_error(user.email, PASSWORD), Code.UNAUTHENTICATED)
    assert refused.reason == "ACCOUNT_DISABLED"
    again = await rpc_error(
        fleet.auth.DisableUser(
            auth_pb2.DisableUserRequest(user_id=user.id), metadata=md(inst.admin_token)
        ),
        Code.FAILED_PRECONDITION,
    )
    assert again.reason == "USER_ALREADY_DISABLED"
    self_disable = await rpc_error(
        fleet.auth.DisableUser(
            auth_pb2.DisableUserRequest(user_id=inst.admin.id), metadata=md(inst.admin_token)
        ),
        Code.FAILED_PRECONDITION,
    )
    assert self_disable.reason == "CANNOT_MANAGE_SELF"

    await fleet.auth.EnableUser(
        auth_pb2.EnableUserRequest(user_id=user.id), metadata=md(inst.admin_token)
    )
    assert (await fleet.login(user.email, PASSWORD)).access_token


async def test_changing_the_password_ends_the_other_sessions(
    fleet: Fleet, inst: Institution
) -> None:
    user = await fleet.create_user(inst.admin_token, "auditor")
    here = await fleet.login(user.email, PASSWORD)
    elsewhere = await fleet.login(user.email, PASSWORD)
    wrong = await rpc_error(
        fleet.auth.ChangePassword(
            auth_pb2.ChangePasswordRequest(
                current_password="Not-The-Passw0rd", new_password=OTHER_PASSWORD
            ),
            metadata=md(here.access_token),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in wrong.field_errors] == ["current_password"]
    weak = await rpc_error(
        fleet.auth.ChangePassword(
            auth_pb2.ChangePasswordRequest(current_password=PASSWORD, new_password="password"),
            metadata=md(here.access_token),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert weak.reason == "PASSWORD_POLICY"

    await fleet.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(current_password=PASSWORD, new_password=OTHER_PASSWORD),
        metadata=md(here.access_token),
    )
    await rpc_error(fleet.me(elsewhere.access_token), Code.UNAUTHENTICATED)
    await rpc_error(fleet.refresh(elsewhere.refresh_token), Code.UNAUTHENTICATED)
    # This session carries on, refresh included.
    assert (await fleet.me(here.access_token)).id == user.id
    assert (await fleet.refresh(here.refresh_token)).access_token
    await rpc_error(fleet.login_error(user.email, PASSWORD), Code.UNAUTHENTICATED)
    assert (await fleet.login(user.email, OTHER_PASSWORD)).access_token


async def test_a_reset_password_must_be_changed_and_ends_sessions(
    fleet: Fleet, inst: Institution
) -> None:
    user = await fleet.create_user(inst.admin_token, "risk_officer")
    before = await fleet.login(user.email, PASSWORD)
    reset = await fleet.auth.ResetPassword(
        auth_pb2.ResetPasswordRequest(user_id=user.id, temporary_password=OTHER_PASSWORD),
        metadata=md(inst.admin_token),
    )
    assert reset.user.must_change_password
    await rpc_error(fleet.me(before.access_token), Code.UNAUTHENTICATED)
    tokens = await fleet.login(user.email, OTHER_PASSWORD)
    assert tokens.must_change_password
    await fleet.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(current_password=OTHER_PASSWORD, new_password=PASSWORD),
        metadata=md(tokens.access_token),
    )
    assert not (await fleet.login(user.email, PASSWORD)).must_change_password


# --- events -------------------------------------------------------------------------------


async def test_user_changes_are_published_as_events(fleet: Fleet, inst: Institution) -> None:
    connection = await aio_pika.connect_robust(fleet.urls["AMQP_URL"])
    received: list[tuple[str, events_pb2.UserEvent]] = []
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{fleet.ns}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="user.#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                received.append(
                    (message.routing_key or "", events_pb2.UserEvent.FromString(message.body))
                )

        await queue.consume(on_message)
        user = await fleet.create_user(inst.admin_token, "auditor")
        await fleet.auth.DisableUser(
            auth_pb2.DisableUserRequest(user_id=user.id), metadata=md(inst.admin_token)
        )
        deadline = asyncio.get_running_loop().time() + 30
        while {k for k, e in received if e.user.id == user.id} != {"user.created", "user.disabled"}:
            assert asyncio.get_running_loop().time() < deadline, received
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    disabled = next(e for k, e in received if k == "user.disabled" and e.user.id == user.id)
    assert disabled.user.disabled and disabled.meta.institution_id == inst.id
    assert disabled.meta.actor_id == inst.admin.id and disabled.meta.aggregate_id == user.id
    # The user document keeps no events once they are handed over, and the relay empties
    # each event's outbox once the broker confirmed it.
    doc = await fleet.db.users.find_one({"_id": user.id})
    assert doc["pending_count"] == 0 and doc["pending_events"] == [] and doc["status"] == "disabled"
    deadline = asyncio.get_running_loop().time() + 30
    while await fleet.db.user_events.count_documents(
        {"user_id": user.id, "outbox_count": {"$gt": 0}}
    ):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert await fleet.db.user_events.count_documents({"user_id": user.id}) == 2


async def test_versioned_writes_have_exactly_one_winner(fleet: Fleet, inst: Institution) -> None:
    """The compare-and-set every session and user write relies on, hammered directly: of 20
    writers expecting one version, exactly one matches, and the document is the winner's
    (single-document updates are atomic: MongoDB, or FerretDB with its patch 0004)."""
    user = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    await fleet.login(user.email, PASSWORD)
    sessions = SessionRepository(fleet.db)
    (session,) = await sessions.open_sessions(user.id)
    for trial in range(5):
        current = await sessions.get(session.id)
        assert current is not None and current.version == trial
        copies = [dataclasses.replace(current, device=f"writer {n}") for n in range(20)]
        for copy in copies:
            copy.touch(datetime.now(UTC))
        results = await asyncio.gather(*(sessions.save(c, current.version) for c in copies))
        assert results.count(True) == 1, (trial, results)
        stored = await sessions.get(session.id)
        assert stored is not None and stored.version == current.version + 1
        assert stored.device == f"writer {results.index(True)}"

    users = UserRepository(fleet.db, SecretBox(ENCRYPTION_SECRET))
    loaded = await users.get(user.id)
    assert loaded is not None
    writers = [dataclasses.replace(loaded, full_name=f"Writer {n}") for n in range(20)]
    for writer in writers:
        writer.version += 1
    results = await asyncio.gather(*(users.save(w, loaded.version, []) for w in writers))
    assert results.count(True) == 1, results
    stored_user = await users.get(user.id)
    assert stored_user is not None and stored_user.version == loaded.version + 1
    assert stored_user.full_name == f"Writer {results.index(True)}"
    # No claim documents any more: nothing but the versioned write itself.
    assert "write_claims" not in await fleet.db.list_collection_names()
