"""Staff accounts: created, read, disabled and enabled, and their passwords reset, by the
administrators who manage them."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from gateway.users.schemas import CreateUserBody, ResetPasswordBody, User
from kopa.auth.v1 import auth_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["users"])


@router.post(
    "/v1/users",
    summary="Create a staff account",
    status_code=201,
    dependencies=[allowed(P.USERS_CREATE)],
)
async def create_user(body: CreateUserBody, stubs: Stubs) -> User:
    """A new staff account, active at once. The platform administrator creates the first admin
    of an institution (naming `institution_id`); an institution's admin creates its staff, in
    their own institution. Agents and branch managers need a `branch_id` of the institution.
    A role the caller may not create is 403; an email already in use is 409."""
    reply = await stubs.auth.CreateUser(to_proto(auth_pb2.CreateUserRequest, body))
    return from_proto(User, reply.user)


@router.get("/v1/users", summary="List staff accounts", dependencies=[allowed(P.USERS_READ)])
async def list_users(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[User]:
    """The staff of the caller's institution, by id (an agent or branch manager: their branch's
    and the institution-wide roles); for the platform administrator, every admin."""
    reply = await stubs.auth.ListUsers(
        auth_pb2.ListUsersRequest(page_size=page_size, page_token=page_token)
    )
    return Page(
        items=[from_proto(User, u) for u in reply.users], next_page_token=reply.next_page_token
    )


@router.get(
    "/v1/users/{user_id}", summary="Get a staff account", dependencies=[allowed(P.USERS_READ)]
)
async def get_user(user_id: str, stubs: Stubs) -> User:
    """One staff account the caller may see (as in the list); anyone else's is 404."""
    reply = await stubs.auth.GetUser(auth_pb2.GetUserRequest(user_id=user_id))
    return from_proto(User, reply.user)


@router.post(
    "/v1/users/{user_id}/disable",
    summary="Disable a staff account",
    dependencies=[allowed(P.USERS_DISABLE)],
)
async def disable_user(user_id: str, stubs: Stubs) -> User:
    """Stop an active account: it cannot log in or refresh, and every session it has ends at
    once. Only for a user whose role the caller may create; an account already disabled is
    409."""
    reply = await stubs.auth.DisableUser(auth_pb2.DisableUserRequest(user_id=user_id))
    return from_proto(User, reply.user)


@router.post(
    "/v1/users/{user_id}/enable",
    summary="Enable a staff account",
    dependencies=[allowed(P.USERS_DISABLE)],
)
async def enable_user(user_id: str, stubs: Stubs) -> User:
    """Let a disabled account log in again (a lock after failed sign-ins is lifted too). Only
    for a user whose role the caller may create; an account already active is 409."""
    reply = await stubs.auth.EnableUser(auth_pb2.EnableUserRequest(user_id=user_id))
    return from_proto(User, reply.user)


@router.post(
    "/v1/users/{user_id}/reset-password",
    summary="Set a temporary password",
    dependencies=[allowed(P.USERS_RESET_PASSWORD)],
)
async def reset_password(user_id: str, body: ResetPasswordBody, stubs: Stubs) -> User:
    """For a user who forgot their password: set a temporary one, which they must change
    (`must_change_password`) after logging in with it. Every session of the user ends at once.
    Only for a user whose role the caller may create."""
    reply = await stubs.auth.ResetPassword(
        to_proto(auth_pb2.ResetPasswordRequest, body, user_id=user_id)
    )
    return from_proto(User, reply.user)
