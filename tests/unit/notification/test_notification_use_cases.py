"""The use cases through fakes: what each event makes, consent and quiet hours, the same
event twice, reminders after a close, alerts raised once, webhooks fanned out once, the clock
closing days through the lease."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from notification_service.domain.alerts import AlertStatus, Rule, Trigger
from notification_service.domain.facts import Event, Installment, LoanFact, PaymentFact
from notification_service.domain.messages import Status
from notification_service.domain.schedule import Schedule
from notification_service.domain.webhooks import Endpoint, EndpointStatus
from notification_service.service_layer.ports import (
    BorrowerNotFound,
    Person,
    Preferences,
    StaffMember,
)
from shared import context
from shared.errors import NotFound, Unauthenticated, ValidationError
from shared.permissions import PermissionDenied, Principal, Role
from tests.support.notification_fakes import NotificationWorld

pytestmark = pytest.mark.unit

INST = "inst_1"
BORROWER = "bor_1"


def act_as(role: Role, branch: str | None = None, user: str = "usr_1") -> None:
    context.set_current(
        context.RequestContext(principal=Principal(user, role, INST, branch, "ses_1"))
    )


def world(**schedule: object) -> NotificationWorld:
    w = NotificationWorld()
    w.directory.people[BORROWER] = Person(BORROWER, "br_1", "Achieng", "Otieno", "+254712345678")
    settings: dict[str, object] = {"start_date": date(2026, 1, 1), "version": 1, **schedule}
    w.schedules.held[INST] = replace(
        Schedule(INST, quiet_hours_start="", quiet_hours_end=""),
        **settings,  # type: ignore[arg-type]
    )
    return w


def fact(
    kind: str,
    version: int,
    *,
    event_id: str = "",
    dpd: int = 0,
    oldest: date | None = None,
    installments: tuple[Installment, ...] = (),
    **details: object,
) -> LoanFact:
    return LoanFact(
        event=Event(
            id=event_id or f"evt_{kind}_{version}",
            type=kind,
            institution_id=INST,
            branch_id="br_1",
            aggregate_id="loan_1",
            occurred_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
            payload=lambda: {"loan": {"loan_id": "loan_1"}},
        ),
        loan_id="loan_1",
        borrower_id=BORROWER,
        currency="KES",
        status="active",
        version=version,
        outstanding=Decimal("10600.00"),
        outstanding_principal=Decimal("10000.00"),
        days_past_due=dpd,
        oldest_unpaid_due_date=oldest,
        installment_count=3,
        changed_installments=installments,
        details=dict(details),
    )


SCHEDULE = (
    Installment(1, date(2026, 3, 31), Decimal("3533.33"), Decimal(0)),
    Installment(2, date(2026, 4, 30), Decimal("3533.33"), Decimal(0)),
    Installment(3, date(2026, 5, 31), Decimal("3533.34"), Decimal(0)),
)


async def test_a_disbursement_sends_the_borrower_an_sms_with_the_first_installment() -> None:
    w = world()
    await w.intake.loan_event(
        fact(
            "loan.disbursed",
            3,
            installments=SCHEDULE,
            principal=Decimal("10000"),
            disbursed_net=Decimal("9800"),
            disbursement_date=date(2026, 3, 1),
        )
    )
    [n] = w.notifications.held.values()
    assert n.channel == "sms" and n.recipient == "+254712345678" and n.status is Status.QUEUED
    assert "KES 10,000.00" in n.text and "KES 3,533.33" in n.text and "2026-03-31" in n.text
    await w.dispatcher.send_due()
    [sms] = w.sms.sent
    assert sms.text == n.text
    assert sms.delivery_report_url.startswith("http://gateway.test/v1/sms/delivery-reports?")
    assert w.notifications.held[n.id].status is Status.SENT


async def test_the_same_event_twice_makes_one_message_and_one_delivery() -> None:
    w = world()
    w.endpoints.held["whe_1"] = _endpoint()
    event = fact("loan.repayment_applied", 4, amount=Decimal("1000"), paid_on=date(2026, 3, 31))
    await w.intake.loan_event(event)
    await w.intake.loan_event(event)
    assert len(w.notifications.held) == 1
    assert len(w.deliveries.held) == 1


async def test_an_opted_out_borrower_gets_nothing_and_the_file_says_why() -> None:
    w = world()
    await w.preferences.put(Preferences(INST, BORROWER, opted_out=True))
    await w.intake.loan_event(fact("loan.approved", 2, approved_on=date(2026, 3, 1)))
    [n] = w.notifications.held.values()
    assert n.status is Status.SUPPRESSED and n.failure_reason == "opted_out"
    await w.dispatcher.send_due()
    assert w.sms.sent == []


async def test_email_goes_only_to_a_borrower_who_consented_to_it() -> None:
    w = world()
    await w.preferences.put(
        Preferences(INST, BORROWER, sms=False, email=True, email_address="a@example.org")
    )
    await w.intake.loan_event(fact("loan.rejected", 2, reason="income"))
    by_channel = {n.channel: n for n in w.notifications.held.values()}
    assert by_channel["sms"].status is Status.SUPPRESSED
    assert by_channel["sms"].failure_reason == "no_consent"
    assert by_channel["email"].status is Status.QUEUED and by_channel["email"].subject
    await w.dispatcher.send_due()
    assert [e.to for e in w.email.sent] == ["a@example.org"] and w.sms.sent == []


async def test_a_message_in_the_quiet_hours_waits_for_the_morning() -> None:
    w = world(quiet_hours_start="00:00", quiet_hours_end="23:59")
    await w.intake.loan_event(fact("loan.approved", 2))
    [n] = w.notifications.held.values()
    assert n.status is Status.QUEUED and n.next_attempt_time > n.create_time
    await w.dispatcher.send_due()
    assert w.sms.sent == []


async def test_swahili_for_a_borrower_who_chose_it() -> None:
    w = world()
    await w.preferences.put(Preferences(INST, BORROWER, language="sw"))
    await w.intake.loan_event(fact("loan.repayment_applied", 4, amount=Decimal("500")))
    [n] = w.notifications.held.values()
    assert n.language == "sw" and n.text.startswith("Mpendwa Achieng")


async def test_an_unknown_borrower_is_refused_for_the_dead_letter_queue() -> None:
    w = world()
    w.directory.people.clear()
    with pytest.raises(BorrowerNotFound):
        await w.intake.loan_event(fact("loan.approved", 2))


async def test_a_provider_outage_queues_then_sends_once() -> None:
    w = world()
    w.sms.down = True
    await w.intake.loan_event(fact("loan.approved", 2))
    await w.dispatcher.send_due()
    [n] = w.notifications.held.values()
    assert n.status is Status.QUEUED and n.attempts == 1 and "unavailable" in n.failure_reason
    w.sms.down = False
    w.notifications.held[n.id] = replace(n, next_attempt_time=n.create_time)
    await w.dispatcher.send_due()
    await w.dispatcher.send_due()
    assert len(w.sms.sent) == 1


async def test_reminders_go_out_after_the_close_for_what_falls_due_in_n_days() -> None:
    w = world(reminder_days_before=2)
    await w.intake.loan_event(fact("loan.disbursed", 3, installments=SCHEDULE))
    w.notifications.held.clear()
    made = await w.days.after_close(INST, date(2026, 3, 29))
    assert made == 1
    [n] = w.notifications.held.values()
    assert n.template == "installment_due" and "KES 3,533.33" in n.text
    assert await w.days.after_close(INST, date(2026, 3, 29)) == 0  # closed again: nothing new
    assert await w.days.after_close(INST, date(2026, 3, 30)) == 0  # nothing due on the 1st
    assert w.schedules.held[INST].last_business_date == date(2026, 3, 30)


async def test_a_late_event_does_not_roll_the_read_model_back() -> None:
    w = world()
    await w.intake.loan_event(fact("loan.disbursed", 5, installments=SCHEDULE))
    paid = replace(SCHEDULE[0], paid=SCHEDULE[0].due)
    await w.intake.loan_event(fact("loan.repayment_applied", 6, installments=(paid,)))
    await w.intake.loan_event(fact("loan.disbursed", 5, event_id="evt_again"))
    position = w.positions.held["loan_1"]
    assert position.version == 6 and position.installments[0].unpaid == 0


async def test_days_past_due_raise_one_alert_per_spell_seen_by_the_branch() -> None:
    w = world()
    w.rules.held["r1"] = Rule(
        "r1", INST, "30 days", Trigger.DAYS_PAST_DUE, days=30, roles=("branch_manager",)
    )
    spell = date(2026, 1, 31)
    await w.intake.loan_event(fact("loan.reclassified", 7, dpd=31, oldest=spell))
    await w.intake.loan_event(fact("loan.installment_overdue", 8, dpd=35, oldest=spell))
    [alert] = w.alerts.held.values()
    assert alert.branch_id == "br_1" and alert.subject_id == "loan_1"
    act_as(Role.BRANCH_MANAGER, "br_1")
    assert [a.id for a in (await w.alerting.page("open", "", "", 0, "")).items] == [alert.id]
    act_as(Role.BRANCH_MANAGER, "br_2")
    assert (await w.alerting.page("", "", "", 0, "")).items == []
    with pytest.raises(NotFound):
        await w.alerting.acknowledge(alert.id, "")


async def test_arrears_that_grow_without_events_are_judged_at_the_close() -> None:
    w = world()
    w.rules.held["r1"] = Rule("r1", INST, "7 days", Trigger.DAYS_PAST_DUE, days=7)
    await w.intake.loan_event(
        fact("loan.installment_overdue", 4, dpd=1, oldest=date(2026, 3, 31), installments=SCHEDULE)
    )
    assert w.alerts.held == {}
    await w.alerting.on_business_day_closed(INST, date(2026, 4, 7))
    [alert] = w.alerts.held.values()
    assert "7 days" in alert.title


async def test_an_alert_is_assigned_acknowledged_and_resolved_by_its_staff() -> None:
    w = world()
    w.directory.members = [StaffMember("usr_9", "m@example.org", "branch_manager", "br_1")]
    w.rules.held["r1"] = Rule(
        "r1",
        INST,
        "big",
        Trigger.LARGE_DISBURSEMENT,
        amount=Decimal("5000"),
        currency="KES",
        roles=("branch_manager",),
        channels=("email",),
    )
    await w.intake.loan_event(fact("loan.disbursed", 3, principal=Decimal("10000")))
    [alert] = w.alerts.held.values()
    act_as(Role.ADMIN)
    with pytest.raises(ValidationError):
        await w.alerting.assign(alert.id, "usr_unknown", "")
    await w.alerting.assign(alert.id, "usr_9", "please call")
    await w.alerting.acknowledge(alert.id, "")
    done = await w.alerting.resolve(alert.id, "visited")
    assert done.status is AlertStatus.RESOLVED
    assert [s.action for s in done.history] == ["raised", "assigned", "acknowledged", "resolved"]
    # The rule's email channel: the admins (and the rule's roles) get it, queued like any
    # message.
    emails = [n for n in w.notifications.held.values() if n.staff_user_id]
    assert [n.recipient for n in emails] == ["m@example.org"]
    await w.dispatcher.send_due()
    assert [e.subject for e in w.email.sent] == ["Kopa alert: Large disbursement: KES 10,000.00"]
    assert {i.event for i in w.live.items} >= {"alert", "notification"}


async def test_a_failed_endpoint_is_disabled_with_an_alert_to_admins() -> None:
    w = world()
    w.webhooks.schedule = (timedelta(0), timedelta(0))
    w.endpoints.held["whe_1"] = _endpoint()
    w.sender.answer = 500
    await w.intake.loan_event(fact("loan.repayment_applied", 4, amount=Decimal("1")))
    for _ in range(3):
        await w.webhooks.deliver_due()
    assert w.endpoints.held["whe_1"].status.value == "disabled"
    [alert] = w.alerts.held.values()
    assert alert.trigger is Trigger.WEBHOOK_FAILED and alert.roles == ("admin",)
    [delivery] = w.deliveries.held.values()
    assert delivery.status.value == "failed" and delivery.attempts == 2


async def test_the_clock_closes_due_days_once_and_only_with_the_lease() -> None:
    w = world(close_of_business_time="18:00", start_date=date(2026, 3, 1))
    now = datetime(2026, 3, 3, 19, tzinfo=UTC)
    w.leases.held["clock"] = ("another replica", now + timedelta(minutes=1))
    assert await w.days.tick(now) == []
    w.leases.held.clear()
    assert await w.days.tick(now) == [
        (INST, date(2026, 3, 1)),
        (INST, date(2026, 3, 2)),
        (INST, date(2026, 3, 3)),
    ]
    assert await w.days.tick(now) == []
    assert w.books.closed == [(INST, date(2026, 3, d)) for d in (1, 2, 3)]


async def test_a_template_saved_is_used_and_a_bad_one_is_refused() -> None:
    w = world()
    act_as(Role.ADMIN)
    with pytest.raises(ValidationError) as raised:
        await w.book.put("loan_approved", "sms", "en", "", "Hi {{ nickname }}")
    assert raised.value.field_errors[0][0] == "body"
    await w.book.put("loan_approved", "sms", "en", "", "Karibu {{ first_name }}!")
    await w.intake.loan_event(fact("loan.approved", 2))
    [n] = w.notifications.held.values()
    assert n.text == "Karibu Achieng!"
    act_as(Role.AGENT, "br_1")
    with pytest.raises(PermissionDenied):
        await w.book.put("loan_approved", "sms", "en", "", "x")


def _endpoint() -> Endpoint:
    return Endpoint(
        id="whe_1",
        institution_id=INST,
        url="https://erp.example.org/hooks",
        event_types=("loan.repayment_applied",),
        description="",
        secret="whsec_dGVzdA==",
        status=EndpointStatus.ENABLED,
        create_time=datetime(2026, 3, 1, tzinfo=UTC),
    )


async def test_a_branch_over_its_par30_level_is_alerted_once_per_business_day() -> None:
    w = world()
    w.rules.held["r1"] = Rule("r1", INST, "PAR30", Trigger.BRANCH_PAR30, ratio="0.25")
    late = replace(SCHEDULE[0], due_date=date(2026, 1, 31))
    await w.intake.loan_event(
        fact(
            "loan.installment_overdue",
            4,
            dpd=1,
            oldest=date(2026, 1, 31),
            installments=(late, *SCHEDULE[1:]),
        )
    )
    await w.alerting.on_business_day_closed(INST, date(2026, 2, 15))  # 15 days: under 30
    assert w.alerts.held == {}
    await w.alerting.on_business_day_closed(INST, date(2026, 3, 5))
    await w.alerting.on_business_day_closed(INST, date(2026, 3, 5))
    [alert] = w.alerts.held.values()
    assert alert.subject_type == "branch" and alert.subject_id == "br_1"
    assert "100.00%" in alert.title


async def test_a_payment_left_in_suspense_is_alerted_after_the_rule_s_hours() -> None:

    w = world()
    w.rules.held["r1"] = Rule("r1", INST, "suspense", Trigger.SUSPENSE_AGE, hours=4)
    event = Event(
        id="evt_p1",
        type="payment.unmatched",
        institution_id=INST,
        branch_id="",
        aggregate_id="pay_1",
        occurred_at=datetime.now(UTC) - timedelta(hours=3),
        payload=dict,
    )
    await w.intake.payment_event(PaymentFact(event, "pay_1", "", Decimal("700"), "KES"))
    await w.alerting.check_suspense()
    assert w.alerts.held == {}
    w.suspense.held["pay_1"] = replace(
        w.suspense.held["pay_1"], received_at=datetime.now(UTC) - timedelta(hours=5)
    )
    await w.alerting.check_suspense()
    [alert] = w.alerts.held.values()
    assert alert.subject_id == "pay_1" and "KES 700.00" in alert.detail
    assigned = replace(event, id="evt_p2", type="payment.assigned")
    await w.intake.payment_event(PaymentFact(assigned, "pay_1", "loan_1", Decimal("700"), "KES"))
    assert w.suspense.held == {}


async def test_a_delivery_report_before_the_send_is_recorded_keeps_both() -> None:
    w = world()

    class ReportsAtOnce(type(w.sms)):  # type: ignore[misc]
        async def send(self, sms: Any) -> str:
            # Kannel can call the delivery-report address before its answer reaches us.
            token = w.dispatcher.reports.token(sms.notification_id)
            await w.dispatcher.report(sms.notification_id, token, 1, "ACK")
            return str(await super().send(sms))

    w.dispatcher.sms = ReportsAtOnce()
    await w.intake.loan_event(fact("loan.approved", 2))
    await w.dispatcher.send_due()
    [n] = w.notifications.held.values()
    assert n.status is Status.DELIVERED
    assert n.send_time is not None and n.provider_id == n.id and n.attempts == 1


@pytest.mark.parametrize("token", ["", "wrong", "ü" * 32, "\u202e" + "0" * 31])
async def test_a_forged_delivery_report_is_unauthenticated_whatever_its_token(token: str) -> None:
    w = world()
    await w.intake.loan_event(fact("loan.approved", 2))
    [n] = w.notifications.held.values()
    with pytest.raises(Unauthenticated):
        await w.dispatcher.report(n.id, token, 1, "")
    assert w.notifications.held[n.id].status is Status.QUEUED
