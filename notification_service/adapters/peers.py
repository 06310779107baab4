"""The other services, asked as notification_service itself: each call carries a short-lived
service token for the institution concerned (events and the clock have no user behind them)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date

import grpc

from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from kopa.loan.v2 import loans_pb2, loans_pb2_grpc
from kopa.user.v2 import user_pb2, user_pb2_grpc
from notification_service.service_layer import ports
from notification_service.service_layer.ports import BorrowerNotFound, Person, StaffMember
from shared.dates import to_proto_date

#: A service token for an institution (shared.service_tokens.ServiceTokens.token).
TokenFor = Callable[[str], Awaitable[str]]

#: Names and staff lists change rarely; a message or alert may be a few minutes behind.
CACHE_SECONDS = 300.0


def _auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


class PeerDirectory(ports.Directory):
    def __init__(
        self, user_channel: grpc.aio.Channel, auth_channel: grpc.aio.Channel, token: TokenFor
    ):
        self._users = user_pb2_grpc.UserServiceStub(user_channel)
        self._auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        self._token = token
        self._names: dict[str, tuple[float, str]] = {}
        self._staff: dict[str, tuple[float, list[StaffMember]]] = {}

    async def borrower(self, institution_id: str, borrower_id: str) -> Person:
        try:
            reply = await self._users.GetBorrower(
                user_pb2.GetBorrowerRequest(borrower_id=borrower_id),
                metadata=_auth(await self._token(institution_id)),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise BorrowerNotFound(institution_id, borrower_id) from None
            raise
        b = reply.borrower
        return Person(b.id, b.branch_id, b.first_name, b.last_name, b.phone)

    async def institution_name(self, institution_id: str) -> str:
        held = self._names.get(institution_id)
        if held and held[0] > time.monotonic():
            return held[1]
        reply = await self._users.GetInstitution(
            user_pb2.GetInstitutionRequest(institution_id=institution_id),
            metadata=_auth(await self._token(institution_id)),
        )
        name = reply.institution.name
        self._names[institution_id] = (time.monotonic() + CACHE_SECONDS, name)
        return name

    async def staff(self, institution_id: str, roles: tuple[str, ...]) -> list[StaffMember]:
        held = self._staff.get(institution_id)
        if held and held[0] > time.monotonic():
            members = held[1]
        else:
            members = []
            token = ""
            credentials = _auth(await self._token(institution_id))
            while True:
                reply = await self._auth.ListUsers(
                    auth_pb2.ListUsersRequest(page_size=200, page_token=token),
                    metadata=credentials,
                )
                members += [
                    StaffMember(u.id, u.email, u.role, u.branch_id)
                    for u in reply.users
                    if not u.disabled and u.institution_id == institution_id
                ]
                token = reply.next_page_token
                if not token:
                    break
            self._staff[institution_id] = (time.monotonic() + CACHE_SECONDS, members)
        return [m for m in members if not roles or m.role in roles]


class PeerBooks(ports.Books):
    def __init__(self, loan_channel: grpc.aio.Channel, token: TokenFor) -> None:
        self._loans = loans_pb2_grpc.LoanServiceStub(loan_channel)
        self._token = token

    async def close_business_day(self, institution_id: str, day: date) -> None:
        await self._loans.RunCloseOfBusiness(
            loans_pb2.RunCloseOfBusinessRequest(as_of=to_proto_date(day), wait=True),
            metadata=_auth(await self._token(institution_id)),
            timeout=3600,
        )
