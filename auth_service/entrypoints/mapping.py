"""Domain objects to proto messages."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp

from auth_service.domain.audit import AuditEntry, canonical_json
from auth_service.domain.login_history import LoginAttempt
from auth_service.domain.policy import SecurityPolicy
from auth_service.domain.sessions import Session
from auth_service.domain.users import StaffUser, UserStatus
from kopa.auth.v1 import auth_pb2
from shared.protos import timestamp as ts


def _rfc3339(value: str) -> Timestamp:
    out = Timestamp()
    out.FromJsonString(value)
    return out


def user_to_proto(user: StaffUser) -> auth_pb2.User:
    return auth_pb2.User(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role.value,
        institution_id=user.institution_id or "",
        branch_id=user.branch_id or "",
        disabled=user.status is UserStatus.DISABLED,
        mfa_enabled=user.mfa.enabled,
        must_change_password=user.must_change_password,
        create_time=ts(user.created_at),
    )


def session_to_proto(session: Session, current_session_id: str) -> auth_pb2.Session:
    return auth_pb2.Session(
        id=session.id,
        device=session.device,
        address=session.address,
        create_time=ts(session.created_at),
        last_use_time=ts(session.last_used_at),
        current=session.id == current_session_id,
    )


def attempt_to_proto(attempt: LoginAttempt) -> auth_pb2.LoginAttempt:
    """`failure_reason` is the recorded outcome (`bad_password`, `unknown_user`, `locked`,
    `throttled`, ...): more telling for an administrator than what the client was told."""
    return auth_pb2.LoginAttempt(
        email=attempt.email,
        user_id=attempt.user_id or "",
        time=ts(attempt.at),
        address=attempt.address,
        user_agent=attempt.user_agent,
        success=attempt.succeeded,
        failure_reason="" if attempt.succeeded else attempt.outcome.value,
    )


def audit_entry_to_proto(entry: AuditEntry) -> auth_pb2.AuditEntry:
    return auth_pb2.AuditEntry(
        seq=entry.seq,
        institution_id=entry.institution_id or "",
        actor_id=entry.actor.user_id,
        actor_role=entry.actor.role,
        action=entry.action,
        target_kind=entry.target.kind,
        target_id=entry.target.id,
        request_id=entry.request_id,
        time=_rfc3339(entry.at),
        summary_json=canonical_json(entry.summary).decode("utf-8"),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def policy_to_proto(policy: SecurityPolicy) -> auth_pb2.SecurityPolicy:
    return auth_pb2.SecurityPolicy(
        institution_id=policy.institution_id,
        mfa_required_roles=policy.mfa_required_roles,
        update_time=ts(policy.updated_at),
        updated_by=policy.updated_by or "",
    )


def jwks_json(jwks: dict[str, object]) -> str:
    return json.dumps(jwks)
