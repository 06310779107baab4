"""The AuthService servicer: maps proto requests to use cases and results back."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from auth_service.domain.errors import ValidationError
from auth_service.entrypoints import mapping as m
from auth_service.service_layer.audit import AuditHandlers, AuditRecord, Authenticate
from auth_service.service_layer.identity import ClientInfo, IdentityHandlers, Tokens
from auth_service.service_layer.policies import PolicyHandlers
from auth_service.service_layer.service_tokens import ServiceTokenHandlers
from auth_service.service_layer.staff import StaffHandlers
from auth_service.service_layer.unit import AuthUnit
from kopa.auth.v1 import auth_pb2, auth_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def _pair(tokens: Tokens) -> auth_pb2.TokenPair:
    return auth_pb2.TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type=tokens.token_type,
        expires_in=tokens.expires_in,
        must_change_password=tokens.must_change_password,
        mfa_enrolment_required=tokens.mfa_enrolment_required,
    )


def _client(info: auth_pb2.ClientInfo, context: Ctx) -> ClientInfo:
    return ClientInfo.resolve(info.address, info.user_agent, context.peer() or "")


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self,
        unit: AuthUnit,
        *,
        service_secret: str | None = None,
        authenticate: Authenticate | None = None,
    ) -> None:
        """`authenticate`: the verifier of the server's interceptor, for the access tokens
        that name the actors of audit entries."""
        self.unit = unit
        self.identity = IdentityHandlers(unit)
        self.staff = StaffHandlers(unit)
        self.audit = AuditHandlers(unit, authenticate)
        self.policies = PolicyHandlers(unit)
        self.service_tokens = ServiceTokenHandlers(unit, service_secret)

    # tokens --------------------------------------------------------------------------

    async def Login(self, request: auth_pb2.LoginRequest, context: Ctx) -> auth_pb2.LoginResponse:
        tokens = await self.identity.login(
            request.email, request.password, request.otp, _client(request.client, context)
        )
        return auth_pb2.LoginResponse(tokens=_pair(tokens))

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: Ctx
    ) -> auth_pb2.RefreshResponse:
        tokens = await self.identity.refresh(
            request.refresh_token, _client(request.client, context)
        )
        return auth_pb2.RefreshResponse(tokens=_pair(tokens))

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: Ctx
    ) -> auth_pb2.LogoutResponse:
        await self.identity.logout()
        return auth_pb2.LogoutResponse()

    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: Ctx
    ) -> auth_pb2.GetJwksResponse:
        return auth_pb2.GetJwksResponse(jwks_json=m.jwks_json(self.unit.keys.jwks()))

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: Ctx
    ) -> auth_pb2.IssueServiceTokenResponse:
        issued = await self.service_tokens.issue(
            request.service, request.institution_id, request.credential
        )
        return auth_pb2.IssueServiceTokenResponse(
            access_token=issued.token, expires_in=issued.expires_in
        )

    # the caller's account ------------------------------------------------------------

    async def GetMe(self, request: auth_pb2.GetMeRequest, context: Ctx) -> auth_pb2.GetMeResponse:
        return auth_pb2.GetMeResponse(user=m.user_to_proto(await self.staff.get_me()))

    async def ChangePassword(
        self, request: auth_pb2.ChangePasswordRequest, context: Ctx
    ) -> auth_pb2.ChangePasswordResponse:
        await self.staff.change_password(request.current_password, request.new_password)
        return auth_pb2.ChangePasswordResponse()

    async def EnrollMfa(
        self, request: auth_pb2.EnrollMfaRequest, context: Ctx
    ) -> auth_pb2.EnrollMfaResponse:
        secret, uri = await self.staff.enroll_mfa()
        return auth_pb2.EnrollMfaResponse(otpauth_uri=uri, secret=secret)

    async def ConfirmMfa(
        self, request: auth_pb2.ConfirmMfaRequest, context: Ctx
    ) -> auth_pb2.ConfirmMfaResponse:
        codes = await self.staff.confirm_mfa(request.code)
        return auth_pb2.ConfirmMfaResponse(recovery_codes=codes)

    async def ListSessions(
        self, request: auth_pb2.ListSessionsRequest, context: Ctx
    ) -> auth_pb2.ListSessionsResponse:
        sessions, current = await self.identity.list_sessions()
        return auth_pb2.ListSessionsResponse(
            sessions=[m.session_to_proto(s, current) for s in sessions]
        )

    async def RevokeSession(
        self, request: auth_pb2.RevokeSessionRequest, context: Ctx
    ) -> auth_pb2.RevokeSessionResponse:
        await self.identity.revoke_session(request.session_id)
        return auth_pb2.RevokeSessionResponse()

    # administration ------------------------------------------------------------------

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: Ctx
    ) -> auth_pb2.CreateUserResponse:
        user = await self.staff.create_user(
            email=request.email,
            full_name=request.full_name,
            role=request.role,
            password=request.password,
            branch_id=request.branch_id,
            institution_id=request.institution_id,
            request_id=request.request_id,
        )
        return auth_pb2.CreateUserResponse(user=m.user_to_proto(user))

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: Ctx
    ) -> auth_pb2.GetUserResponse:
        return auth_pb2.GetUserResponse(
            user=m.user_to_proto(await self.staff.get_user(request.user_id))
        )

    async def ListUsers(
        self, request: auth_pb2.ListUsersRequest, context: Ctx
    ) -> auth_pb2.ListUsersResponse:
        users, token = await self.staff.list_users(request.page_size, request.page_token)
        return auth_pb2.ListUsersResponse(
            users=[m.user_to_proto(u) for u in users], next_page_token=token
        )

    async def DisableUser(
        self, request: auth_pb2.DisableUserRequest, context: Ctx
    ) -> auth_pb2.DisableUserResponse:
        return auth_pb2.DisableUserResponse(
            user=m.user_to_proto(await self.staff.disable_user(request.user_id))
        )

    async def EnableUser(
        self, request: auth_pb2.EnableUserRequest, context: Ctx
    ) -> auth_pb2.EnableUserResponse:
        return auth_pb2.EnableUserResponse(
            user=m.user_to_proto(await self.staff.enable_user(request.user_id))
        )

    async def ResetPassword(
        self, request: auth_pb2.ResetPasswordRequest, context: Ctx
    ) -> auth_pb2.ResetPasswordResponse:
        user = await self.staff.reset_password(request.user_id, request.temporary_password)
        return auth_pb2.ResetPasswordResponse(user=m.user_to_proto(user))

    async def ListLoginHistory(
        self, request: auth_pb2.ListLoginHistoryRequest, context: Ctx
    ) -> auth_pb2.ListLoginHistoryResponse:
        attempts, token = await self.identity.login_history(request.page_size, request.page_token)
        return auth_pb2.ListLoginHistoryResponse(
            attempts=[m.attempt_to_proto(a) for a in attempts], next_page_token=token
        )

    async def GetSecurityPolicy(
        self, request: auth_pb2.GetSecurityPolicyRequest, context: Ctx
    ) -> auth_pb2.GetSecurityPolicyResponse:
        policy = await self.policies.get(request.institution_id)
        return auth_pb2.GetSecurityPolicyResponse(policy=m.policy_to_proto(policy))

    async def UpdateSecurityPolicy(
        self, request: auth_pb2.UpdateSecurityPolicyRequest, context: Ctx
    ) -> auth_pb2.UpdateSecurityPolicyResponse:
        policy = await self.policies.replace(
            request.policy.institution_id, list(request.policy.mfa_required_roles)
        )
        return auth_pb2.UpdateSecurityPolicyResponse(policy=m.policy_to_proto(policy))

    # audit ---------------------------------------------------------------------------

    async def AppendAuditEntry(
        self, request: auth_pb2.AppendAuditEntryRequest, context: Ctx
    ) -> auth_pb2.AppendAuditEntryResponse:
        if not request.entries:
            entries = [
                await self.audit.append(
                    action=request.action,
                    target_kind=request.target_kind,
                    target_id=request.target_id,
                    request_id=request.request_id,
                    summary_json=request.summary_json,
                    institution_id=request.institution_id,
                )
            ]
        else:
            single = (
                request.action,
                request.target_kind,
                request.target_id,
                request.request_id,
                request.summary_json,
                request.institution_id,
            )
            if any(single):
                raise ValidationError.of("entries", "cannot be combined with a single entry")
            entries = await self.audit.append_many(
                [
                    AuditRecord(
                        action=e.action,
                        target_kind=e.target_kind,
                        target_id=e.target_id,
                        request_id=e.request_id,
                        summary_json=e.summary_json,
                        institution_id=e.institution_id,
                        access_token=e.access_token,
                    )
                    for e in request.entries
                ]
            )
        appended = [m.audit_entry_to_proto(e) for e in entries]
        return auth_pb2.AppendAuditEntryResponse(entry=appended[-1], entries=appended)

    async def ListAuditEntries(
        self, request: auth_pb2.ListAuditEntriesRequest, context: Ctx
    ) -> auth_pb2.ListAuditEntriesResponse:
        entries, token = await self.audit.list(
            request.page_size,
            request.page_token,
            target_kind=request.target_kind,
            target_id=request.target_id,
            actor_id=request.actor_id,
        )
        return auth_pb2.ListAuditEntriesResponse(
            entries=[m.audit_entry_to_proto(e) for e in entries], next_page_token=token
        )

    async def VerifyAuditChain(
        self, request: auth_pb2.VerifyAuditChainRequest, context: Ctx
    ) -> auth_pb2.VerifyAuditChainResponse:
        report = await self.audit.verify()
        return auth_pb2.VerifyAuditChainResponse(
            ok=report.ok,
            checked=report.checked,
            first_bad_seq=report.first_bad_seq or 0,
            reason=report.reason or "",
        )
