"""auth_service over real gRPC: logging in (the bootstrap admin, a second replica, wrong
passwords, locks and throttles), refresh, logout and sessions, and unauthenticated calls.

The fleet (auth_service and user_service in-process, on the real servers) is
tests.support.auth_fleet's, started once per module by this folder's conftest.
"""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from auth_service import bootstrap as auth_bootstrap
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from shared.errors import Unauthenticated
from shared.rpc_errors import details_of
from shared.tokens import KeySet, decode_access_token
from tests.support.auth_fleet import (
    OTHER_PASSWORD,
    PASSWORD,
    Fleet,
    Institution,
    new_address,
    start_service,
)
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


# --- login ----------------------------------------------------------------------------------


async def test_the_bootstrap_admin_logs_in_and_its_token_verifies_everywhere(fleet: Fleet) -> None:
    tokens = await fleet.login(fleet.root_email.upper(), fleet.root_password)
    assert tokens.token_type == "Bearer" and tokens.expires_in == 900
    assert tokens.refresh_token and not tokens.must_change_password
    me = await fleet.me(tokens.access_token)
    assert me.email == fleet.root_email and me.role == "platform_admin"
    assert me.institution_id == "" and not me.disabled

    jwks = await fleet.auth.GetJwks(auth_pb2.GetJwksRequest())
    claims = decode_access_token(tokens.access_token, KeySet.from_jwks(json.loads(jwks.jwks_json)))
    assert claims.principal.user_id == me.id
    principal = await fleet.authenticator()(tokens.access_token)
    assert principal.role == "platform_admin"
    # The signing key is stored encrypted (KOPA_KEY_ENCRYPTION_SECRET is set here).
    key = await fleet.db.signing_keys.find_one({"_id": claims.kid})
    assert key["encrypted"] and "BEGIN ENCRYPTED PRIVATE KEY" in key["pem"]


async def test_a_second_replica_reuses_the_keys_and_the_admin(fleet: Fleet) -> None:
    before = await fleet.auth.GetJwks(auth_pb2.GetJwksRequest())
    replica = await start_service(
        fleet.auth_settings(auth_service_addr="127.0.0.1:9"), "auth", auth_bootstrap.setup
    )
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{replica.port}")
        fleet.channels.append(channel)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        after = await stub.GetJwks(auth_pb2.GetJwksRequest())
        assert after.jwks_json == before.jwks_json
        # A token from one replica is accepted by the other.
        tokens = await fleet.login(fleet.root_email, fleet.root_password)
        me = await stub.GetMe(auth_pb2.GetMeRequest(), metadata=md(tokens.access_token))
        assert me.user.email == fleet.root_email
    finally:
        await replica.stop()
    assert await fleet.db.users.count_documents({"email": fleet.root_email}) == 1


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    fleet: Fleet, inst: Institution
) -> None:
    wrong = await rpc_error(
        fleet.login_error(inst.admin.email, "Wrong-Passw0rd-9"), Code.UNAUTHENTICATED
    )
    unknown = await rpc_error(
        fleet.login_error(f"nobody@{fleet.ns}.test", "Wrong-Passw0rd-9"), Code.UNAUTHENTICATED
    )
    assert wrong.reason == unknown.reason == "INVALID_CREDENTIALS"
    assert wrong.message == unknown.message
    # Both are in the login history; the known user's under its institution.
    history = await fleet.auth.ListLoginHistory(
        auth_pb2.ListLoginHistoryRequest(page_size=50), metadata=md(inst.admin_token)
    )
    mine = [a for a in history.attempts if a.email == inst.admin.email]
    assert any(a.failure_reason == "bad_password" and not a.success for a in mine)
    assert any(a.success for a in mine)
    assert all(a.user_agent == "pytest" and a.address for a in mine)
    assert not any(a.email.startswith("nobody@") for a in history.attempts)
    unknown_doc = await fleet.db.login_attempts.find_one({"email": f"nobody@{fleet.ns}.test"})
    assert unknown_doc["outcome"] == "unknown_user" and unknown_doc["user_id"] is None


async def test_five_failures_lock_the_account(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "risk_officer")
    address = new_address()
    for _ in range(5):
        error = await rpc_error(
            fleet.login_error(user.email, "Wrong-Passw0rd-9", address=address), Code.UNAUTHENTICATED
        )
        assert error.reason == "INVALID_CREDENTIALS"
    locked = await rpc_error(
        fleet.login_error(user.email, PASSWORD, address=address), Code.UNAUTHENTICATED
    )
    assert locked.reason == "ACCOUNT_LOCKED"
    assert 0 < int(locked.metadata["retry_after_seconds"]) <= 60
    doc = await fleet.db.users.find_one({"_id": user.id})
    assert doc["failed_login_count"] == 5 and doc["locked_until"] is not None
    # An admin's reset lifts the lock.
    await fleet.auth.ResetPassword(
        auth_pb2.ResetPasswordRequest(user_id=user.id, temporary_password=OTHER_PASSWORD),
        metadata=md(inst.admin_token),
    )
    tokens = await fleet.login(user.email, OTHER_PASSWORD)
    assert tokens.must_change_password


async def test_concurrent_failures_are_all_counted(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "auditor")
    address = new_address()
    results = await asyncio.gather(
        *(fleet.login(user.email, "Wrong-Passw0rd-9", address=address) for _ in range(4)),
        return_exceptions=True,
    )
    assert all(isinstance(r, grpc.aio.AioRpcError) for r in results)
    doc = await fleet.db.users.find_one({"_id": user.id})
    assert doc["failed_login_count"] == 4


async def test_an_address_with_too_many_failures_is_throttled(fleet: Fleet) -> None:
    address = new_address()
    for n in range(20):
        await rpc_error(
            fleet.login_error(f"spray{n}@{fleet.ns}.test", "Wrong-Passw0rd-9", address=address),
            Code.UNAUTHENTICATED,
        )
    throttled = await rpc_error(
        fleet.login_error(fleet.root_email, fleet.root_password, address=address),
        Code.RESOURCE_EXHAUSTED,
    )
    assert throttled.reason == "ADDRESS_THROTTLED"
    assert 0 < int(throttled.metadata["retry_after"]) <= 900
    # Another address is not affected.
    assert (await fleet.login(fleet.root_email, fleet.root_password)).access_token


# --- refresh, logout, sessions ----------------------------------------------------------------


async def test_refresh_rotates_and_reuse_ends_the_session(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    first = await fleet.login(user.email, PASSWORD)
    second = await fleet.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    verify = fleet.authenticator()
    assert (await verify(second.access_token)).user_id == user.id

    reused = await rpc_error(fleet.refresh(first.refresh_token), Code.UNAUTHENTICATED)
    assert reused.reason == "REFRESH_TOKEN_REUSED"
    # The whole session is gone: the newest refresh token and every access token too.
    ended = await rpc_error(fleet.refresh(second.refresh_token), Code.UNAUTHENTICATED)
    assert ended.reason == "SESSION_REVOKED"
    for token in (first.access_token, second.access_token):
        with pytest.raises(Unauthenticated) as info:
            await verify(token)
        assert info.value.reason == "TOKEN_REVOKED"
        await rpc_error(fleet.me(token), Code.UNAUTHENTICATED)
    invalid = await rpc_error(fleet.refresh("not-a-token"), Code.UNAUTHENTICATED)
    assert invalid.reason == "REFRESH_TOKEN_INVALID"


async def test_two_concurrent_refreshes_cannot_both_succeed(
    fleet: Fleet, inst: Institution
) -> None:
    user = await fleet.create_user(inst.admin_token, "agent", branch_id=inst.branch_id)
    tokens = await fleet.login(user.email, PASSWORD)
    results = await asyncio.gather(
        *(fleet.refresh(tokens.refresh_token) for _ in range(8)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, auth_pb2.TokenPair)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1 and len(lost) == 7, results
    # The first loser presents a spent token (reuse: the session ends); a later one may
    # find the session already ended.
    reasons = [details_of(e).reason for e in lost]
    assert "REFRESH_TOKEN_REUSED" in reasons
    assert set(reasons) <= {"REFRESH_TOKEN_REUSED", "SESSION_REVOKED"}
    # Presenting a spent token ended the session, so even the winner's tokens are dead.
    await rpc_error(fleet.me(won[0].access_token), Code.UNAUTHENTICATED)
    await rpc_error(fleet.refresh(won[0].refresh_token), Code.UNAUTHENTICATED)


async def test_logout_ends_the_session(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "auditor")
    tokens = await fleet.login(user.email, PASSWORD)
    other = await fleet.login(user.email, PASSWORD)
    await fleet.auth.Logout(auth_pb2.LogoutRequest(), metadata=md(tokens.access_token))
    await rpc_error(fleet.me(tokens.access_token), Code.UNAUTHENTICATED)
    with pytest.raises(Unauthenticated):
        await fleet.authenticator()(tokens.access_token)
    ended = await rpc_error(fleet.refresh(tokens.refresh_token), Code.UNAUTHENTICATED)
    assert ended.reason == "SESSION_REVOKED"
    assert (await fleet.me(other.access_token)).id == user.id  # the other device stays
    await rpc_error(fleet.auth.Logout(auth_pb2.LogoutRequest()), Code.UNAUTHENTICATED)


async def test_sessions_are_listed_and_revoked_one_by_one(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "risk_officer")
    phone = await fleet.login(user.email, PASSWORD)
    laptop = await fleet.login(user.email, PASSWORD)
    listed = await fleet.auth.ListSessions(
        auth_pb2.ListSessionsRequest(), metadata=md(laptop.access_token)
    )
    assert len(listed.sessions) == 2
    current = [s for s in listed.sessions if s.current]
    assert len(current) == 1 and current[0].device == "pytest"
    other_id = next(s.id for s in listed.sessions if not s.current)
    # Someone else cannot see or end it.
    stranger = await fleet.create_user(inst.admin_token, "auditor")
    stranger_tokens = await fleet.login(stranger.email, PASSWORD)
    await rpc_error(
        fleet.auth.RevokeSession(
            auth_pb2.RevokeSessionRequest(session_id=other_id),
            metadata=md(stranger_tokens.access_token),
        ),
        Code.NOT_FOUND,
    )
    await fleet.auth.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=other_id), metadata=md(laptop.access_token)
    )
    await rpc_error(fleet.me(phone.access_token), Code.UNAUTHENTICATED)
    assert (await fleet.me(laptop.access_token)).id == user.id
    listed = await fleet.auth.ListSessions(
        auth_pb2.ListSessionsRequest(), metadata=md(laptop.access_token)
    )
    assert [s.current for s in listed.sessions] == [True]


async def test_unauthenticated_calls_are_refused(fleet: Fleet) -> None:
    await rpc_error(fleet.auth.GetMe(auth_pb2.GetMeRequest()), Code.UNAUTHENTICATED)
    await rpc_error(
        fleet.auth.GetMe(auth_pb2.GetMeRequest(), metadata=md("a.b.c")), Code.UNAUTHENTICATED
    )
    await rpc_error(
        fleet.auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=md("garbage")),
        Code.UNAUTHENTICATED,
    )
