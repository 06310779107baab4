"""Login, tokens, the caller's account, staff accounts, sessions, MFA, login history, audit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.convert import page, to_json
from gateway.deps import CurrentPrincipal, Stubs, allowed, rate_limit_client
from gateway.identity.schemas import (
    ChangePasswordBody,
    ConfirmMfaBody,
    CreateUserBody,
    LoginBody,
    RefreshBody,
    ResetPasswordBody,
    TokenResponse,
)
from kopa.auth.v1 import auth_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["identity"])


def _client(request: Request) -> auth_pb2.ClientInfo:
    return auth_pb2.ClientInfo(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:200],
    )


def _tokens(pair: auth_pb2.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type or "Bearer",
        expires_in=pair.expires_in,
        must_change_password=pair.must_change_password,
        mfa_enrolment_required=pair.mfa_enrolment_required,
    )


def user_json(user: auth_pb2.User) -> dict[str, Any]:
    data = to_json(user)
    data["institution_id"] = user.institution_id or None
    data["branch_id"] = user.branch_id or None
    return data


@router.post("/v1/auth/login", response_model=TokenResponse)
async def login(body: LoginBody, request: Request, stubs: Stubs) -> TokenResponse:
    await rate_limit_client(request, request.app.state.settings.login_rate_limit_per_minute)
    reply = await stubs.auth.Login(
        auth_pb2.LoginRequest(
            email=body.email, password=body.password, otp=body.otp or "", client=_client(request)
        )
    )
    return _tokens(reply.tokens)


@router.post("/v1/auth/refresh", response_model=TokenResponse)
async def refresh(body: RefreshBody, request: Request, stubs: Stubs) -> TokenResponse:
    await rate_limit_client(request, request.app.state.settings.login_rate_limit_per_minute)
    reply = await stubs.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=body.refresh_token, client=_client(request))
    )
    return _tokens(reply.tokens)


@router.post("/v1/auth/logout", status_code=204)
async def logout(_: CurrentPrincipal, stubs: Stubs) -> Response:
    await stubs.auth.Logout(auth_pb2.LogoutRequest())
    return Response(status_code=204)


@router.get("/v1/auth/jwks", tags=["identity"])
@router.get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.GetJwks(auth_pb2.GetJwksRequest())
    return dict(json.loads(reply.jwks_json))


@router.get("/v1/me")
async def me(_: CurrentPrincipal, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.GetMe(auth_pb2.GetMeRequest())
    u = reply.user
    return {
        "id": u.id,
        "email": u.email,
        "full_name": u.full_name,
        "role": u.role,
        "institution_id": u.institution_id or None,
        "branch_id": u.branch_id or None,
        "mfa_enabled": u.mfa_enabled,
        "must_change_password": u.must_change_password,
    }


@router.post("/v1/me/password", status_code=204)
async def change_password(body: ChangePasswordBody, _: CurrentPrincipal, stubs: Stubs) -> Response:
    await stubs.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(
            current_password=body.current_password, new_password=body.new_password
        )
    )
    return Response(status_code=204)


@router.post("/v1/me/mfa/enroll")
async def enroll_mfa(_: CurrentPrincipal, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.EnrollMfa(auth_pb2.EnrollMfaRequest())
    return {"otpauth_uri": reply.otpauth_uri, "secret": reply.secret}


@router.post("/v1/me/mfa/confirm")
async def confirm_mfa(body: ConfirmMfaBody, _: CurrentPrincipal, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.ConfirmMfa(auth_pb2.ConfirmMfaRequest(code=body.code))
    return {"recovery_codes": list(reply.recovery_codes)}


@router.get("/v1/me/sessions")
async def list_sessions(_: CurrentPrincipal, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.ListSessions(auth_pb2.ListSessionsRequest())
    return page([to_json(s) for s in reply.sessions], "")


@router.delete("/v1/me/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: str, _: CurrentPrincipal, stubs: Stubs) -> Response:
    await stubs.auth.RevokeSession(auth_pb2.RevokeSessionRequest(session_id=session_id))
    return Response(status_code=204)


@router.post("/v1/users", status_code=201, dependencies=[allowed(P.USERS_CREATE)])
async def create_user(body: CreateUserBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.CreateUser(
        auth_pb2.CreateUserRequest(
            email=body.email,
            full_name=body.full_name,
            role=body.role,
            password=body.password,
            branch_id=body.branch_id or "",
            institution_id=body.institution_id or "",
        )
    )
    return user_json(reply.user)


@router.get("/v1/users", dependencies=[allowed(P.USERS_READ)])
async def list_users(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.auth.ListUsers(
        auth_pb2.ListUsersRequest(page_size=page_size, page_token=page_token)
    )
    return page([user_json(u) for u in reply.users], reply.next_page_token)


@router.get("/v1/users/{user_id}", dependencies=[allowed(P.USERS_READ)])
async def get_user(user_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.GetUser(auth_pb2.GetUserRequest(user_id=user_id))
    return user_json(reply.user)


@router.post("/v1/users/{user_id}/disable", dependencies=[allowed(P.USERS_DISABLE)])
async def disable_user(user_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.DisableUser(auth_pb2.DisableUserRequest(user_id=user_id))
    return user_json(reply.user)


@router.post("/v1/users/{user_id}/enable", dependencies=[allowed(P.USERS_DISABLE)])
async def enable_user(user_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.EnableUser(auth_pb2.EnableUserRequest(user_id=user_id))
    return user_json(reply.user)


@router.post("/v1/users/{user_id}/reset-password", dependencies=[allowed(P.USERS_RESET_PASSWORD)])
async def reset_password(user_id: str, body: ResetPasswordBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.ResetPassword(
        auth_pb2.ResetPasswordRequest(user_id=user_id, temporary_password=body.temporary_password)
    )
    return user_json(reply.user)


@router.get("/v1/login-history", dependencies=[allowed(P.LOGIN_HISTORY_READ)])
async def login_history(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.auth.ListLoginHistory(
        auth_pb2.ListLoginHistoryRequest(page_size=page_size, page_token=page_token)
    )
    return page([to_json(a) for a in reply.attempts], reply.next_page_token)


@router.get("/v1/audit-log", dependencies=[allowed(P.AUDIT_READ)])
async def audit_log(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(page_size=page_size, page_token=page_token)
    )
    return page([to_json(e) for e in reply.entries], reply.next_page_token)


@router.get("/v1/audit-log/verify", dependencies=[allowed(P.AUDIT_READ)])
async def verify_audit(stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.auth.VerifyAuditChain(auth_pb2.VerifyAuditChainRequest())
    return to_json(reply)
