"""auth_service over real gRPC: service tokens (issued for the service credential, good
for little) and the signing keys' rotation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from pymongo import AsyncMongoClient

from auth_service import bootstrap as auth_bootstrap
from auth_service import rotate_keys
from auth_service.adapters.keys import KeyRing, KeyStore
from auth_service.adapters.secrets import SecretBox
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from kopa.user.v1 import user_pb2
from shared.auth import TokenAuthenticator, jwks_from_auth_service
from shared.errors import Unauthenticated
from shared.permissions import Principal, Role
from shared.tokens import (
    ACCESS_TOKEN_TTL,
    CLOCK_LEEWAY,
    KeySet,
    decode_access_token,
    issue_access_token,
)
from tests.support.auth_fleet import SERVICE_SECRET, Fleet, Institution, start_service
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


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
