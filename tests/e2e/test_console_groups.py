"""Groups in the console, in Debian's Chromium: an agent forms a group at a centre from
borrowers found by search, opens its file, and a member with a loan under way is refused when
leaving, said in the row."""

from __future__ import annotations

import secrets
import string

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, sign_in
from tests.support.staff import Institution, register_borrower

pytestmark = pytest.mark.e2e


def test_an_agent_forms_a_group_and_a_member_with_a_loan_cannot_leave(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    agent = institution.headers["agent"]
    last = "".join(secrets.choice(string.ascii_lowercase) for _ in range(9)).capitalize()
    register_borrower(http, agent, institution.branch_id, first_name="Akinyi", last_name=last)
    second = register_borrower(
        http, agent, institution.branch_id, first_name="Wanjiru", last_name=last
    )
    centre = f"Soko {secrets.token_hex(2)}"
    made = http.post("/v1/centers", headers=agent, json={"name": centre, "meeting_day": "friday"})
    assert made.status_code == 201, made.text
    loan = http.post(
        "/v1/loans",
        headers=agent,
        json={
            "borrower_id": second["id"],
            "product_id": institution.product_id,
            "principal": "5000",
            "term": 3,
        },
    )
    assert loan.status_code == 201, loan.text

    sign_in(page, institution.emails["agent"])
    open_section(page, "Borrowers")
    page.get_by_role("link", name="Groups and centres").click()
    page.get_by_role("button", name="Form group").click()
    group_name = f"Upendo {secrets.token_hex(2)}"
    page.get_by_label("Group name").fill(group_name)
    page.get_by_label("Centre").select_option(label=centre)
    page.get_by_label("Find a borrower to add").fill(last)
    for name in ("Akinyi", "Wanjiru"):
        # The search index follows new borrowers within seconds.
        add = page.get_by_role("button", name=f"Add {name} {last}")
        expect(add).to_be_visible(timeout=20_000)
        add.click()
    expect(page.get_by_text("Members chosen: 2")).to_be_visible()
    page.get_by_role("button", name="Save group").click()

    expect(page.get_by_role("heading", level=1, name=group_name)).to_be_visible()
    expect(page.get_by_text("Friday")).to_be_visible()  # the centre's day
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"Wanjiru {last}"))
    row.get_by_role("button", name="Leaves the group").click()
    row.get_by_label("Reason for leaving").fill("moved to Nakuru")
    row.get_by_role("button", name="Record leaving").click()
    # Her application is under way: user_service learns of it from the loan's events.
    expect(row.get_by_role("alert")).to_contain_text("not yet repaid", timeout=20_000)
    expect(row.get_by_role("alert")).to_contain_text(loan.json()["id"])
