"""Messages and alerts in the console, in Debian's Chromium: a borrower registered with SMS
reminders hears of their loan's approval and their file shows the message; a branch manager
watching the alert queue sees an alert arrive live (announced, without reloading) and assigns,
acknowledges and resolves it; markup in a message and a name in an alert stays text."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.support.console import open_section, search, sign_in
from tests.support.staff import Institution, make_institution, register_borrower

pytestmark = pytest.mark.e2e

MARKUP = "<img src=x onerror=alert(1)>"
# Disbursed on 2026-09-01 and unpaid at the close of 2026-10-05: a few days past due.
LATE = re.compile(r"Loan \d+ days past due")


def _ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def surname() -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(9)).capitalize()


def institution_without_quiet_hours(http: httpx.Client, platform_token: str) -> Institution:
    """A new institution whose messages go at any hour (the test fleet's default schedule has
    quiet hours at night), its close of business run only by hand."""
    mfi = make_institution(http, platform_token)
    _ok(
        http.put(
            f"/v1/institutions/{mfi.id}/schedule",
            headers=mfi.headers["admin"],
            json={
                "time_zone": "UTC",
                "close_of_business_time": "21:00",
                "reminder_days_before": 2,
                "quiet_hours_start": None,
                "quiet_hours_end": None,
                "enabled": False,
            },
        )
    )
    return mfi


def apply_and_approve(http: httpx.Client, mfi: Institution, borrower_id: str) -> str:
    loan = _ok(
        http.post(
            "/v1/loans",
            headers=mfi.headers["agent"],
            json={
                "borrower_id": borrower_id,
                "product_id": mfi.product_id,
                "principal": "12000",
                "term": 3,
            },
        ),
        201,
    )["id"]
    _ok(http.post(f"/v1/loans/{loan}/approve", headers=mfi.headers["branch_manager"], json={}))
    return str(loan)


def fall_behind(http: httpx.Client, mfi: Institution, loan: str) -> None:
    """Disbursed on 2026-09-01 (first installment due 2026-10-01) and left unpaid: the close
    of business of 2026-10-05 finds it days past due."""
    _ok(
        http.post(
            f"/v1/loans/{loan}/disburse",
            headers=mfi.headers["branch_manager"],
            json={"disbursement_date": "2026-09-01"},
        )
    )
    _ok(
        http.post(
            "/v1/jobs/close-of-business",
            headers=mfi.headers["admin"],
            json={"as_of": "2026-10-05"},
        )
    )


def alert_rule(http: httpx.Client, mfi: Institution) -> None:
    _ok(
        http.post(
            "/v1/alert-rules",
            headers=mfi.headers["admin"],
            json={
                "name": "A day late",
                "trigger": "days_past_due",
                "days": 1,
                "roles": ["branch_manager"],
                "branch_ids": [],
                "channels": [],
                "enabled": True,
            },
        ),
        201,
    )


def no_dialogs(page: Page) -> list[str]:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return dialogs


@pytest.fixture(scope="module")
def mfi(http: httpx.Client, platform_token: str) -> Institution:
    return institution_without_quiet_hours(http, platform_token)


def test_a_borrower_registered_with_sms_reminders_sees_the_approval_in_their_messages(
    page: Page, mfi: Institution, http: httpx.Client
) -> None:
    sign_in(page, mfi.emails["agent"])
    open_section(page, "Borrowers")
    page.get_by_role("button", name="Register borrower").click()
    last = surname()
    page.get_by_label("First name").fill("Atieno")
    page.get_by_label("Last name").fill(last)
    page.get_by_label("National ID").fill(f"{secrets.randbelow(10**8):08d}")
    page.get_by_label("Phone").fill(f"+2547{secrets.randbelow(10**8):08d}")
    page.get_by_label("Date of birth").fill("1990-02-14")
    page.get_by_label("Monthly income").fill("30000")
    page.get_by_label("Consent to data processing").check()
    expect(page.get_by_label("SMS reminders")).to_be_checked()
    page.get_by_label("Language").select_option(label="English")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1, name=f"Atieno {last}")).to_be_visible()
    borrower_id = page.url.rsplit("/", 1)[-1]
    preferences = _ok(
        http.get(
            f"/v1/borrowers/{borrower_id}/notification-preferences", headers=mfi.headers["agent"]
        )
    )
    assert preferences["sms"] is True and preferences["language"] == "en"
    assert preferences["update_time"] is not None
    messages = page.get_by_role("region", name="Messages")
    expect(messages).to_contain_text("No messages yet.")
    prefs = page.get_by_role("region", name="Notification preferences")
    expect(prefs.get_by_label("SMS reminders")).to_be_checked()
    expect(prefs.get_by_label("Language")).to_have_value("en")

    # Approved through the API while the file is open: the message appears (live) with its
    # text, channel and status, without reloading.
    apply_and_approve(http, mfi, borrower_id)
    table = messages.get_by_role("table")
    for header in ("Date", "Channel", "Message", "Status"):
        expect(table.get_by_role("columnheader", name=header, exact=True)).to_be_visible()
    row = table.get_by_role("row").filter(has_text="has been approved")
    expect(row).to_contain_text(
        "Dear Atieno, your loan application for KES 12,000.00", timeout=30_000
    )
    expect(row).to_contain_text("SMS")
    expect(row.get_by_role("cell").last).to_have_text(
        re.compile(r"^(sent|delivered)$"), timeout=30_000
    )

    # The agent changes the borrower's preferences: email needs an address, said beside it.
    prefs.get_by_label("Email", exact=True).check()
    prefs.get_by_role("button", name="Save preferences").click()
    expect(prefs.get_by_label("Email address")).to_have_accessible_description(
        re.compile("needed", re.I)
    )
    prefs.get_by_label("Email address").fill("atieno@example.org")
    prefs.get_by_label("Opted out of all messages").check()
    prefs.get_by_role("button", name="Save preferences").click()
    expect(prefs.get_by_role("status")).to_have_text("Preferences saved.")
    saved = _ok(
        http.get(
            f"/v1/borrowers/{borrower_id}/notification-preferences", headers=mfi.headers["agent"]
        )
    )
    assert (saved["email"], saved["email_address"], saved["opted_out"]) == (
        True,
        "atieno@example.org",
        True,
    )


def test_a_branch_manager_sees_an_alert_arrive_live_and_handles_it(
    page: Page, http: httpx.Client, platform_token: str
) -> None:
    mfi = institution_without_quiet_hours(http, platform_token)
    sign_in(page, mfi.emails["branch_manager"])
    open_section(page, "Alerts")
    expect(page.get_by_role("heading", level=1, name="Alerts")).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("open")
    expect(page.get_by_text("No alerts here.")).to_be_visible()

    # The admin makes the rule, the loan falls behind: all through the API.
    alert_rule(http, mfi)
    loan = apply_and_approve(http, mfi, mfi.borrower_id)
    fall_behind(http, mfi, loan)

    # It arrives without a reload, and the status region says so.
    announced = page.get_by_role("status").filter(has_text="New alert:")
    expect(announced).to_have_text(re.compile(r"New alert: Loan \d+ days past due"), timeout=30_000)
    row = page.get_by_role("row").filter(has_text=LATE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("Loan of Achieng Odhiambo")

    row.get_by_role("button", name="Assign").click()
    panel = row.get_by_role("alertdialog")
    panel.get_by_label("Assign to").select_option(label="Baraka Manager (you)")
    panel.get_by_label("Note").fill("I will visit")
    panel.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status").filter(has_text="assigned to Baraka Manager")).to_be_visible()
    expect(row).to_contain_text("Baraka Manager (you)")

    row.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status").filter(has_text="acknowledged")).to_be_visible()
    # Acknowledged, it leaves the open queue.
    expect(row).to_have_count(0)
    page.get_by_label("Status").select_option(label="Acknowledged")
    row = page.get_by_role("row").filter(has_text=LATE)
    expect(row).to_contain_text("Acknowledged")
    row.get_by_role("button", name="Resolve").click()
    confirm = row.get_by_role("alertdialog")
    expect(confirm).to_contain_text(re.compile(r"Resolve the alert “Loan \d+ days past due”\?"))
    confirm.get_by_label("Note").fill("Paid today")
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="resolved")).to_be_visible()

    page.get_by_label("Status").select_option(label="Resolved")
    row = page.get_by_role("row").filter(has_text=LATE)
    expect(row).to_contain_text("Resolved")
    expect(row.get_by_role("button", name="Resolve")).to_have_count(0)
    row.get_by_role("button", name="History").click()
    history = row.get_by_role("list", name=re.compile("History of"))
    expect(history.get_by_role("listitem")).to_have_count(4)
    expect(history).to_contain_text("Assigned to Baraka Manager (you)")
    expect(history).to_contain_text("I will visit")
    expect(history).to_contain_text("Paid today")

    [alert] = _ok(
        http.get(
            "/v1/alerts",
            headers=mfi.headers["branch_manager"],
            params={"status": "resolved"},
        )
    )["items"]
    assert [s["action"] for s in alert["history"]] == [
        "raised",
        "assigned",
        "acknowledged",
        "resolved",
    ]


def test_markup_in_a_message_and_a_name_in_an_alert_stays_text(
    page: Page, http: httpx.Client, platform_token: str
) -> None:
    dialogs = no_dialogs(page)
    mfi = institution_without_quiet_hours(http, platform_token)
    # Names refuse markup brackets (the API's rule); quotes and ampersands are names' own.
    quoted, last = 'Nyokabi "Ann" &', "O'Neil"
    borrower = register_borrower(
        http,
        mfi.headers["agent"],
        mfi.branch_id,
        first_name=quoted,
        last_name=last,
        business_type=MARKUP,
    )
    _ok(
        http.put(
            "/v1/notification-templates/loan_approved/sms/en",
            headers=mfi.headers["admin"],
            json={"body": f"{{{{ first_name }}}} {MARKUP} approved {{{{ principal }}}}"},
        )
    )
    alert_rule(http, mfi)
    loan = apply_and_approve(http, mfi, borrower["id"])
    fall_behind(http, mfi, loan)

    sign_in(page, mfi.emails["branch_manager"])
    open_section(page, "Borrowers")
    search(page, "Search borrowers", last, page.get_by_role("link", name=f"{quoted} {last}"))
    page.get_by_role("link", name=f"{quoted} {last}").click()
    messages = page.get_by_role("region", name="Messages")
    expect(messages.get_by_text(f"{quoted} {MARKUP} approved KES 12,000.00")).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("main img")).to_have_count(0)

    open_section(page, "Alerts")
    row = page.get_by_role("row").filter(has_text=LATE)
    expect(row).to_contain_text(f"Loan of {quoted} {last}", timeout=30_000)
    expect(page.locator("main img")).to_have_count(0)
    assert dialogs == []
