"""Alerts: who sees one, its life from open to resolved, rules refused naming their fields,
PAR30 as the regulator defines it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from notification_service.domain import alerts as a
from notification_service.domain.alerts import AlertStatus, Rule, Trigger
from shared.errors import IllegalState, ValidationError
from shared.permissions import Principal, Role

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rule(**changes: object) -> Rule:
    values: dict[str, object] = {
        "id": "r1",
        "institution_id": "inst_1",
        "name": "30 days late",
        "trigger": Trigger.DAYS_PAST_DUE,
        "days": 30,
        "roles": ("branch_manager",),
    }
    values.update(changes)
    return Rule(**values)  # type: ignore[arg-type]


def alert(branch: str = "br_1", **rule_changes: object) -> a.Alert:
    return a.raised(
        rule(**rule_changes),
        branch_id=branch,
        title="Loan 30 days past due",
        detail="",
        subject_type="loan",
        subject_id="loan_1",
        occurrence="2026-01-31",
        now=NOW,
    )


def who(role: Role, branch: str | None = None, institution: str = "inst_1") -> Principal:
    return Principal("usr_1", role, institution, branch, "ses_1")


def test_an_alert_is_seen_by_its_roles_in_its_branch_and_by_admins() -> None:
    x = alert()
    assert x.visible_to(who(Role.BRANCH_MANAGER, "br_1"))
    assert not x.visible_to(who(Role.BRANCH_MANAGER, "br_2"))
    assert not x.visible_to(who(Role.AGENT, "br_1"))
    assert x.visible_to(who(Role.ADMIN))
    assert not x.visible_to(who(Role.ADMIN, institution="inst_2"))
    assert not x.visible_to(who(Role.RISK_OFFICER))


def test_an_alert_goes_open_acknowledged_resolved_with_its_history() -> None:
    x = alert().assign("usr_9", "usr_1", NOW, "yours").acknowledge("usr_9", NOW)
    assert x.status is AlertStatus.ACKNOWLEDGED and x.assignee_id == "usr_9"
    done = x.resolve("usr_9", NOW, "paid")
    assert [s.action for s in done.history] == ["raised", "assigned", "acknowledged", "resolved"]
    assert done.version == 4
    with pytest.raises(IllegalState):
        done.resolve("usr_9", NOW)
    with pytest.raises(IllegalState):
        done.assign("usr_2", "usr_1", NOW)
    with pytest.raises(IllegalState):
        x.acknowledge("usr_9", NOW)


def test_the_same_condition_raises_the_same_alert_a_new_spell_another() -> None:
    first = a.alert_id("r1", "loan", "loan_1", "2026-01-31")
    assert first == a.alert_id("r1", "loan", "loan_1", "2026-01-31")
    assert first != a.alert_id("r1", "loan", "loan_1", "2026-04-30")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"days": 0}, "days"),
        ({"trigger": Trigger.BRANCH_PAR30, "ratio": "5%"}, "ratio"),
        ({"trigger": Trigger.BRANCH_PAR30, "ratio": "1.5"}, "ratio"),
        ({"trigger": Trigger.SUSPENSE_AGE, "hours": 0}, "hours"),
        ({"trigger": Trigger.LARGE_DISBURSEMENT}, "amount"),
        ({"roles": ("cashier",)}, "roles[0]"),
        ({"channels": ("sms",)}, "channels[0]"),
        ({"name": " "}, "name"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        rule(**changes).checked()
    assert field in [f for f, _ in raised.value.field_errors]


def test_par30_counts_principal_over_thirty_days_late() -> None:
    assert a.par30([]) == 0
    assert a.par30([(Decimal("600"), 31), (Decimal("400"), 30)]) == Decimal("0.6000")
    assert a.par30([(Decimal("1"), 0), (Decimal("2"), 29)]) == 0
