"""auth_service against real servers (MongoDB wire, Redis, RabbitMQ), over real gRPC.

auth_service and user_service run in-process, wired by their own `setup` exactly as
`shared.service.run` wires them, on port 0 and in a namespace of their own. user_service
verifies tokens with the JWKS it fetches from auth_service over gRPC; auth_service verifies
its callers against its local key ring. Both check Redis revocations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import secrets
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import aio_pika
import grpc
import pyotp
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from auth_service import bootstrap as auth_bootstrap
from auth_service import rotate_keys
from auth_service.adapters.audit_store import AuditStore, entry_document
from auth_service.adapters.keys import KeyRing, KeyStore
from auth_service.adapters.repository import SessionRepository, UserRepository
from auth_service.adapters.secrets import SecretBox
from auth_service.domain.audit import Actor, AuditDraft, Target, chain_segment
from auth_service.service_layer.audit import AuditHandlers, AuditRecord
from auth_service.service_layer.unit import AuthUnit
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc, events_pb2
from kopa.user.v1 import user_pb2, user_pb2_grpc
from shared import context
from shared.auth import TokenAuthenticator, jwks_from_auth_service
from shared.errors import Unauthenticated
from shared.grpc_server import build_server
from shared.permissions import Principal, Role
from shared.rpc_errors import RpcErrorDetails, details_of
from shared.service import Runtime, Setup
from shared.tokens import (
    ACCESS_TOKEN_TTL,
    CLOCK_LEEWAY,
    KeySet,
    decode_access_token,
    issue_access_token,
)
from user_service import bootstrap as user_bootstrap

pytestmark = pytest.mark.integration

PASSWORD = "Sturdy-Passw0rd-1"
OTHER_PASSWORD = "Another-Passw0rd-2"
ENCRYPTION_SECRET = secrets.token_urlsafe(32)
SERVICE_SECRET = secrets.token_urlsafe(32)
Code = grpc.StatusCode


# --- the fleet ------------------------------------------------------------------------------


@dataclass
class Service:
    runtime: Runtime
    server: grpc.aio.Server
    port: int

    async def stop(self) -> None:
        await self.server.stop(None)
        await self.runtime.close()


async def start_service(
    settings: Any, name: str, setup: Setup, authenticate: Any = None
) -> Service:
    """What `shared.service.run` does, minus waiting for SIGTERM."""
    runtime = Runtime(settings, name)
    if authenticate is not None:
        runtime.authenticate = authenticate
    try:
        await runtime.connect()
        register = await setup(runtime)
        if runtime.relay is not None:
            await runtime.relay.ensure_indexes()
            runtime.relay.start()
        server, port, _ = build_server(register, port=0, authenticate=runtime.authenticate)
        await server.start()
    except BaseException as exc:
        await runtime.close()
        if isinstance(exc, SystemExit):  # setup refusing to start: fail, do not exit pytest
            pytest.fail(f"{name} did not start: {exc}", pytrace=False)
        raise
    return Service(runtime, server, port)


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def new_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> RpcErrorDetails:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    details = details_of(info.value)
    assert details.code == code, (details.code, details.reason, details.message)
    return details


@dataclass
class Fleet:
    ns: str
    auth: auth_pb2_grpc.AuthServiceStub
    users: user_pb2_grpc.UserServiceStub
    auth_addr: str
    auth_service: Service
    db: Any
    redis: aioredis.Redis
    urls: dict[str, str]
    root_email: str
    root_password: str
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def auth_settings(self, **overrides: Any) -> auth_bootstrap.Settings:
        values: dict[str, Any] = {
            "mongodb_url": self.urls["MONGODB_URL"],
            "redis_url": self.urls["REDIS_URL"],
            "amqp_url": self.urls["AMQP_URL"],
            "kopa_namespace": self.ns,
            "kopa_env": "test",
            "kopa_bootstrap_email": self.root_email,
            "kopa_bootstrap_password": self.root_password,
            "kopa_key_encryption_secret": ENCRYPTION_SECRET,
            **overrides,
        }
        return auth_bootstrap.Settings(**values)

    async def login(
        self, email: str, password: str, *, otp: str = "", address: str | None = None
    ) -> auth_pb2.TokenPair:
        reply = await self.auth.Login(
            auth_pb2.LoginRequest(
                email=email,
                password=password,
                otp=otp,
                client=auth_pb2.ClientInfo(address=address or new_address(), user_agent="pytest"),
            )
        )
        return reply.tokens

    def login_error(
        self, email: str, password: str, *, otp: str = "", address: str | None = None
    ) -> Awaitable[Any]:
        return self.login(email, password, otp=otp, address=address)

    async def refresh(self, refresh_token: str) -> auth_pb2.TokenPair:
        reply = await self.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=refresh_token))
        return reply.tokens

    async def me(self, token: str) -> auth_pb2.User:
        return (await self.auth.GetMe(auth_pb2.GetMeRequest(), metadata=md(token))).user

    async def create_user(
        self,
        token: str,
        role: str,
        *,
        branch_id: str = "",
        institution_id: str = "",
        email: str | None = None,
        password: str = PASSWORD,
        request_id: str = "",
    ) -> auth_pb2.User:
        reply = await self.auth.CreateUser(
            auth_pb2.CreateUserRequest(
                email=email or f"{role}-{secrets.token_hex(4)}@{self.ns}.test",
                full_name=f"Test {role}",
                role=role,
                password=password,
                branch_id=branch_id,
                institution_id=institution_id,
                request_id=request_id,
            ),
            metadata=md(token),
        )
        return reply.user

    def authenticator(self) -> TokenAuthenticator:
        """A verifier as the gateway and the other services build it."""
        channel = grpc.aio.insecure_channel(self.auth_addr)
        self.channels.append(channel)
        return TokenAuthenticator(jwks_from_auth_service(channel), self.redis)


@pytest.fixture(scope="module")
async def fleet(server_urls: dict[str, str]) -> AsyncIterator[Fleet]:
    ns = f"ta{secrets.token_hex(5)}"
    root_email = f"platform@{ns}.test"
    root_password = f"Boot-{secrets.token_urlsafe(12)}-9"
    redis = aioredis.from_url(server_urls["REDIS_URL"], decode_responses=True)
    common = {
        "mongodb_url": server_urls["MONGODB_URL"],
        "redis_url": server_urls["REDIS_URL"],
        "amqp_url": server_urls["AMQP_URL"],
        "kopa_namespace": ns,
        "kopa_env": "test",
    }

    # user_service first, verifying tokens with auth_service's JWKS once it is up.
    verifier: list[TokenAuthenticator] = []

    async def authenticate_for_user_service(token: str) -> Any:
        return await verifier[0](token)

    user_settings = user_bootstrap.Settings(**common, auth_service_addr="127.0.0.1:9")
    users_service = await start_service(
        user_settings, "user", user_bootstrap.setup, authenticate_for_user_service
    )
    # auth_service: its own callers are verified locally, so its (unused) auth peer address
    # points nowhere; a regression to a self-call would fail every authenticated test.
    auth_settings = auth_bootstrap.Settings(
        **common,
        auth_service_addr="127.0.0.1:9",
        user_service_addr=f"127.0.0.1:{users_service.port}",
        kopa_bootstrap_email=root_email,
        kopa_bootstrap_password=root_password,
        kopa_key_encryption_secret=ENCRYPTION_SECRET,
        kopa_service_secret=SERVICE_SECRET,
    )
    auth_service = await start_service(auth_settings, "auth", auth_bootstrap.setup)
    auth_addr = f"127.0.0.1:{auth_service.port}"
    jwks_channel = grpc.aio.insecure_channel(auth_addr)
    verifier.append(TokenAuthenticator(jwks_from_auth_service(jwks_channel), redis))

    auth_channel = grpc.aio.insecure_channel(auth_addr)
    user_channel = grpc.aio.insecure_channel(f"127.0.0.1:{users_service.port}")
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    fleet = Fleet(
        ns=ns,
        auth=auth_pb2_grpc.AuthServiceStub(auth_channel),
        users=user_pb2_grpc.UserServiceStub(user_channel),
        auth_addr=auth_addr,
        auth_service=auth_service,
        db=mongo[auth_settings.mongodb_database],
        redis=redis,
        urls=server_urls,
        root_email=root_email,
        root_password=root_password,
        channels=[jwks_channel, auth_channel, user_channel],
    )
    try:
        yield fleet
    finally:
        for channel in fleet.channels:
            await channel.close()
        await auth_service.stop()
        await users_service.stop()
        for name in (auth_settings.mongodb_database, user_settings.mongodb_database):
            await mongo.drop_database(name)
        await mongo.close()
        await redis.aclose()


@dataclass
class Institution:
    id: str
    root_token: str
    admin: auth_pb2.User
    admin_token: str
    branch_id: str


async def new_institution(fleet: Fleet) -> Institution:
    """A platform admin creates an institution and its admin; the admin creates a branch."""
    root = await fleet.login(fleet.root_email, fleet.root_password)
    inst = (
        await fleet.users.CreateInstitution(
            user_pb2.CreateInstitutionRequest(name=f"MFI {secrets.token_hex(3)}", currency="KES"),
            metadata=md(root.access_token),
        )
    ).institution
    admin = await fleet.create_user(root.access_token, "admin", institution_id=inst.id)
    admin_tokens = await fleet.login(admin.email, PASSWORD)
    branch = (
        await fleet.users.CreateBranch(
            user_pb2.CreateBranchRequest(name="Main street"),
            metadata=md(admin_tokens.access_token),
        )
    ).branch
    return Institution(inst.id, root.access_token, admin, admin_tokens.access_token, branch.id)


@pytest.fixture(scope="module")
async def inst(fleet: Fleet) -> Institution:
    return await new_institution(fleet)


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


# --- MFA ----------------------------------------------------------------------------------


async def test_mfa_enrolment_then_login_needs_a_code(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "auditor")
    own = await fleet.login(user.email, PASSWORD)
    token = own.access_token
    elsewhere = await fleet.login(user.email, PASSWORD)  # e.g. whoever else has the password
    enrol = await fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(token))
    assert enrol.otpauth_uri.startswith("otpauth://totp/") and enrol.secret
    totp = pyotp.TOTP(enrol.secret)
    now = datetime.now(UTC)
    valid = {totp.at(now + timedelta(seconds=d)) for d in (-60, -30, 0, 30, 60)}
    wrong_code = next(
        c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid
    )
    wrong = await rpc_error(
        fleet.auth.ConfirmMfa(auth_pb2.ConfirmMfaRequest(code=wrong_code), metadata=md(token)),
        Code.INVALID_ARGUMENT,
    )
    assert wrong.reason == "MFA_INVALID"
    confirmed = await fleet.auth.ConfirmMfa(
        auth_pb2.ConfirmMfaRequest(code=totp.at(now)), metadata=md(token)
    )
    codes = list(confirmed.recovery_codes)
    assert len(codes) == 10
    assert (await fleet.me(token)).mfa_enabled
    # Enrolling ends the sessions opened with the password alone, not the enrolling one.
    await rpc_error(fleet.me(elsewhere.access_token), Code.UNAUTHENTICATED)
    await rpc_error(
        fleet.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=elsewhere.refresh_token)),
        Code.UNAUTHENTICATED,
    )
    refreshed = await fleet.refresh(own.refresh_token)
    assert (await fleet.me(refreshed.access_token)).mfa_enabled
    stored = await fleet.db.users.find_one({"_id": user.id})
    assert enrol.secret not in str(stored["mfa"])  # never the bare secret next to the rest

    required = await rpc_error(fleet.login_error(user.email, PASSWORD), Code.UNAUTHENTICATED)
    assert required.reason == "MFA_REQUIRED"
    # The confirmation used this time step; the next step's code is valid (clock drift).
    code = totp.at(now + timedelta(seconds=30))
    assert (await fleet.login(user.email, PASSWORD, otp=code)).access_token
    replay = await rpc_error(
        fleet.login_error(user.email, PASSWORD, otp=code), Code.UNAUTHENTICATED
    )
    assert replay.reason == "MFA_INVALID"
    assert (await fleet.login(user.email, PASSWORD, otp=codes[0])).access_token
    spent = await rpc_error(
        fleet.login_error(user.email, PASSWORD, otp=codes[0]), Code.UNAUTHENTICATED
    )
    assert spent.reason == "MFA_INVALID"
    again = await rpc_error(
        fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(token)),
        Code.FAILED_PRECONDITION,
    )
    assert again.reason == "MFA_ALREADY_ENABLED"


# --- the institution's security policy ------------------------------------------------------


def policy_call(
    fleet: Fleet, token: str, institution_id: str, roles: list[str] | None = None
) -> Awaitable[Any]:
    """GetSecurityPolicy, or UpdateSecurityPolicy when `roles` is given."""
    if roles is None:
        return fleet.auth.GetSecurityPolicy(
            auth_pb2.GetSecurityPolicyRequest(institution_id=institution_id), metadata=md(token)
        )
    policy = auth_pb2.SecurityPolicy(institution_id=institution_id, mfa_required_roles=roles)
    return fleet.auth.UpdateSecurityPolicy(
        auth_pb2.UpdateSecurityPolicyRequest(policy=policy), metadata=md(token)
    )


async def test_who_reads_and_replaces_a_security_policy(fleet: Fleet) -> None:
    inst, other = await new_institution(fleet), await new_institution(fleet)
    assert (
        list((await policy_call(fleet, inst.admin_token, inst.id)).policy.mfa_required_roles) == []
    )
    auditor = await fleet.create_user(inst.admin_token, "auditor")
    auditor_token = (await fleet.login(auditor.email, PASSWORD)).access_token
    set_by_admin = (await policy_call(fleet, inst.admin_token, inst.id, ["auditor"])).policy
    assert list(set_by_admin.mfa_required_roles) == ["auditor"]
    assert set_by_admin.updated_by == inst.admin.id and set_by_admin.HasField("update_time")

    # An auditor (whose own session predates the policy) reads it but may not change it.
    read = (await policy_call(fleet, auditor_token, inst.id)).policy
    assert list(read.mfa_required_roles) == ["auditor"]
    denied = await rpc_error(policy_call(fleet, auditor_token, inst.id, []), Code.PERMISSION_DENIED)
    assert denied.metadata.get("permission") == "security_policy:manage"
    # Another institution's policy does not exist for an admin, whatever the call.
    for call in (
        policy_call(fleet, other.admin_token, inst.id),
        policy_call(fleet, other.admin_token, inst.id, []),
    ):
        assert (await rpc_error(call, Code.NOT_FOUND)).reason == "INSTITUTION_NOT_FOUND"
    # The platform admin sets any existing institution's; an unknown one is NOT_FOUND.
    by_root = (await policy_call(fleet, inst.root_token, inst.id, ["admin", "auditor"])).policy
    assert list(by_root.mfa_required_roles) == ["admin", "auditor"]
    await rpc_error(policy_call(fleet, inst.root_token, "inst_nowhere", []), Code.NOT_FOUND)
    bad = await rpc_error(
        policy_call(fleet, inst.admin_token, inst.id, ["admin", "platform_admin"]),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in bad.field_errors] == ["mfa_required_roles[1]"]
    assert (
        list((await policy_call(fleet, other.admin_token, other.id)).policy.mfa_required_roles)
        == []
    )


async def test_required_mfa_lets_an_unenrolled_user_in_only_to_enrol(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    officer = await fleet.create_user(inst.admin_token, "risk_officer")
    before = await fleet.login(officer.email, PASSWORD)
    assert not before.mfa_enrolment_required
    await policy_call(fleet, inst.root_token, inst.id, ["risk_officer", "admin"])
    list_branches = user_pb2.ListBranchesRequest()

    # The login succeeds, but the token allows nothing but the user's own account, and
    # every service says why (user_service here, verifying the token itself).
    pending = await fleet.login(officer.email, PASSWORD)
    assert pending.mfa_enrolment_required
    refused = await rpc_error(
        fleet.users.ListBranches(list_branches, metadata=md(pending.access_token)),
        Code.PERMISSION_DENIED,
    )
    assert refused.reason == "MFA_ENROLMENT_REQUIRED"
    # A session opened before the policy is held to it from its next refresh.
    assert (await fleet.refresh(before.refresh_token)).mfa_enrolment_required
    assert (await fleet.me(pending.access_token)).id == officer.id
    enrol = await fleet.auth.EnrollMfa(
        auth_pb2.EnrollMfaRequest(), metadata=md(pending.access_token)
    )
    await fleet.auth.ConfirmMfa(
        auth_pb2.ConfirmMfaRequest(code=pyotp.TOTP(enrol.secret).now()),
        metadata=md(pending.access_token),
    )
    # Enrolled: a refresh gives the role's permissions back.
    enrolled = await fleet.refresh(pending.refresh_token)
    assert not enrolled.mfa_enrolment_required
    await fleet.users.ListBranches(list_branches, metadata=md(enrolled.access_token))
    # The admin who is required to enrol is not locked out either.
    admin_pair = await fleet.login(inst.admin.email, PASSWORD)
    assert admin_pair.mfa_enrolment_required
    await fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(admin_pair.access_token))


# --- service tokens ---------------------------------------------------------------------------


async def test_a_service_token_is_issued_for_the_credential_only_and_grants_little(
    fleet: Fleet, inst: Institution
) -> None:
    def issue(credential: str, service: str = "payment_service") -> Awaitable[Any]:
        return fleet.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                service=service, institution_id=inst.id, credential=credential
            )
        )

    wrong = await rpc_error(issue(SERVICE_SECRET[:-1] + "x"), Code.UNAUTHENTICATED)
    assert wrong.reason == "SERVICE_CREDENTIAL_INVALID"
    assert (await rpc_error(issue("", "root"), Code.UNAUTHENTICATED)).reason == wrong.reason
    unknown = await rpc_error(issue(SERVICE_SECRET, "root"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in unknown.field_errors] == ["service"]

    issued = await issue(SERVICE_SECRET)
    assert issued.expires_in == 300
    principal = await fleet.authenticator()(issued.access_token)  # as the services verify it
    assert (principal.user_id, principal.role, principal.institution_id) == (
        "svc:payment_service",
        Role.SERVICE,
        inst.id,
    )
    gateway = TokenAuthenticator(
        jwks_from_auth_service(fleet.channels[0]), fleet.redis, accept_service_tokens=False
    )
    with pytest.raises(Unauthenticated):
        await gateway(issued.access_token)
    # Verified everywhere, allowed almost nowhere: no users, no branches.
    await rpc_error(
        fleet.create_user(issued.access_token, "agent", branch_id=inst.branch_id),
        Code.PERMISSION_DENIED,
    )
    await rpc_error(
        fleet.users.ListBranches(user_pb2.ListBranchesRequest(), metadata=md(issued.access_token)),
        Code.PERMISSION_DENIED,
    )


async def test_without_a_service_secret_no_service_token_is_issued(fleet: Fleet) -> None:
    plain = await start_service(
        fleet.auth_settings(auth_service_addr="127.0.0.1:9"), "auth", auth_bootstrap.setup
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{plain.port}")
    try:
        refused = await rpc_error(
            auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(
                    service="payment_service", institution_id="inst_1", credential=SERVICE_SECRET
                )
            ),
            Code.UNAUTHENTICATED,
        )
        assert refused.reason == "SERVICE_CREDENTIALS_NOT_CONFIGURED"
    finally:
        await channel.close()
        await plain.stop()
    with pytest.raises(ValueError, match="kopa_service_secret"):
        fleet.auth_settings(kopa_env="production")


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


async def verify_chain(fleet: Fleet, token: str) -> auth_pb2.VerifyAuditChainResponse:
    return await fleet.auth.VerifyAuditChain(auth_pb2.VerifyAuditChainRequest(), metadata=md(token))


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


async def append_entries(
    stub: auth_pb2_grpc.AuthServiceStub, token: str, entries: list[auth_pb2.NewAuditEntry]
) -> list[auth_pb2.AuditEntry]:
    request = auth_pb2.AppendAuditEntryRequest(entries=entries)
    return list((await stub.AppendAuditEntry(request, metadata=md(token))).entries)


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


# --- signing keys -----------------------------------------------------------------------------


async def test_keys_rotate_and_old_ones_verify_until_their_tokens_expire(fleet: Fleet) -> None:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(fleet.urls["MONGODB_URL"], tz_aware=True)
    name = f"{fleet.ns}_keys"
    try:
        # Without KOPA_KEY_ENCRYPTION_SECRET (local development) keys are stored in clear.
        store = KeyStore(mongo[name], SecretBox(None))
        await store.ensure_indexes()
        moment = [datetime.now(UTC)]

        def ring() -> KeyRing:
            return KeyRing(
                store,
                rotate_after=timedelta(days=30),
                publish_delay=timedelta(minutes=2),
                reload_interval=60,
                clock=lambda: moment[0],
            )

        # Two replicas starting together make one key between them.
        first, second = ring(), ring()
        await asyncio.gather(first.ensure_current(), second.ensure_current())
        assert first.keyset.signing_key.kid == second.keyset.signing_key.kid
        old_kid = first.keyset.signing_key.kid
        doc = await mongo[name].signing_keys.find_one({"_id": old_kid})
        assert not doc["encrypted"] and "BEGIN PRIVATE KEY" in doc["pem"]
        principal = Principal("usr_1", Role.AUDITOR, "inst_1", None, "ses_1")
        old_token = issue_access_token(first.keyset, principal, now=moment[0]).token

        # A month later the next start rotates: the new key is published, not yet signing.
        moment[0] += timedelta(days=31)
        await asyncio.gather(first.ensure_current(), second.ensure_current())
        assert await mongo[name].signing_keys.count_documents({}) == 2
        kids = {k["kid"] for k in first.jwks()["keys"]}
        assert len(kids) == 2 and first.keyset.signing_key.kid == old_kid
        # Once active it signs; the old key still verifies...
        moment[0] += timedelta(minutes=3)
        await first.reload()
        new_kid = first.keyset.signing_key.kid
        assert new_kid != old_kid and old_kid in first.keyset.kids
        decode_access_token(
            issue_access_token(first.keyset, principal, now=moment[0]).token,
            KeySet.from_jwks(first.jwks()),
            now=moment[0],
        )
        # ...until every token it signed has expired: then it is retired and erased.
        moment[0] += ACCESS_TOKEN_TTL + CLOCK_LEEWAY
        await first.reload()
        assert {k["kid"] for k in first.jwks()["keys"]} == {new_kid}
        retired = await mongo[name].signing_keys.find_one({"_id": old_kid})
        assert retired["retired_at"] is not None and retired["pem"] == ""
        assert old_token  # (signed by the retired key: no longer verifiable)

        # The command-line rotation adds the next slot.
        settings = fleet.auth_settings(mongodb_database=name, kopa_key_encryption_secret=None)
        assert await rotate_keys.rotate(settings, None) == 0
        assert await mongo[name].signing_keys.count_documents({"slot": 3}) == 1
    finally:
        await mongo.drop_database(name)
        await mongo.close()


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


async def test_unauthenticated_calls_are_refused(fleet: Fleet) -> None:
    await rpc_error(fleet.auth.GetMe(auth_pb2.GetMeRequest()), Code.UNAUTHENTICATED)
    await rpc_error(
        fleet.auth.GetMe(auth_pb2.GetMeRequest(), metadata=md("a.b.c")), Code.UNAUTHENTICATED
    )
    await rpc_error(
        fleet.auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=md("garbage")),
        Code.UNAUTHENTICATED,
    )
