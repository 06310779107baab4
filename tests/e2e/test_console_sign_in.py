"""The console in Debian's Chromium: signing in as each role shows that role's sections, a
wrong password is said beside nothing but in an alert, and signing out ends the session."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.console import sign_in
from tests.support.staff import Institution

pytestmark = pytest.mark.e2e

EVERYONE = ["Dashboard", "Borrowers", "Loans", "Collections", "Reports"]
SECTIONS = {
    "admin": [
        *EVERYONE,
        "Alerts",
        "Approvals",
        "Suspense",
        "Scorecards",
        "Audit log",
        "Users",
        "Branches",
        "Settings",
    ],
    "branch_manager": [
        *EVERYONE,
        "Alerts",
        "Approvals",
        "Suspense",
        "Scorecards",
        "Users",
        "Branches",
        "Settings",
    ],
    "agent": ["Borrowers", "Loans", "Collections", "Alerts", "Branches"],
    "auditor": [*EVERYONE, "Alerts", "Scorecards", "Audit log", "Users", "Branches", "Settings"],
}


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_each_role_sees_its_sections_and_signs_out(
    page: Page, institution: Institution, role: str
) -> None:
    sign_in(page, institution.emails[role])
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link").first).to_be_visible()
    shown = [name.strip() for name in nav.get_by_role("link").all_inner_texts()]
    assert shown == SECTIONS[role]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_refused_in_an_alert(page: Page, institution: Institution) -> None:
    sign_in(page, institution.emails["agent"], "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("password", re.I))
    expect(page.get_by_role("navigation")).to_have_count(0)
