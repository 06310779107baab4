"""A loan through the console in Debian's Chromium: the agent applies (quote first) for a
borrower found by search, the branch manager approves it from the queue and disburses it after
a confirmation naming the amount, and a repayment double-clicked is recorded once."""

from __future__ import annotations

import re
import secrets
import string

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, search, sign_in
from tests.support.staff import Institution, register_borrower

pytestmark = pytest.mark.e2e


def test_apply_approve_disburse_and_repay_once(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    last = "".join(secrets.choice(string.ascii_lowercase) for _ in range(9)).capitalize()
    register_borrower(
        http,
        institution.headers["agent"],
        institution.branch_id,
        first_name="Akinyi",
        last_name=last,
    )
    name = f"Akinyi {last}"

    # The agent applies, with a quote first.
    sign_in(page, institution.emails["agent"])
    open_section(page, "Loans")
    page.get_by_role("button", name="New loan application").click()
    search(page, "Borrower", last, page.get_by_role("option", name=re.compile(name)))
    page.get_by_role("option", name=re.compile(name)).click()
    page.get_by_label("Product").select_option(label="Biashara monthly")
    page.get_by_label("Principal").fill("50000")
    page.get_by_label("Term").fill("6")
    page.get_by_role("button", name="Get quote").click()
    schedule = page.get_by_role("table")
    for header in ("Due date", "Principal", "Interest", "Total"):
        expect(schedule.get_by_role("columnheader", name=header, exact=True)).to_be_visible()
    expect(schedule.get_by_role("row")).to_have_count(7)
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", level=1, name=f"Loan to {name}")).to_be_visible()
    expect(page.get_by_text("Submitted", exact=True).first).to_be_visible()
    loan_id = page.url.rsplit("/", 1)[-1]
    # Agents neither approve nor disburse.
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    # The branch manager (not the loan's creator) approves from the queue, then disburses.
    sign_in(page, institution.emails["branch_manager"])
    open_section(page, "Approvals")
    page.get_by_role("link", name=name).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text="Approved.")).to_be_visible()
    page.get_by_role("button", name="Disburse").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(re.compile(r"KES\s50,000\.00"))
    expect(confirm).to_contain_text(name)
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Active", exact=True).first).to_be_visible()

    # A repayment, double-clicked, is recorded once.
    page.get_by_role("button", name="Record repayment").click()
    page.get_by_label("Amount").fill("9000")
    page.get_by_label("Reference").fill(f"RCPT-{last}")
    page.get_by_role("button", name="Record repayment").dblclick()
    expect(page.get_by_role("status").filter(has_text="recorded")).to_be_visible()
    rows = page.get_by_role("row").filter(has_text=f"RCPT-{last}")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(re.compile(r"KES\s9,000\.00"))

    repayments = http.get(
        f"/v1/loans/{loan_id}/repayments", headers=institution.headers["branch_manager"]
    ).json()["items"]
    assert len(repayments) == 1
    loan = http.get(f"/v1/loans/{loan_id}", headers=institution.headers["agent"]).json()
    assert loan["status"] == "active"
    assert loan["created_by"] != loan["approved_by"]
