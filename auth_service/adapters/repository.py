"""MongoDB persistence for staff users, sessions, login attempts and per-institution
policies (auth_service owns these collections; no other service reads them).

Every aggregate write is one document write with compare-and-set on `version`:
`update_one({_id, version: v}, {$set: {..., version: v + 1}})`, whose matched count says who
won (`save` returns False when someone else changed the document first). This relies on
single-document updates being atomic, as on MongoDB; the local FerretDB gets that from the
launcher's patch 0004 (see `loan_service/adapters/repository.py`). No multi-document
transactions.

A user's outgoing events travel in the same write, in the user document's
`pending_events`. They are then forwarded, idempotently (the event id is the `_id`), to
`user_events`, one small document per event carrying the outbox that `OutboxRelay`
publishes, and cleared from the user with a compare-and-set write. The relay so never
writes to a user document (it was introduced when FerretDB's updates were not atomic and a
relay's write could undo a concurrent change of the user; it stays, harmless). A sweep
forwards what a crash left pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from google.protobuf.message import Message
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from auth_service.adapters.secrets import SecretBox
from auth_service.domain.errors import AlreadyExists, Reason
from auth_service.domain.login_history import LoginAttempt, LoginOutcome
from auth_service.domain.mfa import MfaPolicy, MfaState
from auth_service.domain.policy import POLICY_ROLES, SecurityPolicy
from auth_service.domain.sessions import Session
from auth_service.domain.users import StaffUser, UserStatus
from shared.events import outbox_entry
from shared.mongo import decode_page_token, encode_page_token, list_page, page_size
from shared.permissions import Role

USERS = "users"
USER_EVENTS = "user_events"
SESSIONS = "sessions"
LOGIN_ATTEMPTS = "login_attempts"
SETTINGS = "settings"

_NO_OUTBOX = {"outbox": 0, "pending_events": 0}


# --- documents ----------------------------------------------------------------------------


def _mfa_to_doc(mfa: MfaState, box: SecretBox) -> dict[str, Any]:
    return {
        "secret": box.seal(mfa.secret),
        "enabled": mfa.enabled,
        "pending_secret": box.seal(mfa.pending_secret),
        "last_used_step": mfa.last_used_step,
        "recovery_code_hashes": list(mfa.recovery_code_hashes),
        "enabled_at": mfa.enabled_at,
    }


def _mfa_from_doc(doc: dict[str, Any] | None, box: SecretBox) -> MfaState:
    doc = doc or {}
    return MfaState(
        secret=box.open(doc.get("secret")),
        enabled=bool(doc.get("enabled", False)),
        pending_secret=box.open(doc.get("pending_secret")),
        last_used_step=doc.get("last_used_step"),
        recovery_code_hashes=list(doc.get("recovery_code_hashes") or []),
        enabled_at=doc.get("enabled_at"),
    )


def user_to_doc(user: StaffUser, box: SecretBox) -> dict[str, Any]:
    return {
        "_id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role.value,
        "institution_id": user.institution_id,
        "branch_id": user.branch_id,
        "password_hash": user.password_hash,
        "status": user.status.value,
        "must_change_password": user.must_change_password,
        "mfa": _mfa_to_doc(user.mfa, box),
        "failed_login_count": user.failed_login_count,
        "last_failed_login_at": user.last_failed_login_at,
        "locked_until": user.locked_until,
        "password_changed_at": user.password_changed_at,
        "token_version": user.token_version,
        "created_at": user.created_at,
        "created_by": user.created_by,
        "last_login_at": user.last_login_at,
        "version": user.version,
    }


def user_from_doc(doc: dict[str, Any], box: SecretBox) -> StaffUser:
    return StaffUser(
        id=doc["_id"],
        email=doc["email"],
        full_name=doc["full_name"],
        role=Role(doc["role"]),
        institution_id=doc.get("institution_id"),
        branch_id=doc.get("branch_id"),
        password_hash=doc["password_hash"],
        status=UserStatus(doc.get("status", UserStatus.ACTIVE.value)),
        must_change_password=bool(doc.get("must_change_password", False)),
        mfa=_mfa_from_doc(doc.get("mfa"), box),
        failed_login_count=int(doc.get("failed_login_count", 0)),
        last_failed_login_at=doc.get("last_failed_login_at"),
        locked_until=doc.get("locked_until"),
        password_changed_at=doc.get("password_changed_at"),
        token_version=int(doc.get("token_version", 0)),
        created_at=doc.get("created_at"),
        created_by=doc.get("created_by"),
        last_login_at=doc.get("last_login_at"),
        version=int(doc.get("version", 0)),
    )


def session_to_doc(session: Session) -> dict[str, Any]:
    return {
        "_id": session.id,
        "user_id": session.user_id,
        "institution_id": session.institution_id,
        "device": session.device,
        "address": session.address,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "expires_at": session.expires_at,
        "refresh_token_hash": session.refresh_token_hash,
        "used_refresh_token_hashes": list(session.used_refresh_token_hashes),
        # Every hash of the family, current and spent: one multikey index finds the session
        # for any presented token (spent ones included, for reuse detection).
        "token_hashes": session.all_refresh_token_hashes,
        "user_token_version": session.user_token_version,
        "revoked_at": session.revoked_at,
        "revoked_reason": session.revoked_reason,
        "version": session.version,
    }


def session_from_doc(doc: dict[str, Any]) -> Session:
    return Session(
        id=doc["_id"],
        user_id=doc["user_id"],
        institution_id=doc.get("institution_id"),
        device=doc.get("device", ""),
        address=doc.get("address", ""),
        created_at=doc["created_at"],
        last_used_at=doc["last_used_at"],
        expires_at=doc["expires_at"],
        refresh_token_hash=doc["refresh_token_hash"],
        user_token_version=int(doc.get("user_token_version", 0)),
        used_refresh_token_hashes=list(doc.get("used_refresh_token_hashes") or []),
        revoked_at=doc.get("revoked_at"),
        revoked_reason=doc.get("revoked_reason"),
        version=int(doc.get("version", 0)),
    )


def attempt_to_doc(attempt: LoginAttempt) -> dict[str, Any]:
    doc = asdict(attempt)
    doc["_id"] = doc.pop("id")
    doc["outcome"] = attempt.outcome.value
    return doc


def attempt_from_doc(doc: dict[str, Any]) -> LoginAttempt:
    return LoginAttempt(
        id=doc["_id"],
        email=doc["email"],
        user_id=doc.get("user_id"),
        institution_id=doc.get("institution_id"),
        at=doc["at"],
        address=doc.get("address", ""),
        user_agent=doc.get("user_agent", ""),
        outcome=LoginOutcome(doc["outcome"]),
        session_id=doc.get("session_id"),
    )


# --- pagination, newest first ---------------------------------------------------------------


async def newest_first_page(
    collection: AsyncCollection[Any],
    query: dict[str, Any],
    *,
    requested_size: int,
    page_token: str,
) -> tuple[list[dict[str, Any]], str]:
    """Keyset pagination on `_id` (time-ordered ids), newest first."""
    size = page_size(requested_size)
    if page_token:
        query = {**query, "_id": {"$lt": decode_page_token(page_token)}}
    docs = await collection.find(query, _NO_OUTBOX).sort("_id", DESCENDING).to_list(size + 1)
    next_token = encode_page_token(docs[size - 1]["_id"]) if len(docs) > size else ""
    return docs[:size], next_token


# --- repositories ---------------------------------------------------------------------------


class UserRepository:
    """Staff users, one document each, unique by e-mail.

    `create_key` makes CreateUser idempotent: `<creator id>:<request id>` when the request
    carried one, else the user's own id; it is unique, so a retried request cannot create a
    second user even when both copies run at once.
    """

    def __init__(self, db: AsyncDatabase[Any], box: SecretBox) -> None:
        self.collection = db[USERS]
        self.events = db[USER_EVENTS]
        self.box = box

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("email", unique=True, name="uniq_email")
        await self.collection.create_index("create_key", unique=True, name="uniq_create_key")
        await self.collection.create_index(
            [("institution_id", ASCENDING), ("branch_id", ASCENDING)], name="by_institution"
        )
        await self.collection.create_index("role", name="by_role")
        await self.collection.create_index("pending_count", name="by_pending_events")

    def _user(self, doc: dict[str, Any] | None) -> StaffUser | None:
        return user_from_doc(doc, self.box) if doc is not None else None

    async def get(self, user_id: str) -> StaffUser | None:
        return self._user(await self.collection.find_one({"_id": user_id}, _NO_OUTBOX))

    async def by_email(self, email: str) -> StaffUser | None:
        return self._user(await self.collection.find_one({"email": email}, _NO_OUTBOX))

    async def by_create_key(self, create_key: str) -> StaffUser | None:
        return self._user(await self.collection.find_one({"create_key": create_key}, _NO_OUTBOX))

    async def insert(
        self, user: StaffUser, events: Iterable[Message], *, create_key: str | None = None
    ) -> None:
        """Raises `AlreadyExists` with reason `EMAIL_TAKEN` or `REQUEST_ID_REUSED`."""
        doc = user_to_doc(user, self.box)
        doc["create_key"] = create_key or user.id
        entries = [outbox_entry(e) for e in events]
        doc.update({"pending_events": entries, "pending_count": len(entries)})
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            if create_key and await self.collection.find_one({"create_key": create_key}):
                raise AlreadyExists(
                    "This request id was already used to create a user.",
                    reason=Reason.REQUEST_ID_REUSED,
                    field_errors=[("request_id", "was already used")],
                ) from None
            raise AlreadyExists(
                "A user with this e-mail address already exists.",
                reason=Reason.EMAIL_TAKEN,
                field_errors=[("email", "is already taken")],
            ) from None

    async def save(self, user: StaffUser, expected_version: int, events: list[Message]) -> bool:
        """Write the user if it is still at `expected_version` (with its events)."""
        fields = user_to_doc(user, self.box)
        del fields["_id"]
        update: dict[str, Any] = {"$set": fields}
        entries = [outbox_entry(e) for e in events]
        if entries:
            update["$push"] = {"pending_events": {"$each": entries}}
            update["$inc"] = {"pending_count": len(entries)}
        result = await self.collection.update_one(
            {"_id": user.id, "version": expected_version}, update
        )
        return result.matched_count == 1

    async def forward_events(self, user_id: str) -> list[str]:
        """Move the user's pending events to `user_events` (where the relay publishes
        them); returns the ids of the events now there. Idempotent."""
        for _ in range(3):
            doc = await self.collection.find_one(
                {"_id": user_id}, {"pending_events": 1, "version": 1}
            )
            entries = (doc or {}).get("pending_events") or []
            if doc is None or not entries:
                return []
            carriers = [
                {"_id": e["id"], "user_id": user_id, "outbox": [e], "outbox_count": 1}
                for e in entries
            ]
            try:
                await self.events.insert_many(carriers, ordered=False)
            except BulkWriteError as exc:  # already forwarded: fine
                if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                    raise
            ids = [e["id"] for e in entries]
            # Cleared only if the user is still at the version read: a change written
            # meanwhile may have pushed further events, which must stay pending.
            cleared = await self.collection.update_one(
                {"_id": user_id, "version": doc["version"]},
                {"$set": {"pending_events": [], "pending_count": 0}},
            )
            if cleared.matched_count == 1:
                return ids
        return []

    async def with_pending_events(self, limit: int = 100) -> list[str]:
        docs = await self.collection.find({"pending_count": {"$gt": 0}}, {"_id": 1}).to_list(limit)
        return [d["_id"] for d in docs]

    async def page(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[StaffUser], str]:
        docs, next_token = await list_page(
            self.collection, query, requested_size=size, page_token=token
        )
        return [user_from_doc(d, self.box) for d in docs], next_token


class SessionRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[SESSIONS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("token_hashes", name="by_token_hash")
        await self.collection.create_index(
            [("user_id", ASCENDING), ("revoked_at", ASCENDING)], name="by_user"
        )

    async def insert(self, session: Session) -> None:
        await self.collection.insert_one(session_to_doc(session))

    async def get(self, session_id: str) -> Session | None:
        doc = await self.collection.find_one({"_id": session_id})
        return session_from_doc(doc) if doc else None

    async def by_token_hash(self, token_hash: str) -> Session | None:
        doc = await self.collection.find_one({"token_hashes": token_hash})
        return session_from_doc(doc) if doc else None

    async def save(self, session: Session, expected_version: int) -> bool:
        fields = session_to_doc(session)
        del fields["_id"]
        result = await self.collection.update_one(
            {"_id": session.id, "version": expected_version}, {"$set": fields}
        )
        return result.matched_count == 1

    async def open_sessions(self, user_id: str) -> list[Session]:
        """The user's sessions not yet revoked (some may have expired), newest first."""
        docs = (
            await self.collection.find({"user_id": user_id, "revoked_at": None})
            .sort("_id", DESCENDING)
            .to_list(None)
        )
        return [session_from_doc(d) for d in docs]


class LoginAttemptRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[LOGIN_ATTEMPTS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("institution_id", name="by_institution")
        await self.collection.create_index("user_id", name="by_user")

    async def add(self, attempt: LoginAttempt, *, reason: str | None = None) -> None:
        doc = attempt_to_doc(attempt)
        doc["reason"] = reason
        await self.collection.insert_one(doc)

    async def page(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[LoginAttempt], str]:
        docs, next_token = await newest_first_page(
            self.collection, query, requested_size=size, page_token=token
        )
        return [attempt_from_doc(d) for d in docs], next_token


class PolicyRepository:
    """Per-institution security policies, one document each in `settings`:
    `{_id: <institution id>, mfa_required_roles: [...], updated_at, updated_by}`. An
    update replaces the policy in one write (the last one wins)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[SETTINGS]

    async def get(self, institution_id: str) -> SecurityPolicy:
        """The institution's policy; an empty one (nothing required) if none was set."""
        doc = await self.collection.find_one({"_id": institution_id}) or {}
        # A role the platform no longer has is ignored rather than breaking every login.
        roles = [r for r in doc.get("mfa_required_roles") or [] if r in POLICY_ROLES]
        return SecurityPolicy(
            institution_id, MfaPolicy.of(roles), doc.get("updated_at"), doc.get("updated_by")
        )

    async def mfa_policy(self, institution_id: str | None) -> MfaPolicy | None:
        if institution_id is None:
            return None
        return (await self.get(institution_id)).mfa

    async def save(self, policy: SecurityPolicy) -> None:
        await self.collection.update_one(
            {"_id": policy.institution_id},
            {
                "$set": {
                    "mfa_required_roles": policy.mfa_required_roles,
                    "updated_at": policy.updated_at,
                    "updated_by": policy.updated_by,
                }
            },
            upsert=True,
        )
