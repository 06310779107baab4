"""The agent's collection sheet: the API that builds it, and the console screen in Debian's
Chromium, online and offline (the service worker serves the app, IndexedDB keeps the sheet
and the queue of collections, each sent once when the connection returns)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, sign_in
from tests.support.staff import PASSWORD, Institution, register_borrower

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()


@dataclass
class DueLoan:
    loan_id: str
    borrower_id: str
    name: str
    phone: str


def due_loan(http: httpx.Client, inst: Institution, days_ago: int = 70) -> DueLoan:
    """An active monthly loan of a borrower the agent registered (so in the agent's care),
    disbursed `days_ago`: its first installments are due."""
    last = "".join(random.choices(string.ascii_lowercase, k=8)).capitalize()
    borrower = register_borrower(
        http, inst.headers["agent"], inst.branch_id, first_name="Wanjiru", last_name=last
    )
    created = http.post(
        "/v1/loans",
        headers=inst.headers["agent"],
        json={
            "borrower_id": borrower["id"],
            "product_id": inst.product_id,
            "principal": "12000",
            "term": 6,
        },
    )
    assert created.status_code == 201, created.text
    loan_id = created.json()["id"]
    manager = inst.headers["branch_manager"]
    approved = http.post(f"/v1/loans/{loan_id}/approve", headers=manager, json={})
    assert approved.status_code == 200, approved.text
    disbursed = http.post(
        f"/v1/loans/{loan_id}/disburse",
        headers=manager,
        json={"disbursement_date": (TODAY - timedelta(days=days_ago)).isoformat()},
    )
    assert disbursed.status_code == 200, disbursed.text
    return DueLoan(loan_id, borrower["id"], f"Wanjiru {last}", borrower["phone"])


def test_the_sheet_lists_what_is_due_in_the_callers_scope(
    http: httpx.Client, institution: Institution
) -> None:
    loan = due_loan(http, institution)
    schedule = http.get(f"/v1/loans/{loan.loan_id}", headers=institution.headers["agent"]).json()[
        "schedule"
    ]
    due = [i for i in schedule if date.fromisoformat(i["due_date"]) <= TODAY]
    assert len(due) == 2

    reply = http.get(
        "/v1/collection-sheets",
        params={"date": TODAY.isoformat()},
        headers=institution.headers["agent"],
    )
    assert reply.status_code == 200, reply.text
    sheet = reply.json()
    assert sheet["date"] == TODAY.isoformat() and sheet["currency"] == "KES"
    mine = [i for i in sheet["items"] if i["loan_id"] == loan.loan_id]
    assert [(i["borrower_name"], i["phone"], i["group_id"]) for i in mine] == [
        (loan.name, loan.phone, None)
    ] * 2
    assert [(i["installment_number"], i["due_date"], i["amount_due"]) for i in mine] == [
        (i["number"], i["due_date"], i["total"]) for i in due
    ]
    late = [Decimal(i["total"]) for i in due if date.fromisoformat(i["due_date"]) < TODAY]
    assert {i["arrears"] for i in mine} == {str(sum(late, Decimal(0)))}
    assert mine[0]["days_past_due"] == (TODAY - date.fromisoformat(due[0]["due_date"])).days

    # The branch manager sees the agent's portfolio too; before the first due date, nothing.
    everyone = http.get(
        "/v1/collection-sheets",
        params={"date": TODAY.isoformat(), "agent_id": agent_id(http, institution)},
        headers=institution.headers["branch_manager"],
    ).json()
    assert {i["loan_id"] for i in mine} <= {i["loan_id"] for i in everyone["items"]}
    early = http.get(
        "/v1/collection-sheets",
        params={"date": (TODAY - timedelta(days=60)).isoformat()},
        headers=institution.headers["agent"],
    ).json()
    assert loan.loan_id not in {i["loan_id"] for i in early["items"]}
    refused = http.get(
        "/v1/collection-sheets", params={"date": "31/03/2026"}, headers=institution.headers["agent"]
    )
    assert refused.status_code == 422


def agent_id(http: httpx.Client, inst: Institution) -> str:
    return str(http.get("/v1/me", headers=inst.headers["agent"]).json()["id"])


def queued_in_the_browser(page: Page) -> int:
    """How many collections the device's queue holds (IndexedDB, as the screen stores it)."""
    return int(
        page.evaluate(
            """() => new Promise((resolve, reject) => {
                const open = indexedDB.open("kopa-collections");
                open.onerror = () => reject(open.error);
                open.onsuccess = () => {
                  const db = open.result;
                  const count = db.transaction("queue").objectStore("queue").count();
                  count.onsuccess = () => {
                    db.close();  // an open connection would hold up the screen's next upgrade
                    resolve(count.result);
                  };
                };
            })"""
        )
    )


def test_an_agent_collects_offline_and_the_collection_is_sent_once_back_online(
    page: Page, http: httpx.Client, institution: Institution
) -> None:
    loan = due_loan(http, institution)
    sign_in(page, institution.emails["agent"])
    expect(page.get_by_role("navigation")).to_be_visible()
    # The app opens offline only once its service worker has cached it.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    open_section(page, "Collections")
    rows = page.get_by_role("row").filter(has_text=loan.name)
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(2)

    page.context.set_offline(True)
    rows.first.get_by_label("Amount collected").fill("500")
    page.get_by_role("button", name="Save collections").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Offline")
    expect(status).to_contain_text("1 collection waiting to be sent")
    expect(rows.first).to_contain_text("Waiting to be sent")

    # Closing and reopening the app offline: it opens from its cache, signed out (the session
    # lives in memory only); the sign-in page says what waits, and the agent may carry on
    # with the sheet kept on the device.
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Offline: 1 collection waiting")
    assert queued_in_the_browser(page) == 1
    page.get_by_role("button", name="Work offline as Otieno Agent").click()
    expect(rows.first).to_contain_text("Waiting to be sent")
    rows.nth(1).get_by_label("Amount collected").fill("300")
    page.get_by_role("button", name="Save collections").click()
    expect(page.get_by_role("status")).to_contain_text("Offline: 2 collections waiting")

    # Back online, the console asks to sign in over the sheet, then sends both.
    page.context.set_offline(False)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("back online")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text("All collections sent")
    assert queued_in_the_browser(page) == 0
    # However often it syncs (the connection returning, each sign-in), one repayment.
    page.context.set_offline(True)
    page.context.set_offline(False)
    expect(page.get_by_role("status")).to_have_text("All collections sent")
    repayments = http.get(
        f"/v1/loans/{loan.loan_id}/repayments", headers=institution.headers["agent"]
    ).json()["items"]
    assert sorted(
        (r["amount"], r["paid_on"], r["channel"], r["reference"]) for r in repayments
    ) == [
        ("300.00", TODAY.isoformat(), "cash", "collection-sheet"),
        ("500.00", TODAY.isoformat(), "cash", "collection-sheet"),
    ]
