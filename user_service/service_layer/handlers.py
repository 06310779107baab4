"""user_service use cases: each checks the caller's permission and scope, then makes one
atomic document write that carries its outgoing events (``institution.created`` in the new
institution's outbox, ``borrower.*`` in the borrower's)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from kopa.user.v1 import events_pb2
from shared import context
from shared.errors import NotFound, PermissionDenied, ValidationError
from shared.events import event_meta, outbox_fields, outbox_update
from shared.ids import new_id
from shared.money import validate_currency
from shared.permissions import Permission, Principal, require
from user_service.adapters.repository import (
    BORROWERS,
    BRANCHES,
    GROUPS,
    INSTITUTIONS,
    Repository,
)
from user_service.domain import borrowers as kyc
from user_service.domain import documents
from user_service.entrypoints.mapping import borrower_to_proto, institution_to_proto

#: The most borrowers one BatchGetBorrowers reads.
MAX_BATCH = 1000


def _now() -> datetime:
    return datetime.now(UTC)


class UserHandlers:
    def __init__(self, repo: Repository, notify: Any) -> None:
        self.repo = repo
        self._notify = notify  # OutboxRelay.notify
        # institution id -> its currency, which never changes once the institution exists.
        self._currencies: dict[str, str] = {}

    # --- institutions and branches ------------------------------------------------------

    async def create_institution(self, name: str, currency: str) -> dict[str, Any]:
        require(context.principal(), Permission.INSTITUTIONS_CREATE)
        errors = []
        if not name.strip() or len(name) > 120:
            errors.append(("name", "is required (at most 120 characters)"))
        try:
            currency = validate_currency(currency)
        except ValidationError as exc:
            errors.extend(exc.field_errors)
        if errors:
            raise ValidationError("the institution is invalid", field_errors=errors)
        institution_id = new_id("inst")
        doc: dict[str, Any] = {
            "_id": institution_id,
            "name": name.strip(),
            "currency": currency,
            "create_time": _now(),
        }
        created = events_pb2.InstitutionEvent(
            meta=event_meta(
                "institution.created",
                institution_id=institution_id,
                aggregate_id=institution_id,
                aggregate_version=1,
            ),
            institution=institution_to_proto(doc),
        )
        await self.repo.insert(INSTITUTIONS, {**doc, **outbox_fields([created])})
        self._notify(INSTITUTIONS, institution_id)
        return doc

    async def get_institution(self, institution_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.INSTITUTIONS_READ)
        doc = await self.repo.get(INSTITUTIONS, institution_id)
        if doc is None or not (p.is_platform_admin or p.institution_id == institution_id):
            raise NotFound(f"institution {institution_id} not found")
        return doc

    async def list_institutions(self, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        p = context.principal()
        require(p, Permission.INSTITUTIONS_READ)
        query = {} if p.is_platform_admin else {"_id": p.institution_id}
        return await self.repo.page(INSTITUTIONS, query, size, token)

    async def institution_currency(self, institution_id: str) -> str:
        """The currency of the institution (its borrowers' incomes are amounts of it)."""
        currency = self._currencies.get(institution_id)
        if currency is None:
            doc = await self.repo.get(INSTITUTIONS, institution_id)
            if doc is None:
                raise NotFound(f"institution {institution_id} not found")
            currency = self._currencies[institution_id] = doc["currency"]
        return currency

    async def _income_currency(
        self, institution_id: str, data: dict[str, Any], currencies: Sequence[tuple[str, str]]
    ) -> str:
        """The institution's currency when the request gives an income (every currency it
        named must be that one); "" when it gives none."""
        if data.get("monthly_income") in (None, "") and not currencies:
            return ""
        currency = await self.institution_currency(institution_id)
        wrong = [(f, f"must be in {currency}, not {c}") for f, c in currencies if c != currency]
        if wrong:
            raise ValidationError(
                "the amounts are not in the institution's currency", field_errors=wrong
            )
        return currency

    async def create_branch(self, name: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BRANCHES_CREATE)
        if not name.strip() or len(name) > 120:
            raise ValidationError.of("name", "is required (at most 120 characters)")
        doc = {
            "_id": new_id("br"),
            "institution_id": p.institution_id,
            "name": name.strip(),
            "create_time": _now(),
        }
        await self.repo.insert(BRANCHES, doc)
        return doc

    async def get_branch(self, branch_id: str) -> dict[str, Any]:
        p = context.principal()
        doc = await self.repo.get(BRANCHES, branch_id)
        # Reading a branch is needed by whoever assigns staff to it (including the platform
        # admin creating an institution's first admin), so scope is the check here.
        if doc is None or not p.can_access(doc["institution_id"]):
            raise NotFound(f"branch {branch_id} not found")
        return doc

    async def list_branches(self, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        p = context.principal()
        require(p, Permission.BRANCHES_READ)
        return await self.repo.page(BRANCHES, {"institution_id": p.institution_id}, size, token)

    # --- borrowers ----------------------------------------------------------------------

    async def check_branch(self, p: Principal, branch_id: str, field: str) -> None:
        if not branch_id:
            raise ValidationError.of(field, "is required")
        branch = await self.repo.get(BRANCHES, branch_id)
        if branch is None or branch["institution_id"] != p.institution_id:
            raise ValidationError.of(
                field, f"branch {branch_id} does not exist", reason="BRANCH_NOT_FOUND"
            )
        if p.is_branch_scoped and branch_id != p.branch_id:
            raise PermissionDenied(
                f"you act only within branch {p.branch_id}", reason="OUTSIDE_BRANCH"
            )

    async def borrower_in_scope(self, p: Principal, borrower_id: str) -> dict[str, Any]:
        doc = await self.repo.get(BORROWERS, borrower_id)
        if doc is None or not p.can_access(doc["institution_id"], doc["branch_id"]):
            raise NotFound(f"borrower {borrower_id} not found", reason="BORROWER_NOT_FOUND")
        return doc

    def _event(self, kind: str, doc: dict[str, Any]) -> events_pb2.BorrowerEvent:
        return events_pb2.BorrowerEvent(
            meta=event_meta(
                kind,
                institution_id=doc["institution_id"],
                branch_id=doc["branch_id"],
                aggregate_id=doc["_id"],
                aggregate_version=doc["version"],
            ),
            borrower=borrower_to_proto(doc),
        )

    async def create_borrower(
        self, data: dict[str, Any], currencies: Sequence[tuple[str, str]] = ()
    ) -> dict[str, Any]:
        """`currencies`: (field, currency) of each amount the request named a currency for."""
        p = context.principal()
        require(p, Permission.BORROWERS_CREATE)
        currency = await self._income_currency(p.institution_id or "", data, currencies)
        profile = kyc.validate_new(data, date.today(), currency)
        branch_id = data.get("branch_id") or (p.branch_id or "")
        await self.check_branch(p, branch_id, "branch_id")
        now = _now()
        doc: dict[str, Any] = {
            "_id": new_id("bor"),
            "institution_id": p.institution_id,
            "branch_id": branch_id,
            "agent_id": data.get("agent_id") or (p.user_id if p.role == "agent" else ""),
            **profile,
            "kyc_status": "unverified",
            "consents": [],
            "group_id": "",
            "version": 1,
            "create_time": now,
            "update_time": now,
            "created_by": p.user_id,
            "assignments": [],
            "history": [],
        }
        doc["assignments"].append(
            {
                "branch_id": branch_id,
                "agent_id": doc["agent_id"],
                "time": now,
                "changed_by": p.user_id,
                "reason": "registered",
            }
        )
        doc.update(outbox_fields([self._event("borrower.registered", doc)]))
        await self.repo.insert_borrower(doc)
        self._notify(BORROWERS, doc["_id"])
        return doc

    async def get_borrower(self, borrower_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        return await self.borrower_in_scope(p, borrower_id)

    async def batch_get_borrowers(
        self, borrower_ids: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The borrowers of `borrower_ids` in the caller's scope (the others left out, as if
        they did not exist) and the groups they belong to."""
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        if len(borrower_ids) > MAX_BATCH:
            raise ValidationError.of("borrower_ids", f"at most {MAX_BATCH} ids at a time")
        found = await self.repo.get_many(BORROWERS, list(dict.fromkeys(borrower_ids)))
        borrowers = [d for d in found if p.can_access(d["institution_id"], d["branch_id"])]
        group_ids = sorted({d["group_id"] for d in borrowers if d.get("group_id")})
        groups = [
            g
            for g in await self.repo.get_many(GROUPS, group_ids)
            if p.can_access(g["institution_id"])
        ]
        return borrowers, groups

    async def list_borrowers(
        self, branch_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        query: dict[str, Any] = dict(p.scope_filter())
        if branch_id and not p.is_branch_scoped:
            query["branch_id"] = branch_id
        return await self.repo.page(BORROWERS, query, size, token)

    async def change_borrower(
        self,
        p: Principal,
        doc: dict[str, Any],
        kind: str,
        set_fields: dict[str, Any],
        push: dict[str, Any] | None = None,
        expected_version: int = 0,
    ) -> dict[str, Any]:
        if expected_version and expected_version != doc["version"]:
            raise ValidationError.of(
                "expected_version", f"the borrower is at version {doc['version']}"
            )
        after = {**doc, **set_fields, "version": doc["version"] + 1}
        event = self._event(kind, after)
        update = outbox_update([event])
        update["$set"] = {**set_fields, "update_time": _now()}
        update["$inc"]["version"] = 1
        if push:
            update["$push"].update(push)
        updated = await self.repo.update_borrower(
            doc["_id"],
            doc["version"],
            update,
            check={"institution_id": doc["institution_id"], **set_fields},
        )
        self._notify(BORROWERS, doc["_id"])
        return updated

    async def update_borrower(
        self,
        borrower_id: str,
        changes: dict[str, Any],
        expected_version: int,
        currencies: Sequence[tuple[str, str]] = (),
    ) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        unknown = sorted(set(changes) - kyc.EDITABLE)
        if unknown:
            raise ValidationError(
                f"these fields cannot be changed here: {', '.join(unknown)}",
                field_errors=[(f, "cannot be changed by an edit") for f in unknown],
            )
        doc = await self.borrower_in_scope(p, borrower_id)
        currency = await self._income_currency(doc["institution_id"], changes, currencies)
        clean = kyc.validate_profile(changes, date.today(), currency)
        changed = kyc.diff(doc, clean)
        if not changed:
            return doc
        entry = {
            "version": doc["version"] + 1,
            "time": _now(),
            "changed_by": p.user_id,
            "changes": json.dumps(changed, default=str),
        }
        return await self.change_borrower(
            p, doc, "borrower.updated", clean, {"history": entry}, expected_version
        )

    async def record_consent(
        self, borrower_id: str, kind: str, text_version: str
    ) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        if not kind.strip():
            raise ValidationError.of("kind", "is required (e.g. credit_bureau_check)")
        doc = await self.borrower_in_scope(p, borrower_id)
        consent = {
            "kind": kind.strip(),
            "text_version": text_version,
            "time": _now(),
            "recorded_by": p.user_id,
        }
        return await self.change_borrower(
            p, doc, "borrower.consent_recorded", {}, {"consents": consent}
        )

    async def transfer_borrower(
        self, borrower_id: str, branch_id: str, agent_id: str, reason: str
    ) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        doc = await self.borrower_in_scope(p, borrower_id)
        if not reason.strip():
            raise ValidationError.of("reason", "a transfer needs a reason")
        branch_id = branch_id or doc["branch_id"]
        branch = await self.repo.get(BRANCHES, branch_id)
        if branch is None or branch["institution_id"] != p.institution_id:
            raise ValidationError.of("branch_id", f"branch {branch_id} does not exist")
        if p.is_branch_scoped and branch_id != p.branch_id and p.role != "branch_manager":
            raise PermissionDenied("only a branch manager or admin moves borrowers out of a branch")
        entry = {
            "branch_id": branch_id,
            "agent_id": agent_id,
            "time": _now(),
            "changed_by": p.user_id,
            "reason": reason.strip(),
        }
        return await self.change_borrower(
            p,
            doc,
            "borrower.transferred",
            {"branch_id": branch_id, "agent_id": agent_id},
            {"assignments": entry},
        )

    async def set_kyc_status(self, borrower_id: str, status: str, note: str) -> dict[str, Any]:
        """The borrower with its KYC status set; versioned like an edit, the note with it."""
        p = context.principal()
        needed = (
            Permission.BORROWERS_VERIFY
            if status in documents.REVIEW_OUTCOMES
            else Permission.BORROWERS_UPDATE
        )
        require(p, needed)
        doc = await self.borrower_in_scope(p, borrower_id)
        documents.check_kyc_change(status, note, p.user_id, doc.get("created_by", ""))
        clean = {"kyc_status": status, "kyc_note": note.strip()}
        changed = kyc.diff({"kyc_status": "unverified", "kyc_note": "", **doc}, clean)
        if "kyc_status" not in changed:
            return doc
        entry = {
            "version": doc["version"] + 1,
            "time": _now(),
            "changed_by": p.user_id,
            "changes": json.dumps(changed, default=str),
        }
        return await self.change_borrower(
            p, doc, "borrower.kyc_status_changed", clean, {"history": entry}
        )
