"""Who sees a live item on the console's event stream (shared.live): one rule per test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.live import StreamItem, publish, stream_channel
from shared.permissions import Principal, Role

pytestmark = pytest.mark.unit

INSTITUTION = "inst_1"


def staff(role: Role, branch_id: str | None = None) -> Principal:
    return Principal(
        user_id=f"usr_{role.value}",
        role=role,
        institution_id=INSTITUTION,
        branch_id=branch_id,
        session_id="ses_1",
    )


def alert(branch_id: str = "", roles: tuple[str, ...] = ()) -> StreamItem:
    return StreamItem(
        event="alert",
        id="alt_1",
        institution_id=INSTITUTION,
        permission="alerts:read",
        data={"id": "alt_1", "title": "Loan 30 days past due"},
        branch_id=branch_id,
        roles=roles,
    )


def notification(branch_id: str = "br_a") -> StreamItem:
    return StreamItem(
        event="notification",
        id="ntf_1",
        institution_id=INSTITUTION,
        permission="notifications:read",
        data={"id": "ntf_1", "status": "delivered"},
        branch_id=branch_id,
    )


def test_a_role_without_the_items_permission_does_not_see_it() -> None:
    # A risk officer reads alerts but not the messages sent to borrowers.
    assert not notification().visible_to(staff(Role.RISK_OFFICER))
    assert alert().visible_to(staff(Role.RISK_OFFICER))


def test_an_item_for_named_roles_is_only_theirs() -> None:
    for_managers = alert(roles=("branch_manager",))
    assert for_managers.visible_to(staff(Role.BRANCH_MANAGER, "br_a"))
    assert not for_managers.visible_to(staff(Role.AGENT, "br_a"))
    assert not for_managers.visible_to(staff(Role.RISK_OFFICER))


def test_an_item_naming_no_role_is_for_every_role_with_the_permission() -> None:
    for role in (Role.AGENT, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.AUDITOR):
        assert alert().visible_to(
            staff(role, "br_a" if role in (Role.AGENT, Role.BRANCH_MANAGER) else None)
        )


def test_an_admin_sees_an_item_for_other_roles() -> None:
    assert alert(branch_id="br_b", roles=("risk_officer",)).visible_to(staff(Role.ADMIN))


def test_an_agent_of_another_branch_does_not_see_it() -> None:
    assert notification("br_a").visible_to(staff(Role.AGENT, "br_a"))
    assert not notification("br_a").visible_to(staff(Role.AGENT, "br_b"))
    assert not alert(branch_id="br_a").visible_to(staff(Role.BRANCH_MANAGER, "br_b"))


def test_an_item_of_no_branch_reaches_branch_staff() -> None:
    assert alert(branch_id="").visible_to(staff(Role.AGENT, "br_b"))


def test_institution_wide_roles_see_every_branch() -> None:
    assert alert(branch_id="br_b").visible_to(staff(Role.RISK_OFFICER))
    assert notification("br_b").visible_to(staff(Role.AUDITOR))


def test_a_permission_this_version_does_not_know_is_held_by_nobody() -> None:
    unknown = StreamItem("alert", "alt_1", INSTITUTION, "alerts:teleport", {})
    assert not unknown.visible_to(staff(Role.ADMIN))


def test_a_user_enrolling_a_second_factor_sees_nothing() -> None:
    enrolling = Principal("usr_1", Role.ADMIN, INSTITUTION, None, "ses_1", True)
    assert not alert().visible_to(enrolling)


def test_an_item_reads_back_as_written() -> None:
    item = alert(branch_id="br_a", roles=("branch_manager", "risk_officer"))
    assert StreamItem.from_json(item.to_json()) == item
    assert json.loads(item.to_json()) == {
        "event": "alert",
        "id": "alt_1",
        "institution_id": INSTITUTION,
        "permission": "alerts:read",
        "data": {"id": "alt_1", "title": "Loan 30 days past due"},
        "branch_id": "br_a",
        "roles": ["branch_manager", "risk_officer"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"event": "gossip", "id": "x", "permission": "alerts:read", "data": {}}',
        '{"event": "alert", "id": 7, "permission": "alerts:read", "data": {}}',
        '{"event": "alert", "id": "x", "permission": "alerts:read", "data": []}',
        '{"event": "alert", "id": "x", "permission": "alerts:read", "data": {}, "roles": "admin"}',
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        StreamItem.from_json(text)


async def test_publishing_sends_the_item_on_its_institutions_channel() -> None:
    sent: list[tuple[str, str]] = []

    class Redis:
        async def publish(self, channel: str, message: str) -> Any:
            sent.append((channel, message))

    await publish(Redis(), "kopa", alert())
    assert sent == [("kopa:stream:inst_1", alert().to_json())]
    assert stream_channel("kopa", "inst_1") == "kopa:stream:inst_1"
