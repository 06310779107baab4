"""The group aggregate: forming, members joining and leaving, officers, closing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.errors import IllegalState, ValidationError
from user_service.domain.groups import Group, GroupStatus, form, validate_center

pytestmark = pytest.mark.unit

TODAY = date(2026, 12, 7)


def _form(**data: object) -> Group:
    group = form(
        group_id="grp_1",
        institution_id="inst_1",
        branch_id="br_1",
        data={"name": "Tumaini", **data},
        today=TODAY,
        create_time=datetime(2026, 12, 7, tzinfo=UTC),
    )
    group.changes.clear()
    return group


def _fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {f for f, _ in exc.value.field_errors}


def test_an_active_group_needs_two_to_fifty_members() -> None:
    with pytest.raises(ValidationError) as one:
        _form(member_ids=["b1"])
    assert _fields(one) == {"member_ids"}
    with pytest.raises(ValidationError) as many:
        _form(member_ids=[f"b{i}" for i in range(51)])
    assert _fields(many) == {"member_ids"}
    assert _form(member_ids=["b1", "b2", "b1"]).member_ids == ["b1", "b2"]


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as exc:
        _form(name=" ", member_ids=["b1", "b2"], leader_id="b9", meeting_day="someday")
    assert _fields(exc) == {"name", "leader_id", "meeting_day"}


def test_a_forming_group_starts_short_and_activates_when_complete() -> None:
    group = _form(status="forming", member_ids=["b1"])
    assert group.status is GroupStatus.FORMING
    with pytest.raises(ValidationError):
        group.activate()
    group.add_member("b2", TODAY, "neighbour", TODAY)
    group.activate()
    assert group.status is GroupStatus.ACTIVE
    assert [a for a, _ in group.changes] == ["member_added", "activated"]
    with pytest.raises(IllegalState):
        group.activate()


def test_a_member_joins_once_and_not_in_the_future() -> None:
    group = _form(member_ids=["b1", "b2"])
    with pytest.raises(ValidationError):
        group.add_member("b1", TODAY, "", TODAY)
    with pytest.raises(ValidationError) as exc:
        group.add_member("b3", date(2026, 12, 8), "", TODAY)
    assert _fields(exc) == {"joined_on"}
    group.add_member("b3", date(2026, 12, 1), "moved in", TODAY)
    assert group.member_ids == ["b1", "b2", "b3"]
    assert group.version == 2


def test_a_member_with_an_open_loan_cannot_leave() -> None:
    group = _form(member_ids=["b1", "b2", "b3"])
    with pytest.raises(IllegalState) as exc:
        group.remove_member("b3", TODAY, "moved away", TODAY, ["loan_7"])
    assert exc.value.reason == "MEMBER_HAS_OPEN_LOANS"
    assert "loan_7" in exc.value.message
    assert group.member_ids == ["b1", "b2", "b3"]


def test_a_leaving_officer_leaves_the_office_and_the_history_keeps_them() -> None:
    group = _form(member_ids=["b1", "b2", "b3"], treasurer_id="b3")
    group.remove_member("b3", TODAY, "moved away", TODAY, [])
    assert group.member_ids == ["b1", "b2"]
    assert group.treasurer_id == ""
    gone = group.members[2]
    assert (gone.borrower_id, gone.left_on, gone.leave_reason) == (
        "b3",
        TODAY,
        "moved away",
    )
    action, changes = group.changes[-1]
    assert action == "member_removed"
    assert changes["treasurer_id"] == ["b3", ""]


def test_leaving_needs_a_reason_a_member_and_a_sensible_date() -> None:
    group = _form(member_ids=["b1", "b2", "b3"])
    with pytest.raises(ValidationError) as no_reason:
        group.remove_member("b3", TODAY, " ", TODAY, [])
    assert _fields(no_reason) == {"reason"}
    with pytest.raises(ValidationError) as stranger:
        group.remove_member("b9", TODAY, "x", TODAY, [])
    assert _fields(stranger) == {"borrower_id"}
    with pytest.raises(ValidationError) as before_joining:
        group.remove_member("b3", date(2026, 1, 1), "x", TODAY, [])
    assert _fields(before_joining) == {"left_on"}


def test_an_active_group_keeps_its_minimum() -> None:
    group = _form(member_ids=["b1", "b2"])
    with pytest.raises(IllegalState) as exc:
        group.remove_member("b2", TODAY, "moved away", TODAY, [])
    assert exc.value.reason == "GROUP_TOO_SMALL"


def test_officers_must_be_current_members() -> None:
    group = _form(member_ids=["b1", "b2"])
    with pytest.raises(ValidationError) as exc:
        group.set_officers("b1", "b9", "")
    assert _fields(exc) == {"secretary_id"}
    group.set_officers("b1", "b2", "")
    assert (group.leader_id, group.secretary_id) == ("b1", "b2")
    group.set_officers("b1", "b2", "")  # nothing changed: no new version
    assert group.version == 2


def test_closing_waits_for_open_loans_then_lets_everyone_go() -> None:
    group = _form(member_ids=["b1", "b2"])
    with pytest.raises(IllegalState):
        group.close("merged", TODAY, {"b1": [], "b2": ["loan_1"]})
    with pytest.raises(ValidationError):
        group.close(" ", TODAY, {})
    group.close("merged with Umoja", TODAY, {"b1": [], "b2": []})
    assert group.status is GroupStatus.CLOSED
    assert group.member_ids == []
    assert all(m.left_on == TODAY for m in group.members)
    with pytest.raises(IllegalState):
        group.add_member("b3", TODAY, "", TODAY)


def test_a_centre_names_every_bad_field() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_center({"name": "", "meeting_day": "funday", "meeting_time": "25:00"})
    assert {f for f, _ in exc.value.field_errors} == {"name", "meeting_day", "meeting_time"}
    assert (
        validate_center({"name": " Soko ", "meeting_day": "Tuesday", "meeting_time": "09:30"})[
            "meeting_day"
        ]
        == "tuesday"
    )
