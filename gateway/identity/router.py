"""Sign-in and tokens, the caller's own account (password, second factor, sessions), and the
record of sign-ins."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.convert import from_proto, to_proto
from gateway.deps import CurrentPrincipal, Stubs, allowed, rate_limit_client
from gateway.identity.schemas import (
    ChangePasswordBody,
    ConfirmMfaBody,
    Jwks,
    LoginAttempt,
    LoginBody,
    Me,
    MfaEnrolment,
    RecoveryCodes,
    RefreshBody,
    Session,
    TokenPair,
)
from gateway.schema import Page, PageSize, PageToken
from kopa.auth.v1 import auth_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["identity"])


def _client(request: Request) -> dict[str, str]:
    """Where a sign-in comes from, for the session list and the login history."""
    return {
        "address": request.client.host if request.client else "",
        "user_agent": request.headers.get("user-agent", "")[:200],
    }


@router.post("/v1/auth/login", summary="Log in")
async def login(body: LoginBody, request: Request, stubs: Stubs) -> TokenPair:
    """Exchange a staff member's email and password, plus the authenticator's code once
    two-factor authentication is on, for a token pair. This starts a session (see
    `GET /v1/me/sessions`).

    Every attempt is in the login history; repeated failures lock the account for a while, and
    sign-ins from one address are rate-limited (429 with `Retry-After`). A disabled account
    cannot log in."""
    await rate_limit_client(request, request.app.state.settings.login_rate_limit_per_minute)
    reply = await stubs.auth.Login(to_proto(auth_pb2.LoginRequest, body, client=_client(request)))
    return from_proto(TokenPair, reply.tokens)


@router.post("/v1/auth/refresh", summary="Renew the tokens")
async def refresh(body: RefreshBody, request: Request, stubs: Stubs) -> TokenPair:
    """A new token pair for a refresh token, which then stops working: presenting it again
    ends the whole session (a stolen token is then useless to both). The new access token
    carries the caller's current role and the institution's current security policy.
    Rate-limited per address like the login."""
    await rate_limit_client(request, request.app.state.settings.login_rate_limit_per_minute)
    reply = await stubs.auth.Refresh(
        to_proto(auth_pb2.RefreshRequest, body, client=_client(request))
    )
    return from_proto(TokenPair, reply.tokens)


@router.post("/v1/auth/logout", summary="Log out", status_code=204, response_class=Response)
async def logout(_: CurrentPrincipal, stubs: Stubs) -> Response:
    """End the caller's session: its access and refresh tokens stop working at once."""
    await stubs.auth.Logout(auth_pb2.LogoutRequest())
    return Response(status_code=204)


@router.get("/v1/auth/jwks", summary="Token verification keys")
@router.get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(stubs: Stubs) -> Jwks:
    """The public keys that verify access tokens, for anyone (no token needed): a token's
    `kid` header names its key. Keys rotate; a key stays listed as long as tokens it signed
    can be valid."""
    reply = await stubs.auth.GetJwks(auth_pb2.GetJwksRequest())
    return Jwks.model_validate_json(reply.jwks_json)


@router.get("/v1/me", summary="Your account")
async def me(principal: CurrentPrincipal, stubs: Stubs) -> Me:
    """The caller's own account: role, institution and branch (which decide what they see),
    and whether a second factor is on."""
    reply = await stubs.auth.GetMe(auth_pb2.GetMeRequest())
    return from_proto(Me, reply.user, permissions=sorted(principal.permissions))


@router.post(
    "/v1/me/password", summary="Change your password", status_code=204, response_class=Response
)
async def change_password(body: ChangePasswordBody, _: CurrentPrincipal, stubs: Stubs) -> Response:
    """Replace the caller's password, given the current one (422 naming `current_password`
    when it is wrong); the new one must meet the password policy and differ from the old (422
    naming `new_password`). This is how a temporary password set by an administrator is
    replaced. The caller's session stays; every other session of the account ends at once."""
    await stubs.auth.ChangePassword(to_proto(auth_pb2.ChangePasswordRequest, body))
    return Response(status_code=204)


@router.post("/v1/me/mfa/enroll", summary="Start two-factor enrolment")
async def enroll_mfa(_: CurrentPrincipal, stubs: Stubs) -> MfaEnrolment:
    """A new authenticator (TOTP) secret for the caller. Two-factor authentication is not on
    yet: confirm a code the app shows with `POST /v1/me/mfa/confirm`. Enrolling again before
    confirming replaces the secret; once it is on, enrolling is 409. Allowed to a caller
    whose token says `mfa_enrolment_required`."""
    reply = await stubs.auth.EnrollMfa(auth_pb2.EnrollMfaRequest())
    return from_proto(MfaEnrolment, reply)


@router.post("/v1/me/mfa/confirm", summary="Turn two-factor authentication on")
async def confirm_mfa(body: ConfirmMfaBody, _: CurrentPrincipal, stubs: Stubs) -> RecoveryCodes:
    """Confirm the enrolment with a code of the authenticator app (422 naming `code` when it
    is wrong): from now on the login needs an `otp`. Answers recovery codes, shown only once.
    The caller's other sessions end (they were opened with the password alone); a caller who
    had to enrol refreshes their tokens to get their permissions."""
    reply = await stubs.auth.ConfirmMfa(to_proto(auth_pb2.ConfirmMfaRequest, body))
    return from_proto(RecoveryCodes, reply)


@router.get("/v1/me/sessions", summary="Your sessions")
async def list_sessions(_: CurrentPrincipal, stubs: Stubs) -> Page[Session]:
    """The caller's open sessions, one per device logged in, all on one page (the current
    one marked `current`)."""
    reply = await stubs.auth.ListSessions(auth_pb2.ListSessionsRequest())
    return Page(items=[from_proto(Session, s) for s in reply.sessions], next_page_token="")


@router.delete(
    "/v1/me/sessions/{session_id}",
    summary="End one of your sessions",
    status_code=204,
    response_class=Response,
)
async def revoke_session(session_id: str, _: CurrentPrincipal, stubs: Stubs) -> Response:
    """Log one of the caller's devices out (a lost phone): its tokens stop working at once.
    An administrator may also end a session of a user they manage; any other session is
    404."""
    await stubs.auth.RevokeSession(auth_pb2.RevokeSessionRequest(session_id=session_id))
    return Response(status_code=204)


@router.get(
    "/v1/login-history", summary="Sign-in attempts", dependencies=[allowed(P.LOGIN_HISTORY_READ)]
)
async def login_history(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[LoginAttempt]:
    """Every sign-in attempt to an account of the caller's institution, newest first,
    failures with what went wrong: for spotting password guessing and locked-out staff."""
    reply = await stubs.auth.ListLoginHistory(
        auth_pb2.ListLoginHistoryRequest(page_size=page_size, page_token=page_token)
    )
    return Page(
        items=[from_proto(LoginAttempt, a) for a in reply.attempts],
        next_page_token=reply.next_page_token,
    )
