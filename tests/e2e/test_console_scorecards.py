"""The console's scorecards in Debian's Chromium: a risk officer writes a scorecard whose rule
names a field that does not exist, sees the server's refusal (rule, line and column) beside
that rule's condition, fixes it, saves the draft and publishes it after confirming what that
does. On an institution of its own: a published scorecard scores every new loan."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, sign_in
from tests.support.staff import make_institution

pytestmark = pytest.mark.e2e


def test_a_risk_officer_fixes_a_rule_in_place_and_publishes_the_scorecard(
    page: Page, http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    name = f"Retail {secrets.token_hex(3)}"
    sign_in(page, mfi.emails["risk_officer"])
    open_section(page, "Scorecards")
    page.get_by_role("button", name="New scorecard").click()
    page.get_by_label("Scorecard name").fill(name)
    page.get_by_label("Base score").fill("400")
    first = page.get_by_role("group", name="Rule 1")
    first.get_by_label("Rule name").fill("steady income")
    first.get_by_label("Condition").fill("borrower.monthly_income >= 20000")
    first.get_by_label("Points").fill("300")
    page.get_by_role("button", name="Add rule").click()
    second = page.get_by_role("group", name="Rule 2")
    second.get_by_label("Rule name").fill("never late")
    second.get_by_label("Condition").fill("history.max_days_past_du <= 0")
    second.get_by_label("Points").fill("50")
    page.get_by_role("button", name="Save draft").click()

    condition = second.get_by_label("Condition")
    expect(condition).to_have_attribute("aria-invalid", "true")
    expect(condition).to_have_accessible_description(re.compile(r"never late.*line 1, column \d+"))
    expect(condition).to_be_focused()
    expect(first.get_by_label("Condition")).not_to_have_attribute("aria-invalid", "true")

    condition.fill("history.max_days_past_due <= 0")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name=f"{name}, version 1")).to_be_visible()
    expect(page.get_by_role("cell", name="history.max_days_past_due <= 0")).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    ask = page.get_by_role("alertdialog")
    expect(ask).to_contain_text("version published until now will be retired")
    ask.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="is published")).to_be_visible()
    expect(page.get_by_role("button", name="Retire")).to_be_visible()

    versions = http.get("/v1/scorecards", headers=mfi.headers["risk_officer"]).json()["items"]
    assert [(v["name"], v["state"]) for v in versions] == [(name, "published")]
