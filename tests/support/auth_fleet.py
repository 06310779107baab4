"""auth_service and user_service for the integration tests, started as `shared.service.run`
starts them, over real gRPC against the real servers (MongoDB wire, Redis, RabbitMQ).

Both run in-process, wired by their own `setup`, on port 0 and in a namespace of their own.
user_service verifies tokens with the JWKS it fetches from auth_service over gRPC;
auth_service verifies its callers against its local key ring. Both check Redis revocations.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from auth_service import bootstrap as auth_bootstrap
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from kopa.user.v1 import user_pb2, user_pb2_grpc
from kopa.user.v2 import user_pb2_grpc as user_v2_grpc
from shared.auth import TokenAuthenticator, jwks_from_auth_service
from shared.grpc_server import build_server
from shared.service import Runtime, Setup
from tests.support.rpc import md
from user_service import bootstrap as user_bootstrap

PASSWORD = "Sturdy-Passw0rd-1"
OTHER_PASSWORD = "Another-Passw0rd-2"
ENCRYPTION_SECRET = secrets.token_urlsafe(32)
SERVICE_SECRET = secrets.token_urlsafe(32)


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


def new_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@dataclass
class Fleet:
    ns: str
    auth: auth_pb2_grpc.AuthServiceStub
    users: user_pb2_grpc.UserServiceStub
    #: kopa.user.v2's UserService, on the same server.
    users_v2: user_v2_grpc.UserServiceStub
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


@contextlib.asynccontextmanager
async def running_fleet(server_urls: dict[str, str]) -> AsyncIterator[Fleet]:
    """auth_service and user_service in a namespace of their own; everything they made is
    removed after."""
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
        users_v2=user_v2_grpc.UserServiceStub(user_channel),
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


# --- the audit log ---------------------------------------------------------------------------


async def verify_chain(fleet: Fleet, token: str) -> auth_pb2.VerifyAuditChainResponse:
    return await fleet.auth.VerifyAuditChain(auth_pb2.VerifyAuditChainRequest(), metadata=md(token))


async def append_entries(
    stub: auth_pb2_grpc.AuthServiceStub, token: str, entries: list[auth_pb2.NewAuditEntry]
) -> list[auth_pb2.AuditEntry]:
    request = auth_pb2.AppendAuditEntryRequest(entries=entries)
    return list((await stub.AppendAuditEntry(request, metadata=md(token))).entries)
