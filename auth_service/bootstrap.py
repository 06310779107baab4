"""Wires auth_service: stores, signing keys, the local token authenticator, handlers,
outbox relay, the first platform admin, servicer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import grpc
from pydantic import Field, SecretStr

from auth_service.adapters.audit_store import AuditStore
from auth_service.adapters.directory import UserServiceDirectory
from auth_service.adapters.keys import KeyRing, KeyStore
from auth_service.adapters.redis_store import LoginThrottle, Revocations
from auth_service.adapters.repository import (
    USER_EVENTS,
    LoginAttemptRepository,
    PolicyRepository,
    SessionRepository,
    UserRepository,
)
from auth_service.adapters.secrets import SecretBox, SecretUnavailable
from auth_service.domain.lockout import DEFAULT_ADDRESS_THROTTLE, AddressThrottlePolicy
from auth_service.entrypoints.grpc_servicer import AuthServicer
from auth_service.service_layer.staff import StaffHandlers
from auth_service.service_layer.unit import AuthUnit
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from shared.auth import TokenAuthenticator
from shared.config import ServiceCredentialSettings, ServiceSettings
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger(__name__)


class Settings(ServiceSettings, ServiceCredentialSettings):
    kopa_bootstrap_email: str | None = Field(
        None, description="e-mail of the first platform administrator, created once"
    )
    kopa_bootstrap_password: SecretStr | None = Field(
        None, description="its password (must meet the password policy)"
    )
    kopa_key_encryption_secret: SecretStr | None = Field(
        None,
        description="encrypts signing keys and TOTP secrets at rest; without it they are "
        "stored in clear (fine locally, not in production)",
    )
    key_rotation_days: int = Field(
        30, ge=1, description="rotate the signing key at start when the newest is older than this"
    )
    key_reload_seconds: float = Field(
        60.0, gt=0, description="how often replicas reload the signing keys from MongoDB"
    )
    login_failures_per_address: int = Field(
        DEFAULT_ADDRESS_THROTTLE.max_failures,
        ge=1,
        description="failed logins from one client address within 15 minutes before it must "
        "wait (a test fleet fuzzed from 127.0.0.1 raises it)",
    )

    @classmethod
    def service_name(cls) -> str:
        return "auth"

    @property
    def key_publish_delay(self) -> timedelta:
        """A new key signs only once every replica has had time to publish it."""
        return timedelta(seconds=2 * self.key_reload_seconds + 5)


EVENT_SWEEP_SECONDS = 10.0


def every(
    seconds: float, job: Callable[[], Awaitable[object]], name: str
) -> Callable[[], Awaitable[None]]:
    """Run `job` every `seconds` in the background (errors logged, never fatal); returns
    the function that stops it."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background_job_failed", job=name)

    task = asyncio.create_task(loop(), name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop


def secret_box(settings: Settings) -> SecretBox:
    secret = settings.kopa_key_encryption_secret
    if secret is None:
        (log.warning if settings.production else log.info)(
            "key_encryption_disabled",
            hint="set KOPA_KEY_ENCRYPTION_SECRET to encrypt signing keys and TOTP secrets",
        )
        return SecretBox(None)
    return SecretBox(secret.get_secret_value())


def key_ring(settings: Settings, store: KeyStore) -> KeyRing:
    return KeyRing(
        store,
        rotate_after=timedelta(days=settings.key_rotation_days),
        publish_delay=settings.key_publish_delay,
        reload_interval=settings.key_reload_seconds,
    )


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    db, redis = runtime.db, runtime.redis
    assert redis is not None
    box = secret_box(settings)

    users, sessions = UserRepository(db, box), SessionRepository(db)
    attempts, audit = LoginAttemptRepository(db), AuditStore(db)
    store = KeyStore(db, box)
    for repo in (users, sessions, attempts, audit, store):
        await repo.ensure_indexes()

    keys = key_ring(settings, store)
    try:
        await keys.ensure_current()
    except SecretUnavailable as exc:
        raise SystemExit(f"auth: cannot load the signing keys: {exc}") from None
    # Tokens arriving at this service are verified against the local key ring (no call
    # to itself), with the same Redis revocation checks as everywhere else.
    runtime.authenticate = TokenAuthenticator(keys.jwks_source, redis)

    relay = runtime.start_relay([USER_EVENTS])
    unit = AuthUnit(
        users=users,
        sessions=sessions,
        attempts=attempts,
        policies=PolicyRepository(db),
        audit=audit,
        keys=keys,
        revocations=Revocations(redis),
        throttle=LoginThrottle(
            redis,
            AddressThrottlePolicy(
                max_failures=settings.login_failures_per_address,
                key_prefix=f"{settings.kopa_namespace}:auth:login_failures:",
            ),
        ),
        directory=UserServiceDirectory(runtime.channel("user")),
        notify=relay.notify,
    )
    password = settings.kopa_bootstrap_password
    await StaffHandlers(unit).ensure_platform_admin(
        settings.kopa_bootstrap_email, password.get_secret_value() if password else None
    )
    service_secret = settings.kopa_service_secret
    if service_secret is None:
        log.info("service_tokens_disabled", hint="set KOPA_SERVICE_SECRET to issue them")
    servicer = AuthServicer(
        unit,
        service_secret=service_secret.get_secret_value() if service_secret else None,
        authenticate=runtime.authenticate,
    )
    keys.start()
    runtime.on_close(keys.stop)
    runtime.on_close(every(EVENT_SWEEP_SECONDS, unit.forward_pending_events, "event-forwarding"))

    def register(server: grpc.aio.Server) -> list[str]:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
        return [auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name]

    return register
