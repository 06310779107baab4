"""The notification routes of the gateway over fake notification_service stubs: each request
checked as the contract says (422 naming the field), sent typed, and each answer written as
API.md says (enum words, decimal strings, ISO dates, RFC 3339 timestamps, null for unset)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, money_pb2

from kopa.notification.v1 import notification_pb2 as pb
from kopa.user.v1 import user_pb2 as user_v1
from kopa.user.v2 import user_pb2
from shared.errors import ValidationError
from shared.permissions import Principal, Role
from tests.support.gateway_app import FakeStub, failed_call, gateway_app

pytestmark = pytest.mark.unit

ADMIN = Principal("usr_admin", Role.ADMIN, "inst_1", None, "ses_1")


def at(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def client(**stubs: FakeStub) -> TestClient:
    return TestClient(gateway_app(ADMIN, **stubs), raise_server_exceptions=True)


def fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in answer.json()["errors"]]


# --- requests refused naming the field ---------------------------------------------------------

SCHEDULE = {
    "time_zone": "Africa/Nairobi",
    "close_of_business_time": "18:00",
    "reminder_days_before": 2,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"close_of_business_time": "25:00"}, "close_of_business_time"),
        ({"close_of_business_time": "6pm"}, "close_of_business_time"),
        ({"reminder_days_before": -1}, "reminder_days_before"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"quiet_hours_start": "21:60"}, "quiet_hours_start"),
        ({"default_language": "fr"}, "default_language"),
    ],
)
def test_a_bad_schedule_is_422_naming_the_field(change: dict[str, Any], field: str) -> None:
    schedule = FakeStub()
    answer = client(schedule=schedule).put(
        "/v1/institutions/inst_1/schedule", json=SCHEDULE | change
    )
    assert fields(answer) == [field]
    assert not schedule.requests


RULE = {"name": "PAR30 above 5%", "trigger": "branch_par30", "ratio": "0.05"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": "full_moon"}, "trigger"),
        ({"ratio": "five percent"}, "ratio"),
        ({"ratio": 0.05}, "ratio"),
        ({"ratio": "-0.05"}, "ratio"),
        ({"trigger": "large_disbursement", "amount": "-100"}, "amount"),
        ({"trigger": "large_disbursement", "amount": 100}, "amount"),
        ({"roles": ["janitor"]}, "roles[0]"),
        ({"channels": ["sms"]}, "channels[0]"),
        ({"days": -3}, "days"),
    ],
)
def test_a_bad_alert_rule_is_422_naming_the_field(change: dict[str, Any], field: str) -> None:
    alerts = FakeStub()
    answer = client(alerts=alerts).post("/v1/alert-rules", json=RULE | change)
    assert fields(answer) == [field]
    assert not alerts.requests


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/notification-templates/birthday/sms/en", {"body": "Hi"}, "kind"),
        ("/v1/notification-templates/loan_approved/fax/en", {"body": "Hi"}, "channel"),
        ("/v1/notification-templates/loan_approved/sms/fr", {"body": "Hi"}, "language"),
        ("/v1/notification-templates/loan_approved/sms/en", {"body": ""}, "body"),
        ("/v1/notification-templates/loan_approved/sms/en", {}, "body"),
    ],
)
def test_a_bad_template_request_is_422_naming_the_field(
    path: str, body: dict[str, Any], field: str
) -> None:
    assert fields(client(notifications=FakeStub()).put(path, json=body)) == [field]


def test_a_template_the_service_cannot_render_is_422_naming_body_with_the_line() -> None:
    refusal = ValidationError(
        "body: line 2: unexpected '}'",
        field_errors=[("body", "line 2: unexpected '}'")],
        reason="TEMPLATE_INVALID",
    )
    notifications = FakeStub(PutTemplate=failed_call(refusal))
    answer = client(notifications=notifications).put(
        "/v1/notification-templates/installment_due/sms/sw",
        json={"body": "Habari {{ first_name }},\n{{ amount_due }}}"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "body", "message": "line 2: unexpected '}'"}]
    sent = notifications.requests["PutTemplate"][0].template
    assert (sent.kind, sent.channel, sent.language) == (
        pb.TEMPLATE_KIND_INSTALLMENT_DUE,
        pb.CHANNEL_SMS,
        "sw",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://erp.example/hooks", "event_types": ["loan.disbursed"]}, "url"),
        ({"url": "erp.example/hooks", "event_types": ["loan.disbursed"]}, "url"),
        ({"url": "https://erp.example/hooks", "event_types": ["loan.eaten"]}, "event_types[0]"),
        ({"url": "https://erp.example/hooks", "event_types": []}, "event_types"),
    ],
)
def test_a_bad_webhook_is_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    assert fields(client(webhooks=FakeStub()).post("/v1/webhooks", json=body)) == [field]


def test_a_url_the_service_refuses_is_422_naming_url() -> None:
    refusal = ValidationError.of("url", "resolves to a private address (10.0.0.7)")
    answer = client(webhooks=FakeStub(CreateWebhookEndpoint=failed_call(refusal))).post(
        "/v1/webhooks", json={"url": "https://erp.internal/hooks", "event_types": ["loan.closed"]}
    )
    assert fields(answer) == ["url"]


def test_bad_preferences_are_422_naming_the_field() -> None:
    answer = client(notifications=FakeStub()).put(
        "/v1/borrowers/bor_1/notification-preferences",
        json={"sms": "yes", "email": True, "email_address": "not an address", "language": "de"},
    )
    assert sorted(fields(answer)) == ["email_address", "language", "sms"]


# --- answers as the contract writes them --------------------------------------------------------

NOTIFICATION = pb.Notification(
    id="ntf_1",
    institution_id="inst_1",
    branch_id="br_a",
    borrower_id="bor_1",
    loan_id="loan_1",
    channel=pb.CHANNEL_SMS,
    recipient="+254712345678",
    template=pb.TEMPLATE_KIND_REPAYMENT_RECEIVED,
    language="en",
    text="Asante Achieng! We received KES 1,040.26. Balance: KES 5,201.30.",
    status=pb.MESSAGE_STATUS_DELIVERED,
    attempts=1,
    provider_id="ntf_1",
    event_id="evt_1",
    create_time=at("2026-03-31T09:30:01.120Z"),
    send_time=at("2026-03-31T09:30:01.480Z"),
    delivery_time=at("2026-03-31T09:30:04Z"),
)


def test_messages_are_listed_as_the_contract_writes_them() -> None:
    queued = pb.Notification(
        id="ntf_2",
        branch_id="br_a",
        borrower_id="bor_1",
        channel=pb.CHANNEL_EMAIL,
        recipient="achieng@example.org",
        template=pb.TEMPLATE_KIND_INSTALLMENT_DUE,
        language="sw",
        subject="Kumbusho",
        text="Habari Achieng",
        status=pb.MESSAGE_STATUS_QUEUED,
        event_id="evt_2",
        create_time=at("2026-03-31T21:15:00Z"),
        next_attempt_time=at("2026-04-01T04:00:00Z"),
    )
    notifications = FakeStub(
        ListNotifications=pb.ListNotificationsResponse(
            notifications=[NOTIFICATION, queued], next_page_token="p2"
        )
    )
    answer = client(notifications=notifications).get(
        "/v1/notifications", params={"borrower_id": "bor_1", "page_size": 2}
    )
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next_page_token"] == "p2"
    assert page["items"][0] == {
        "id": "ntf_1",
        "channel": "sms",
        "recipient": "+254712345678",
        "template": "repayment_received",
        "status": "delivered",
        "text": "Asante Achieng! We received KES 1,040.26. Balance: KES 5,201.30.",
        "create_time": "2026-03-31T09:30:01.120Z",
        "borrower_id": "bor_1",
        "loan_id": "loan_1",
        "branch_id": "br_a",
        "language": "en",
        "subject": None,
        "attempts": 1,
        "provider_id": "ntf_1",
        "failure_reason": None,
        "event_id": "evt_1",
        "send_time": "2026-03-31T09:30:01.480Z",
        "delivery_time": "2026-03-31T09:30:04Z",
        "next_attempt_time": None,
    }
    second = page["items"][1]
    assert (second["channel"], second["status"], second["loan_id"], second["subject"]) == (
        "email",
        "queued",
        None,
        "Kumbusho",
    )
    assert second["next_attempt_time"] == "2026-04-01T04:00:00Z"
    sent = notifications.requests["ListNotifications"][0]
    assert (sent.borrower_id, sent.loan_id, sent.page_size, sent.page_token) == ("bor_1", "", 2, "")


def test_a_template_and_its_default() -> None:
    saved = pb.Template(
        kind=pb.TEMPLATE_KIND_LOAN_APPROVED,
        channel=pb.CHANNEL_EMAIL,
        language="en",
        subject="Your loan is approved",
        body="Dear {{ first_name }}, your loan {{ loan_id }} is approved.",
        variables=["first_name", "loan_id", "principal"],
        update_time=at("2026-03-31T09:30:00Z"),
        updated_by="usr_admin",
    )
    default = pb.Template(
        kind=pb.TEMPLATE_KIND_LOAN_APPROVED,
        channel=pb.CHANNEL_EMAIL,
        language="en",
        subject="Loan approved",
        body="Hello {{ first_name }}",
        default=True,
        variables=["first_name", "loan_id", "principal"],
    )
    notifications = FakeStub(
        PutTemplate=pb.PutTemplateResponse(template=saved),
        DeleteTemplate=pb.DeleteTemplateResponse(template=default),
    )
    http = client(notifications=notifications)
    path = "/v1/notification-templates/loan_approved/email/en"
    put = http.put(path, json={"subject": saved.subject, "body": saved.body})
    assert put.json() == {
        "kind": "loan_approved",
        "channel": "email",
        "language": "en",
        "subject": "Your loan is approved",
        "body": "Dear {{ first_name }}, your loan {{ loan_id }} is approved.",
        "default": False,
        "variables": ["first_name", "loan_id", "principal"],
        "update_time": "2026-03-31T09:30:00Z",
        "updated_by": "usr_admin",
    }
    reverted = http.delete(path)
    assert reverted.status_code == 200
    assert reverted.json()["default"] is True
    assert reverted.json()["update_time"] is None and reverted.json()["updated_by"] is None
    sent = notifications.requests["DeleteTemplate"][0]
    assert (sent.kind, sent.channel, sent.language) == (
        pb.TEMPLATE_KIND_LOAN_APPROVED,
        pb.CHANNEL_EMAIL,
        "en",
    )


def test_preferences_travel_with_the_borrower_of_the_path() -> None:
    def stored(request: pb.UpdateBorrowerPreferencesRequest) -> Any:
        answer = pb.BorrowerPreferences()
        answer.CopyFrom(request.preferences)
        answer.update_time.FromJsonString("2026-03-31T09:30:00Z")
        answer.updated_by = "usr_admin"
        return pb.UpdateBorrowerPreferencesResponse(preferences=answer)

    notifications = FakeStub(UpdateBorrowerPreferences=stored)
    answer = client(notifications=notifications).put(
        "/v1/borrowers/bor_1/notification-preferences",
        json={"sms": True, "email": False, "language": "sw"},
    )
    assert answer.json() == {
        "borrower_id": "bor_1",
        "sms": True,
        "email": False,
        "email_address": None,
        "language": "sw",
        "opted_out": False,
        "update_time": "2026-03-31T09:30:00Z",
        "updated_by": "usr_admin",
    }


ENDPOINT = pb.WebhookEndpoint(
    id="whe_1",
    institution_id="inst_1",
    url="https://erp.umoja.example/kopa/webhooks",
    event_types=["loan.disbursed", "payment.posted"],
    status=pb.WEBHOOK_ENDPOINT_STATUS_ENABLED,
    create_time=at("2026-03-31T09:30:00Z"),
    created_by="usr_admin",
)


def test_the_secret_is_shown_on_creation_only() -> None:
    created = pb.WebhookEndpoint()
    created.CopyFrom(ENDPOINT)
    created.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    webhooks = FakeStub(
        CreateWebhookEndpoint=pb.CreateWebhookEndpointResponse(endpoint=created),
        GetWebhookEndpoint=pb.GetWebhookEndpointResponse(endpoint=created),
    )
    http = client(webhooks=webhooks)
    answer = http.post(
        "/v1/webhooks",
        json={"url": ENDPOINT.url, "event_types": ["loan.disbursed", "payment.posted"]},
        headers={"Idempotency-Key": "k-1"},
    )
    assert answer.status_code == 201
    assert answer.json() == {
        "id": "whe_1",
        "url": "https://erp.umoja.example/kopa/webhooks",
        "event_types": ["loan.disbursed", "payment.posted"],
        "status": "enabled",
        "description": None,
        "disabled_reason": None,
        "create_time": "2026-03-31T09:30:00Z",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    assert webhooks.requests["CreateWebhookEndpoint"][0].request_id == "k-1"
    assert "secret" not in http.get("/v1/webhooks/whe_1").json()


def test_deliveries_with_their_attempts() -> None:
    delivery = pb.WebhookDelivery(
        id="msg_1",
        endpoint_id="whe_1",
        event_type="loan.disbursed",
        event_id="evt_1",
        status=pb.DELIVERY_STATUS_PENDING,
        attempts=2,
        response_status=503,
        create_time=at("2026-03-31T09:30:00Z"),
        next_attempt_time=at("2026-03-31T09:35:05Z"),
        attempt_log=[
            pb.DeliveryAttempt(
                time=at("2026-03-31T09:30:00Z"), error="connection refused", duration_ms=3
            ),
            pb.DeliveryAttempt(
                time=at("2026-03-31T09:30:05Z"), response_status=503, duration_ms=41
            ),
        ],
    )
    webhooks = FakeStub(
        ListWebhookDeliveries=pb.ListWebhookDeliveriesResponse(deliveries=[delivery])
    )
    answer = client(webhooks=webhooks).get(
        "/v1/webhooks/whe_1/deliveries", params={"status": "pending"}
    )
    assert answer.json() == {
        "items": [
            {
                "id": "msg_1",
                "endpoint_id": "whe_1",
                "event_type": "loan.disbursed",
                "event_id": "evt_1",
                "status": "pending",
                "attempts": 2,
                "response_status": 503,
                "create_time": "2026-03-31T09:30:00Z",
                "next_attempt_time": "2026-03-31T09:35:05Z",
                "attempt_log": [
                    {
                        "time": "2026-03-31T09:30:00Z",
                        "response_status": None,
                        "error": "connection refused",
                        "duration_ms": 3,
                    },
                    {
                        "time": "2026-03-31T09:30:05Z",
                        "response_status": 503,
                        "error": None,
                        "duration_ms": 41,
                    },
                ],
            }
        ],
        "next_page_token": "",
    }
    sent = webhooks.requests["ListWebhookDeliveries"][0]
    assert (sent.endpoint_id, sent.status) == ("whe_1", pb.DELIVERY_STATUS_PENDING)


def test_an_alert_rules_amount_travels_in_the_institutions_currency() -> None:
    def stored(request: pb.CreateAlertRuleRequest) -> Any:
        rule = pb.AlertRule()
        rule.CopyFrom(request.rule)
        rule.id, rule.created_by = "alr_1", "usr_admin"
        rule.create_time.FromJsonString("2026-03-31T09:30:00Z")
        return pb.CreateAlertRuleResponse(rule=rule)

    alerts = FakeStub(CreateAlertRule=stored)
    user = FakeStub(
        GetInstitution=user_pb2.GetInstitutionResponse(
            institution=user_v1.Institution(id="inst_1", name="Umoja", currency="KES")
        )
    )
    answer = client(alerts=alerts, user=user).post(
        "/v1/alert-rules",
        json={
            "name": "Large disbursement",
            "trigger": "large_disbursement",
            "amount": "250000.5",
            "roles": ["branch_manager"],
            "channels": ["email", "webhook"],
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "id": "alr_1",
        "name": "Large disbursement",
        "trigger": "large_disbursement",
        "days": None,
        "ratio": None,
        "hours": None,
        "amount": "250000.50",
        "roles": ["branch_manager"],
        "branch_ids": [],
        "channels": ["email", "webhook"],
        "enabled": True,
        "create_time": "2026-03-31T09:30:00Z",
        "created_by": "usr_admin",
    }
    sent = alerts.requests["CreateAlertRule"][0].rule
    assert sent.amount == money_pb2.Money(currency_code="KES", units=250000, nanos=500_000_000)
    assert user.requests["GetInstitution"][0].institution_id == "inst_1"
    assert list(sent.channels) == [pb.CHANNEL_EMAIL, pb.CHANNEL_WEBHOOK]
    assert sent.trigger == pb.ALERT_TRIGGER_LARGE_DISBURSEMENT


def test_an_alert_with_its_history() -> None:
    alert = pb.Alert(
        id="alt_1",
        institution_id="inst_1",
        branch_id="br_a",
        rule_id="alr_1",
        trigger=pb.ALERT_TRIGGER_DAYS_PAST_DUE,
        title="Loan loan_1 is 30 days past due",
        detail="Achieng Odhiambo owes KES 2,080.52",
        subject_type="loan",
        subject_id="loan_1",
        status=pb.ALERT_STATUS_ACKNOWLEDGED,
        assignee_id="usr_agent",
        roles=["branch_manager"],
        history=[
            pb.AlertStep(action="raised", time=at("2026-03-31T18:00:02Z")),
            pb.AlertStep(
                action="assigned",
                actor_id="usr_admin",
                time=at("2026-04-01T08:10:00Z"),
                note="visit her",
                assignee_id="usr_agent",
            ),
        ],
        create_time=at("2026-03-31T18:00:02Z"),
        update_time=at("2026-04-01T08:10:00Z"),
    )
    alerts = FakeStub(AcknowledgeAlert=pb.AcknowledgeAlertResponse(alert=alert))
    answer = client(alerts=alerts).post("/v1/alerts/alt_1/acknowledge")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": "alt_1",
        "branch_id": "br_a",
        "rule_id": "alr_1",
        "trigger": "days_past_due",
        "title": "Loan loan_1 is 30 days past due",
        "detail": "Achieng Odhiambo owes KES 2,080.52",
        "subject_type": "loan",
        "subject_id": "loan_1",
        "status": "acknowledged",
        "assignee_id": "usr_agent",
        "roles": ["branch_manager"],
        "history": [
            {
                "action": "raised",
                "actor_id": None,
                "time": "2026-03-31T18:00:02Z",
                "note": None,
                "assignee_id": None,
            },
            {
                "action": "assigned",
                "actor_id": "usr_admin",
                "time": "2026-04-01T08:10:00Z",
                "note": "visit her",
                "assignee_id": "usr_agent",
            },
        ],
        "create_time": "2026-03-31T18:00:02Z",
        "update_time": "2026-04-01T08:10:00Z",
    }
    assert alerts.requests["AcknowledgeAlert"][0] == pb.AcknowledgeAlertRequest(alert_id="alt_1")


def test_the_schedule_shows_its_last_and_next_run_flat() -> None:
    def stored(request: pb.UpdateScheduleRequest) -> Any:
        schedule = pb.Schedule()
        schedule.CopyFrom(request.schedule)
        schedule.last_run.CopyFrom(
            pb.ScheduleRun(
                business_date=date_pb2.Date(year=2026, month=3, day=30),
                time=at("2026-03-30T15:00:04.512Z"),
            )
        )
        schedule.next_run.CopyFrom(
            pb.ScheduleRun(
                business_date=date_pb2.Date(year=2026, month=3, day=31),
                time=at("2026-03-31T15:00:00Z"),
            )
        )
        return pb.UpdateScheduleResponse(schedule=schedule)

    schedule = FakeStub(
        UpdateSchedule=stored,
        GetSchedule=pb.GetScheduleResponse(
            schedule=pb.Schedule(
                institution_id="inst_1",
                time_zone="UTC",
                close_of_business_time="22:00",
                default_language="en",
            )
        ),
    )
    http = client(schedule=schedule)
    answer = http.put(
        "/v1/institutions/inst_1/schedule",
        json=SCHEDULE | {"quiet_hours_start": "20:00", "quiet_hours_end": "07:00"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "institution_id": "inst_1",
        "time_zone": "Africa/Nairobi",
        "close_of_business_time": "18:00",
        "reminder_days_before": 2,
        "quiet_hours_start": "20:00",
        "quiet_hours_end": "07:00",
        "default_language": "en",
        "enabled": True,
        "last_run": "2026-03-30T15:00:04.512Z",
        "last_business_date": "2026-03-30",
        "next_run": "2026-03-31T15:00:00Z",
        "next_business_date": "2026-03-31",
        "update_time": None,
    }
    sent = schedule.requests["UpdateSchedule"][0].schedule
    assert (sent.institution_id, sent.enabled, sent.default_language) == ("inst_1", True, "en")
    never_run = http.get("/v1/institutions/inst_1/schedule").json()
    assert [
        never_run[k] for k in ("last_run", "last_business_date", "next_run", "next_business_date")
    ] == [None] * 4
    assert never_run["enabled"] is False and never_run["quiet_hours_start"] is None
