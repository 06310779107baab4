"""The MongoDB side of the ports: one class per collection, each turning its documents into
the domain's objects and back. Writes that change something others may change too are
guarded by the version read; queues are leased (see `_claim`).

Dates are stored as ISO text (they compare in order), amounts as decimal text, times as
BSON dates."""

from __future__ import annotations

import base64
import secrets
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from notification_service.domain.alerts import Alert, AlertStatus, Rule, Step, Trigger
from notification_service.domain.facts import Installment
from notification_service.domain.messages import Notification, Status
from notification_service.domain.positions import LoanPosition
from notification_service.domain.schedule import Schedule
from notification_service.domain.templates import Channel, Kind
from notification_service.domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointStatus,
)
from notification_service.service_layer import ports
from notification_service.service_layer.ports import Page, Preferences, SavedTemplate, SuspenseItem
from shared.errors import ValidationError
from shared.mongo import page_size

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SCHEDULES = "schedules"
LEASES = "leases"
TEMPLATES = "templates"
NOTIFICATIONS = "notifications"
PREFERENCES = "preferences"
ENDPOINTS = "webhook_endpoints"
DELIVERIES = "webhook_deliveries"
RULES = "alert_rules"
ALERTS = "alerts"
POSITIONS = "loan_positions"
SUSPENSE = "suspense"


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# --- newest-first pages: the token is the last item's (time, id) -----------------------------


def _token(stamp: datetime, doc_id: str) -> str:
    raw = f"{stamp.isoformat()}|{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, doc_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), doc_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationError.of("page_token", "is not a token this API issued") from None


async def _newest_first(
    collection: AsyncCollection[Any],
    query: dict[str, Any],
    size: int,
    token: str,
    time_field: str = "create_time",
) -> tuple[list[dict[str, Any]], str]:
    limit = page_size(size)
    after = _after(token)
    if after is not None:
        stamp, doc_id = after
        query = {
            **query,
            "$or": [{time_field: {"$lt": stamp}}, {time_field: stamp, "_id": {"$lt": doc_id}}],
        }
    docs = (
        await collection.find(query)
        .sort([(time_field, DESCENDING), ("_id", DESCENDING)])
        .limit(limit + 1)
        .to_list(limit + 1)
    )
    more = len(docs) > limit
    docs = docs[:limit]
    return docs, _token(docs[-1][time_field], docs[-1]["_id"]) if more else ""


async def _claim(
    collection: AsyncCollection[Any],
    query: dict[str, Any],
    due_field: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """Leases up to `limit` due documents to this caller: three statements whatever the
    batch (candidates, one conditional update marking them with a fresh token, the ones
    that carry it), and a document leased by another caller meanwhile is not taken."""
    free = {"$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}
    candidates = (
        await collection.find({**query, due_field: {"$lte": now}, **free}, {"_id": 1})
        .sort(due_field, ASCENDING)
        .limit(limit)
        .to_list(limit)
    )
    if not candidates:
        return []
    token = secrets.token_hex(8)
    ids = [c["_id"] for c in candidates]
    await collection.update_many(
        {"_id": {"$in": ids}, **free},
        {"$set": {"lease_until": lease_until, "lease_token": token}},
    )
    return await collection.find({"_id": {"$in": ids}, "lease_token": token}).to_list(limit)


# --- schedules and leases ----------------------------------------------------------------------


def schedule_doc(s: Schedule) -> dict[str, Any]:
    return {
        "_id": s.institution_id,
        "time_zone": s.time_zone,
        "close_of_business_time": s.close_of_business_time,
        "reminder_days_before": s.reminder_days_before,
        "quiet_hours_start": s.quiet_hours_start,
        "quiet_hours_end": s.quiet_hours_end,
        "default_language": s.default_language,
        "enabled": s.enabled,
        "start_date": _iso(s.start_date),
        "last_business_date": _iso(s.last_business_date),
        "last_run_time": s.last_run_time,
        "version": s.version,
    }


def schedule_of(doc: dict[str, Any]) -> Schedule:
    return Schedule(
        institution_id=doc["_id"],
        time_zone=doc["time_zone"],
        close_of_business_time=doc["close_of_business_time"],
        reminder_days_before=doc["reminder_days_before"],
        quiet_hours_start=doc["quiet_hours_start"],
        quiet_hours_end=doc["quiet_hours_end"],
        default_language=doc["default_language"],
        enabled=doc["enabled"],
        start_date=_day(doc.get("start_date")),
        last_business_date=_day(doc.get("last_business_date")),
        last_run_time=doc.get("last_run_time"),
        version=doc["version"],
    )


class MongoSchedules(ports.Schedules):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[SCHEDULES]

    async def get(self, institution_id: str) -> Schedule | None:
        doc = await self.c.find_one({"_id": institution_id})
        return schedule_of(doc) if doc else None

    async def add(self, schedule: Schedule) -> Schedule:
        doc = await self.c.find_one_and_update(
            {"_id": schedule.institution_id},
            {"$setOnInsert": {**schedule_doc(schedule), "version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # an upsert returning the document after always finds one
        return schedule_of(doc)

    async def save(self, schedule: Schedule) -> bool:
        settings = schedule_doc(schedule)
        for kept in ("_id", "last_business_date", "last_run_time", "version"):
            settings.pop(kept)
        done = await self.c.update_one(
            {"_id": schedule.institution_id, "version": schedule.version},
            {"$set": settings, "$inc": {"version": 1}},
        )
        return done.modified_count == 1

    async def mark_closed(self, institution_id: str, day: date, at: datetime) -> None:
        text = day.isoformat()
        await self.c.update_one(
            {
                "_id": institution_id,
                "$or": [{"last_business_date": None}, {"last_business_date": {"$lt": text}}],
            },
            {"$set": {"last_business_date": text, "last_run_time": at}},
        )

    async def enabled(self) -> list[Schedule]:
        return [schedule_of(d) async for d in self.c.find({"enabled": True})]


class MongoLeases(ports.Leases):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[LEASES]

    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        try:
            doc = await self.c.find_one_and_update(
                {"_id": name, "$or": [{"owner": owner}, {"until": {"$lte": now}}]},
                {"$set": {"owner": owner, "until": until}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # held by another owner: the upsert collided with its document
        return bool(doc and doc["owner"] == owner)

    async def release(self, name: str, owner: str) -> None:
        await self.c.update_one({"_id": name, "owner": owner}, {"$set": {"until": EPOCH}})


# --- templates and preferences -------------------------------------------------------------------


class MongoTemplates(ports.Templates):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[TEMPLATES]

    @staticmethod
    def _id(institution_id: str, kind: Kind, channel: Channel, language: str) -> str:
        return f"{institution_id}:{kind.value}:{channel.value}:{language}"

    @staticmethod
    def _of(doc: dict[str, Any]) -> SavedTemplate:
        return SavedTemplate(
            doc["institution_id"],
            Kind(doc["kind"]),
            Channel(doc["channel"]),
            doc["language"],
            doc["subject"],
            doc["body"],
            doc["update_time"],
            doc["updated_by"],
        )

    async def get(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> SavedTemplate | None:
        doc = await self.c.find_one({"_id": self._id(institution_id, kind, channel, language)})
        return self._of(doc) if doc else None

    async def all(self, institution_id: str) -> list[SavedTemplate]:
        return [self._of(d) async for d in self.c.find({"institution_id": institution_id})]

    async def put(self, template: SavedTemplate) -> None:
        doc = {
            **asdict(template),
            "kind": template.kind.value,
            "channel": template.channel.value,
        }
        key = self._id(template.institution_id, template.kind, template.channel, template.language)
        await self.c.replace_one({"_id": key}, doc, upsert=True)

    async def delete(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> None:
        await self.c.delete_one({"_id": self._id(institution_id, kind, channel, language)})


class MongoPreferences(ports.PreferencesStore):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[PREFERENCES]

    async def get(self, institution_id: str, borrower_id: str) -> Preferences | None:
        doc = await self.c.find_one({"_id": f"{institution_id}:{borrower_id}"})
        if doc is None:
            return None
        doc.pop("_id")
        return Preferences(**doc)

    async def put(self, preferences: Preferences) -> None:
        key = f"{preferences.institution_id}:{preferences.borrower_id}"
        await self.c.replace_one({"_id": key}, asdict(preferences), upsert=True)


# --- messages ------------------------------------------------------------------------------------

_NOTIFICATION_FIELDS = {f.name for f in fields(Notification)}


def notification_doc(n: Notification) -> dict[str, Any]:
    doc = asdict(n)
    doc["_id"] = doc.pop("id")
    doc["status"] = n.status.value
    return doc


def notification_of(doc: dict[str, Any]) -> Notification:
    values = {k: v for k, v in doc.items() if k in _NOTIFICATION_FIELDS}
    values["id"] = doc["_id"]
    values["status"] = Status(doc["status"])
    return Notification(**values)


class MongoNotifications(ports.Notifications):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[NOTIFICATIONS]

    async def ensure_indexes(self) -> None:
        await self.c.create_index([("institution_id", 1), ("borrower_id", 1), ("create_time", -1)])
        await self.c.create_index([("institution_id", 1), ("loan_id", 1), ("create_time", -1)])
        await self.c.create_index([("status", 1), ("next_attempt_time", 1)])

    async def add(self, notification: Notification) -> bool:
        try:
            await self.c.insert_one({**notification_doc(notification), "lease_until": None})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, notification_id: str) -> Notification | None:
        doc = await self.c.find_one({"_id": notification_id})
        return notification_of(doc) if doc else None

    async def save(self, notification: Notification) -> bool:
        done = await self.c.replace_one(
            {"_id": notification.id, "version": notification.version - 1},
            {**notification_doc(notification), "lease_until": None},
        )
        return done.modified_count == 1

    async def page(
        self,
        scope: dict[str, str],
        borrower_id: str,
        loan_id: str,
        page_size: int,
        page_token: str,
    ) -> Page[Notification]:
        query: dict[str, Any] = dict(scope)
        if borrower_id:
            query["borrower_id"] = borrower_id
        if loan_id:
            query["loan_id"] = loan_id
        if not borrower_id and not loan_id:
            query["borrower_id"] = {"$ne": ""}  # messages to staff are not borrowers' messages
        docs, token = await _newest_first(self.c, query, page_size, page_token)
        return Page([notification_of(d) for d in docs], token)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        docs = await _claim(
            self.c, {"status": Status.QUEUED.value}, "next_attempt_time", now, lease_until, limit
        )
        return [notification_of(d) for d in docs]


# --- webhooks ------------------------------------------------------------------------------------


def endpoint_doc(e: Endpoint) -> dict[str, Any]:
    doc = asdict(e)
    doc["_id"] = doc.pop("id")
    doc["status"] = e.status.value
    doc["event_types"] = list(e.event_types)
    return doc


def endpoint_of(doc: dict[str, Any]) -> Endpoint:
    values = {k: v for k, v in doc.items() if k != "_id"}
    return Endpoint(
        **{
            **values,
            "id": doc["_id"],
            "status": EndpointStatus(doc["status"]),
            "event_types": tuple(doc["event_types"]),
        }
    )


class MongoEndpoints(ports.Endpoints):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[ENDPOINTS]

    async def ensure_indexes(self) -> None:
        await self.c.create_index([("institution_id", 1), ("event_types", 1)])

    async def add(self, endpoint: Endpoint) -> None:
        await self.c.insert_one(endpoint_doc(endpoint))

    async def get(self, institution_id: str, endpoint_id: str) -> Endpoint | None:
        doc = await self.c.find_one({"_id": endpoint_id, "institution_id": institution_id})
        return endpoint_of(doc) if doc else None

    async def page(self, institution_id: str, page_size: int, page_token: str) -> Page[Endpoint]:
        docs, token = await _newest_first(
            self.c, {"institution_id": institution_id}, page_size, page_token
        )
        return Page([endpoint_of(d) for d in docs], token)

    async def save(self, endpoint: Endpoint) -> None:
        await self.c.replace_one({"_id": endpoint.id}, endpoint_doc(endpoint))

    async def delete(self, institution_id: str, endpoint_id: str) -> bool:
        done = await self.c.delete_one({"_id": endpoint_id, "institution_id": institution_id})
        return done.deleted_count == 1

    async def subscribed(self, institution_id: str, event_type: str) -> list[Endpoint]:
        query = {
            "institution_id": institution_id,
            "status": EndpointStatus.ENABLED.value,
            "event_types": event_type,
        }
        return [endpoint_of(d) async for d in self.c.find(query)]


def delivery_doc(d: Delivery) -> dict[str, Any]:
    doc = asdict(d)
    doc["_id"] = doc.pop("id")
    doc["status"] = d.status.value
    doc["attempt_log"] = [asdict(a) for a in d.attempt_log]
    return doc


def delivery_of(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        endpoint_id=doc["endpoint_id"],
        event_type=doc["event_type"],
        event_id=doc["event_id"],
        body=bytes(doc["body"]),
        status=DeliveryStatus(doc["status"]),
        create_time=doc["create_time"],
        next_attempt_time=doc.get("next_attempt_time"),
        attempts=doc["attempts"],
        response_status=doc["response_status"],
        attempt_log=tuple(Attempt(**a) for a in doc.get("attempt_log", [])),
        version=doc["version"],
    )


class MongoDeliveries(ports.Deliveries):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[DELIVERIES]

    async def ensure_indexes(self) -> None:
        await self.c.create_index([("endpoint_id", 1), ("create_time", -1)])
        await self.c.create_index([("status", 1), ("next_attempt_time", 1)])

    async def add_many(self, deliveries: list[Delivery]) -> list[Delivery]:
        added = []
        for delivery in deliveries:
            try:
                await self.c.insert_one({**delivery_doc(delivery), "lease_until": None})
            except DuplicateKeyError:
                continue
            added.append(delivery)
        return added

    async def get(self, endpoint_id: str, delivery_id: str) -> Delivery | None:
        doc = await self.c.find_one({"_id": delivery_id, "endpoint_id": endpoint_id})
        return delivery_of(doc) if doc else None

    async def save(self, delivery: Delivery) -> bool:
        # Only what an attempt changes: the body and the ids are never rewritten (encoding
        # the whole delivery again cost more than sending it).
        done = await self.c.update_one(
            {"_id": delivery.id, "version": delivery.version - 1},
            {
                "$set": {
                    "status": delivery.status.value,
                    "attempts": delivery.attempts,
                    "response_status": delivery.response_status,
                    "next_attempt_time": delivery.next_attempt_time,
                    "attempt_log": [
                        {
                            "time": a.time,
                            "response_status": a.response_status,
                            "error": a.error,
                            "duration_ms": a.duration_ms,
                        }
                        for a in delivery.attempt_log
                    ],
                    "version": delivery.version,
                    "lease_until": None,
                }
            },
        )
        return done.modified_count == 1

    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, page_size: int, page_token: str
    ) -> Page[Delivery]:
        query: dict[str, Any] = {"endpoint_id": endpoint_id}
        if status is not None:
            query["status"] = status.value
        docs, token = await _newest_first(self.c, query, page_size, page_token)
        return Page([delivery_of(d) for d in docs], token)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        docs = await _claim(
            self.c,
            {"status": DeliveryStatus.PENDING.value},
            "next_attempt_time",
            now,
            lease_until,
            limit,
        )
        return [delivery_of(d) for d in docs]


# --- alerts -----------------------------------------------------------------------------------


def rule_doc(r: Rule) -> dict[str, Any]:
    doc = asdict(r)
    doc["_id"] = doc.pop("id")
    doc["trigger"] = r.trigger.value
    doc["amount"] = str(r.amount) if r.amount is not None else None
    for name in ("roles", "branch_ids", "channels"):
        doc[name] = list(doc[name])
    return doc


def rule_of(doc: dict[str, Any]) -> Rule:
    return Rule(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        name=doc["name"],
        trigger=Trigger(doc["trigger"]),
        days=doc["days"],
        ratio=doc["ratio"],
        hours=doc["hours"],
        amount=Decimal(doc["amount"]) if doc.get("amount") else None,
        currency=doc.get("currency", ""),
        roles=tuple(doc["roles"]),
        branch_ids=tuple(doc["branch_ids"]),
        channels=tuple(doc["channels"]),
        enabled=doc["enabled"],
        created_by=doc["created_by"],
        create_time=doc.get("create_time"),
    )


class MongoRules(ports.Rules):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[RULES]

    async def add(self, rule: Rule) -> None:
        await self.c.insert_one(rule_doc(rule))

    async def get(self, institution_id: str, rule_id: str) -> Rule | None:
        doc = await self.c.find_one({"_id": rule_id, "institution_id": institution_id})
        return rule_of(doc) if doc else None

    async def all(self, institution_id: str) -> list[Rule]:
        cursor = self.c.find({"institution_id": institution_id}).sort("create_time", ASCENDING)
        return [rule_of(d) async for d in cursor]

    async def save(self, rule: Rule) -> None:
        await self.c.replace_one({"_id": rule.id}, rule_doc(rule))

    async def delete(self, institution_id: str, rule_id: str) -> bool:
        done = await self.c.delete_one({"_id": rule_id, "institution_id": institution_id})
        return done.deleted_count == 1

    async def of_trigger(self, trigger: Trigger, institution_id: str | None = None) -> list[Rule]:
        query: dict[str, Any] = {"trigger": trigger.value, "enabled": True}
        if institution_id is not None:
            query["institution_id"] = institution_id
        return [rule_of(d) async for d in self.c.find(query)]


def alert_doc(a: Alert) -> dict[str, Any]:
    doc = asdict(a)
    doc["_id"] = doc.pop("id")
    doc["trigger"] = a.trigger.value
    doc["status"] = a.status.value
    doc["roles"] = list(a.roles)
    doc["channels"] = list(a.channels)
    doc["history"] = [asdict(s) for s in a.history]
    return doc


def alert_of(doc: dict[str, Any]) -> Alert:
    return Alert(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        rule_id=doc["rule_id"],
        trigger=Trigger(doc["trigger"]),
        title=doc["title"],
        detail=doc["detail"],
        subject_type=doc["subject_type"],
        subject_id=doc["subject_id"],
        roles=tuple(doc["roles"]),
        status=AlertStatus(doc["status"]),
        assignee_id=doc["assignee_id"],
        history=tuple(Step(**s) for s in doc["history"]),
        create_time=doc["create_time"],
        update_time=doc["update_time"],
        version=doc["version"],
        channels=tuple(doc.get("channels", ())),
    )


class MongoAlerts(ports.Alerts):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[ALERTS]

    async def ensure_indexes(self) -> None:
        await self.c.create_index([("institution_id", 1), ("status", 1), ("create_time", -1)])

    async def add(self, alert: Alert) -> bool:
        try:
            await self.c.insert_one(alert_doc(alert))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, institution_id: str, alert_id: str) -> Alert | None:
        doc = await self.c.find_one({"_id": alert_id, "institution_id": institution_id})
        return alert_of(doc) if doc else None

    async def save(self, alert: Alert) -> bool:
        done = await self.c.replace_one(
            {"_id": alert.id, "version": alert.version - 1}, alert_doc(alert)
        )
        return done.modified_count == 1

    async def page(
        self,
        institution_id: str,
        status: AlertStatus | None,
        branch_id: str,
        assignee_id: str,
        page_size: int,
        page_token: str,
    ) -> Page[Alert]:
        query: dict[str, Any] = {"institution_id": institution_id}
        if status is not None:
            query["status"] = status.value
        if branch_id:
            query["branch_id"] = branch_id
        if assignee_id:
            query["assignee_id"] = assignee_id
        docs, token = await _newest_first(self.c, query, page_size, page_token)
        return Page([alert_of(d) for d in docs], token)


# --- the loans' read model and the suspense book ------------------------------------------------


def position_doc(p: LoanPosition) -> dict[str, Any]:
    return {
        "_id": p.loan_id,
        "institution_id": p.institution_id,
        "branch_id": p.branch_id,
        "borrower_id": p.borrower_id,
        "currency": p.currency,
        "status": p.status,
        "version": p.version,
        "outstanding": str(p.outstanding),
        "outstanding_principal": str(p.outstanding_principal),
        "days_past_due": p.days_past_due,
        "oldest_unpaid_due_date": _iso(p.oldest_unpaid_due_date),
        "installments": [
            {
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "due": str(i.due),
                "paid": str(i.paid),
            }
            for i in p.installments
        ],
        # What the reminders look up by.
        "unpaid_due_dates": [d.isoformat() for d in p.unpaid_due_dates()],
        "principal": str(p.principal) if p.principal is not None else None,
    }


def position_of(doc: dict[str, Any]) -> LoanPosition:
    return LoanPosition(
        loan_id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        borrower_id=doc["borrower_id"],
        currency=doc["currency"],
        status=doc["status"],
        version=doc["version"],
        outstanding=Decimal(doc["outstanding"]),
        outstanding_principal=Decimal(doc["outstanding_principal"]),
        days_past_due=doc["days_past_due"],
        oldest_unpaid_due_date=_day(doc.get("oldest_unpaid_due_date")),
        installments=tuple(
            Installment(
                i["number"],
                date.fromisoformat(i["due_date"]),
                Decimal(i["due"]),
                Decimal(i["paid"]),
            )
            for i in doc["installments"]
        ),
        principal=Decimal(doc["principal"]) if doc.get("principal") else None,
    )


class MongoPositions(ports.Positions):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[POSITIONS]

    async def ensure_indexes(self) -> None:
        await self.c.create_index([("institution_id", 1), ("unpaid_due_dates", 1)])
        await self.c.create_index([("institution_id", 1), ("status", 1)])

    async def get(self, loan_id: str) -> LoanPosition | None:
        doc = await self.c.find_one({"_id": loan_id})
        return position_of(doc) if doc else None

    async def save(self, position: LoanPosition) -> bool:
        doc = position_doc(position)
        try:
            done = await self.c.replace_one(
                {"_id": position.loan_id, "version": {"$lt": position.version}}, doc, upsert=True
            )
        except DuplicateKeyError:
            return False  # a newer version is held (the upsert met it)
        return bool(done.modified_count or done.upserted_id)

    async def due_on(self, institution_id: str, day: date) -> list[LoanPosition]:
        query = {
            "institution_id": institution_id,
            "status": "active",
            "unpaid_due_dates": day.isoformat(),
        }
        return [position_of(d) async for d in self.c.find(query)]

    async def in_arrears(self, institution_id: str) -> list[LoanPosition]:
        query = {
            "institution_id": institution_id,
            "status": "active",
            "oldest_unpaid_due_date": {"$ne": None},
        }
        return [position_of(d) async for d in self.c.find(query)]

    async def active(self, institution_id: str) -> list[LoanPosition]:
        query = {"institution_id": institution_id, "status": "active"}
        return [position_of(d) async for d in self.c.find(query)]


class MongoSuspense(ports.SuspenseBook):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.c = db[SUSPENSE]

    async def add(self, item: SuspenseItem) -> None:
        doc = {**asdict(item), "amount": str(item.amount)}
        doc["_id"] = doc.pop("payment_id")
        await self.c.replace_one({"_id": item.payment_id}, doc, upsert=True)

    async def remove(self, payment_id: str) -> None:
        await self.c.delete_one({"_id": payment_id})

    async def older_than(self, institution_id: str, cutoff: datetime) -> list[SuspenseItem]:
        query = {"institution_id": institution_id, "received_at": {"$lte": cutoff}}
        return [
            SuspenseItem(
                d["_id"], d["institution_id"], Decimal(d["amount"]), d["currency"], d["received_at"]
            )
            async for d in self.c.find(query)
        ]
