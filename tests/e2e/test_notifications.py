"""Issue 13 through the gateway with the whole fleet, Kannel's fake SMSC and the SMTP server:
a loan disbursed, the clock moved with the close of business, the borrower reminded and told
of the arrears by SMS, the branch manager alerted (in the queue and by email), the
institution's system told by signed webhooks; templates, consent and the schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.channels import Answer, Listener, channel_env, mail_to, sms_to
from tests.support.staff import make_institution, register_borrower
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def _ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


SCHEDULE_FIELDS = (
    "time_zone",
    "close_of_business_time",
    "reminder_days_before",
    "quiet_hours_start",
    "quiet_hours_end",
    "default_language",
    "enabled",
)


def _messages(http: httpx.Client, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    return list(_ok(http.get("/v1/notifications", headers=headers, params=query))["items"])


def _by_template(items: list[dict[str, Any]], template: str) -> list[dict[str, Any]]:
    return [n for n in items if n["template"] == template]


def test_a_loan_is_reminded_chased_and_alerted_through_every_channel(
    http: httpx.Client, platform_token: str
) -> None:
    env = channel_env()
    mfi = make_institution(http, platform_token)
    agent, manager, admin = (mfi.headers[r] for r in ("agent", "branch_manager", "admin"))
    borrower = _ok(http.get(f"/v1/borrowers/{mfi.borrower_id}", headers=agent))
    _ok(
        http.put(
            f"/v1/institutions/{mfi.id}/schedule",
            headers=admin,
            json={
                "time_zone": "Africa/Nairobi",
                "close_of_business_time": "21:00",
                "reminder_days_before": 3,
                "quiet_hours_start": None,
                "quiet_hours_end": None,
                "enabled": False,
            },
        )
    )
    rule = _ok(
        http.post(
            "/v1/alert-rules",
            headers=admin,
            json={
                "name": "A week late",
                "trigger": "days_past_due",
                "days": 7,
                "roles": ["branch_manager"],
                "branch_ids": [],
                "channels": ["email", "webhook"],
                "enabled": True,
            },
        ),
        201,
    )
    with Listener() as erp:
        endpoint = _ok(
            http.post(
                "/v1/webhooks",
                headers=admin,
                json={
                    "url": f"{erp.url}/kopa",
                    "event_types": ["loan.disbursed", "alert.raised"],
                    "description": "the ERP",
                },
            ),
            201,
        )
        assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "enabled"
        assert "secret" not in _ok(http.get(f"/v1/webhooks/{endpoint['id']}", headers=admin))

        loan = _ok(
            http.post(
                "/v1/loans",
                headers=agent,
                json={
                    "borrower_id": mfi.borrower_id,
                    "product_id": mfi.product_id,
                    "principal": "12000",
                    "term": 3,
                },
            ),
            201,
        )["id"]
        _ok(http.post(f"/v1/loans/{loan}/approve", headers=manager, json={}))
        _ok(
            http.post(
                f"/v1/loans/{loan}/disburse",
                headers=manager,
                json={"disbursement_date": "2026-06-01"},
            )
        )

        # The borrower hears of the approval and the disbursement by SMS, delivered: Kannel
        # handed them to the fake SMSC and reported delivery back through the gateway.
        def delivered() -> list[dict[str, Any]] | None:
            items = _messages(http, agent, loan_id=loan)
            done = {n["template"] for n in items if n["status"] == "delivered"}
            return items if done >= {"loan_approved", "loan_disbursed"} else None

        items = eventually(delivered, limit=60)
        disbursed = _by_template(items, "loan_disbursed")[0]
        assert disbursed["channel"] == "sms" and disbursed["recipient"] == borrower["phone"]
        assert "KES 12,000.00" in disbursed["text"] and "2026-07-01" in disbursed["text"]
        assert any(
            s.text == disbursed["text"] for s in sms_to(env["KOPA_FAKESMSC_LOG"], borrower["phone"])
        )

        # The ERP got loan.disbursed, signed as the Standard Webhooks specification says.
        def signed() -> Any:
            posted = [r for r in erp.requests if b'"loan.disbursed"' in r.body]
            return posted[0] if posted else None

        request = eventually(signed, limit=30)
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "loan.disbursed"
        assert payload["data"]["loan"]["loan_id"] == loan
        assert payload["data"]["principal"] == "12000.00"

        # Three days before the first installment (2026-07-01) the close of business reminds.
        _ok(http.post("/v1/jobs/close-of-business", headers=admin, json={"as_of": "2026-06-28"}))
        reminder = eventually(
            lambda: _by_template(_messages(http, agent, loan_id=loan), "installment_due"),
            limit=30,
        )[0]
        assert "2026-07-01" in reminder["text"] and reminder["recipient"] == borrower["phone"]

        # Unpaid a week and a day later: told by SMS, and the branch manager is alerted.
        _ok(http.post("/v1/jobs/close-of-business", headers=admin, json={"as_of": "2026-07-09"}))
        overdue = eventually(
            lambda: _by_template(_messages(http, agent, loan_id=loan), "installment_overdue"),
            limit=30,
        )[0]
        assert "overdue" in overdue["text"]

        def alerted() -> list[dict[str, Any]]:
            alerts = _ok(http.get("/v1/alerts", headers=manager, params={"status": "open"}))
            return [a for a in alerts["items"] if a["subject_id"] == loan]

        [alert] = eventually(alerted, limit=30)
        assert alert["rule_id"] == rule["id"] and alert["trigger"] == "days_past_due"
        # The rule names branch managers: the agent's queue does not hold it.
        agent_queue = _ok(http.get("/v1/alerts", headers=agent))["items"]
        assert all(a["id"] != alert["id"] for a in agent_queue)
        assert http.get(f"/v1/alerts/{alert['id']}", headers=agent).status_code == 404

        manager_email = mfi.emails["branch_manager"]
        [mail] = eventually(lambda: mail_to(env["KOPA_SMTP_MAILDIR"], manager_email), limit=30)
        assert "Kopa alert" in mail["Subject"] and loan in mail.get_content()
        eventually(lambda: [r for r in erp.requests if b'"alert.raised"' in r.body], limit=30)

        # The queue: assigned, acknowledged, resolved, each step kept; a resolved alert is done.
        me = _ok(http.get("/v1/me", headers=manager))
        _ok(
            http.post(
                f"/v1/alerts/{alert['id']}/assign",
                headers=manager,
                json={"assignee_id": me["id"], "note": "I will visit"},
            )
        )
        _ok(http.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=manager, json={}))
        done = _ok(
            http.post(
                f"/v1/alerts/{alert['id']}/resolve", headers=manager, json={"note": "paid today"}
            )
        )
        assert done["status"] == "resolved" and done["assignee_id"] == me["id"]
        assert [s["action"] for s in done["history"]] == [
            "raised",
            "assigned",
            "acknowledged",
            "resolved",
        ]

        def audited() -> list[str]:
            query = {"target_kind": "alerts", "target_id": alert["id"]}
            found = _ok(http.get("/v1/audit-log", headers=admin, params=query))["items"]
            actions = [e["action"] for e in found]
            return actions if len(actions) == 3 else []

        assert sorted(eventually(audited, limit=30)) == sorted(
            ["alerts.assign", "alerts.acknowledge", "alerts.resolve"]
        )
        again = http.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=manager, json={})
        assert again.status_code in (409, 422) and again.json()["status"] == again.status_code

        deliveries = _ok(http.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=admin))
        assert {d["event_type"] for d in deliveries["items"]} == {"loan.disbursed", "alert.raised"}
        assert all(d["status"] == "succeeded" for d in deliveries["items"])
        first = deliveries["items"][-1]
        replayed = _ok(
            http.post(
                f"/v1/webhooks/{endpoint['id']}/deliveries/{first['id']}/replay", headers=admin
            )
        )
        assert replayed["attempts"] == first["attempts"] + 1
        ids = [r.headers["webhook-id"] for r in erp.requests]
        assert ids.count(first["id"]) == 2  # the same webhook-id on the replay

    # Another institution sees none of it.
    other = make_institution(http, platform_token)
    assert _messages(http, other.headers["admin"], loan_id=loan) == []
    assert http.get(f"/v1/alerts/{alert['id']}", headers=other.headers["admin"]).status_code == 404
    assert (
        http.get(f"/v1/webhooks/{endpoint['id']}", headers=other.headers["admin"]).status_code
        == 404
    )


def test_consent_language_and_templates_decide_what_is_sent(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    agent, manager, admin = (mfi.headers[r] for r in ("agent", "branch_manager", "admin"))
    # No quiet hours: the messages go whatever the time of day the test runs.
    _ok(
        http.put(
            f"/v1/institutions/{mfi.id}/schedule",
            headers=admin,
            json={
                "time_zone": "UTC",
                "close_of_business_time": "21:00",
                "reminder_days_before": 2,
                "enabled": False,
            },
        )
    )
    quiet = register_borrower(http, agent, mfi.branch_id, first_name="Wanjiru")
    _ok(
        http.put(
            f"/v1/borrowers/{quiet['id']}/notification-preferences",
            headers=agent,
            json={
                "sms": False,
                "email": False,
                "email_address": None,
                "language": None,
                "opted_out": True,
            },
        )
    )
    _ok(
        http.put(
            f"/v1/borrowers/{mfi.borrower_id}/notification-preferences",
            headers=agent,
            json={
                "sms": True,
                "email": True,
                "email_address": "achieng@example.org",
                "language": "sw",
                "opted_out": False,
            },
        )
    )
    bad = http.put(
        "/v1/notification-templates/loan_approved/sms/sw",
        headers=admin,
        json={"body": "Hongera {{ first_name }}!\n{{ jina_la_utani }}"},
    )
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "body" and error["message"].startswith("line 2")
    saved = _ok(
        http.put(
            "/v1/notification-templates/loan_approved/sms/sw",
            headers=admin,
            json={"body": "Hongera {{ first_name }}! Mkopo wa {{ principal }} umeidhinishwa."},
        )
    )
    assert saved["default"] is False

    def approve(borrower_id: str) -> str:
        loan = _ok(
            http.post(
                "/v1/loans",
                headers=agent,
                json={
                    "borrower_id": borrower_id,
                    "product_id": mfi.product_id,
                    "principal": "5000",
                    "term": 2,
                },
            ),
            201,
        )["id"]
        _ok(http.post(f"/v1/loans/{loan}/approve", headers=manager, json={}))
        return str(loan)

    mine, theirs = approve(mfi.borrower_id), approve(quiet["id"])

    def both_sent() -> dict[str, dict[str, Any]] | None:
        items = _by_template(_messages(http, agent, loan_id=mine), "loan_approved")
        gone = len(items) == 2 and {n["status"] for n in items} <= {"sent", "delivered"}
        return {n["channel"]: n for n in items} if gone else None

    sent = eventually(both_sent, limit=45)
    assert sent["sms"]["text"] == "Hongera Achieng! Mkopo wa KES 5,000.00 umeidhinishwa."
    assert sent["email"]["recipient"] == "achieng@example.org"
    [held] = eventually(lambda: _messages(http, agent, loan_id=theirs) or None, limit=30)
    assert held["status"] == "suppressed" and held["channel"] == "sms"
    # Back to the default text.
    restored = _ok(http.delete("/v1/notification-templates/loan_approved/sms/sw", headers=admin))
    assert restored["default"] is True and restored["body"].startswith("Mpendwa")


def test_the_clock_closes_the_business_day_on_its_own(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    admin = mfi.headers["admin"]
    held = _ok(http.get(f"/v1/institutions/{mfi.id}/schedule", headers=admin))
    assert held["enabled"] is False and held["next_run"] is None  # the test fleet's default
    bad = http.put(
        f"/v1/institutions/{mfi.id}/schedule",
        headers=admin,
        json={
            **{k: held[k] for k in SCHEDULE_FIELDS},
            "time_zone": "Mars/Olympus",
            "close_of_business_time": "25:61",
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"time_zone", "close_of_business_time"}
    other = make_institution(http, platform_token)
    assert (
        http.get(f"/v1/institutions/{mfi.id}/schedule", headers=other.headers["admin"]).status_code
        == 404
    )
    # A zone where the next two minutes stay within today, and a close of business due in a
    # minute: the clock closes today by itself, once.
    now = datetime.now(UTC)
    zone, offset = ("UTC", 0) if now.hour < 23 else ("Etc/GMT-6", 6)
    local = now + timedelta(hours=offset)
    close_at = (local + timedelta(minutes=1)).strftime("%H:%M")
    body = {
        "time_zone": zone,
        "close_of_business_time": close_at,
        "reminder_days_before": 2,
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "default_language": "en",
        "enabled": True,
    }
    scheduled = _ok(http.put(f"/v1/institutions/{mfi.id}/schedule", headers=admin, json=body))
    assert scheduled["next_business_date"] == local.date().isoformat()
    assert scheduled["last_run"] is None

    def closed() -> dict[str, Any] | None:
        schedule = _ok(http.get(f"/v1/institutions/{mfi.id}/schedule", headers=admin))
        return dict(schedule) if schedule["last_business_date"] else None

    schedule = eventually(closed, limit=150, every=1)
    assert schedule["last_business_date"] == local.date().isoformat()
    assert schedule["next_business_date"] == (local.date() + timedelta(days=1)).isoformat()
    job = _ok(http.get(f"/v1/jobs/close-of-business/{local.date().isoformat()}", headers=admin))
    assert job["state"] == "completed"


def test_a_webhook_to_a_failing_system_is_retried_then_disabled_with_an_alert(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    admin, agent, manager = (mfi.headers[r] for r in ("admin", "agent", "branch_manager"))
    refused = http.post(
        "/v1/webhooks",
        headers=admin,
        json={"url": "ftp://example.org/x", "event_types": ["loan.approved"]},
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    with Listener(Answer(status=503)) as broken:
        endpoint = _ok(
            http.post(
                "/v1/webhooks",
                headers=admin,
                json={"url": broken.url, "event_types": ["loan.approved"]},
            ),
            201,
        )
        loan = _ok(
            http.post(
                "/v1/loans",
                headers=agent,
                json={
                    "borrower_id": mfi.borrower_id,
                    "product_id": mfi.product_id,
                    "principal": "2000",
                    "term": 1,
                },
            ),
            201,
        )["id"]
        _ok(http.post(f"/v1/loans/{loan}/approve", headers=manager, json={}))

        def disabled() -> bool:
            held = _ok(http.get(f"/v1/webhooks/{endpoint['id']}", headers=admin))
            return bool(held["status"] == "disabled")

        eventually(disabled, limit=60)
        # The test fleet retries after 0, 1 and 1 s: three attempts, each logged.
        assert len(broken.requests) == 3
        [delivery] = _ok(http.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=admin))[
            "items"
        ]
        assert delivery["status"] == "failed" and delivery["response_status"] == 503
        assert [a["response_status"] for a in delivery["attempt_log"]] == [503, 503, 503]
        alerts = _ok(http.get("/v1/alerts", headers=admin, params={"status": "open"}))["items"]
        assert any(
            a["trigger"] == "webhook_failed" and a["subject_id"] == endpoint["id"] for a in alerts
        )
        # Fixed and enabled again, the failed delivery is replayed by hand.
        broken.answer = Answer(status=204)
        _ok(http.post(f"/v1/webhooks/{endpoint['id']}/enable", headers=admin))
        replayed = _ok(
            http.post(
                f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/replay",
                headers=admin,
            )
        )
        assert replayed["status"] == "succeeded"
        body = json.loads(broken.requests[-1].body)
        assert body["type"] == "loan.approved" and body["data"]["loan"]["loan_id"] == loan
