"""The console's dashboard and reports in Debian's Chromium, on an institution of their own
with one loan 75 days into a monthly schedule (45 days past due): the dashboard shows its
portfolio at risk as cards, and the reports page lists the loan in arrears and downloads the
arrears as a CSV file named by the server."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, sign_in
from tests.support.staff import Institution, make_institution

pytestmark = pytest.mark.e2e

PAR = ("PAR1", "PAR30", "PAR60", "PAR90")


@pytest.fixture(scope="module")
def late_loan(http: httpx.Client, platform_token: str) -> tuple[Institution, str]:
    mfi = make_institution(http, platform_token)
    disbursed = (date.today() - timedelta(days=75)).isoformat()
    loan = http.post(
        "/v1/loans",
        headers=mfi.headers["agent"],
        json={
            "borrower_id": mfi.borrower_id,
            "product_id": mfi.product_id,
            "principal": "12000.00",
            "term": 6,
            "disbursement_date": disbursed,
        },
    )
    assert loan.status_code == 201, loan.text
    loan_id = loan.json()["id"]
    manager = mfi.headers["branch_manager"]
    approved = http.post(f"/v1/loans/{loan_id}/approve", headers=manager, json={})
    assert approved.status_code == 200, approved.text
    active = http.post(
        f"/v1/loans/{loan_id}/disburse", headers=manager, json={"disbursement_date": disbursed}
    )
    assert active.status_code == 200, active.text
    # The reports are built from the loans' events: wait (bounded) until the loan shows.
    deadline = time.monotonic() + 30
    while True:
        lines = http.get("/v1/reports/arrears", headers=mfi.headers["admin"]).json()["items"]
        if any(line["loan_id"] == loan_id for line in lines):
            return mfi, loan_id
        assert time.monotonic() < deadline, "the loan never showed in the arrears report"
        time.sleep(0.25)


def test_the_dashboard_shows_portfolio_at_risk_cards_to_the_admin(
    page: Page, late_loan: tuple[Institution, str]
) -> None:
    mfi, _ = late_loan
    sign_in(page, mfi.emails["admin"])
    open_section(page, "Dashboard")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    cards = {name: page.get_by_role("group", name=name, exact=True) for name in PAR}
    # Its only loan is 45 days late: all of the portfolio is at risk over 1 and 30 days.
    expect(cards["PAR1"]).to_contain_text("100.00%")
    expect(cards["PAR30"]).to_contain_text("100.00%")
    expect(cards["PAR60"]).to_contain_text("0.00%")
    expect(cards["PAR90"]).to_contain_text("0.00%")
    expect(page.get_by_role("figure", name="Portfolio at risk")).to_be_visible()
    branch = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Kisumu"))
    expect(branch.get_by_role("cell").first).to_have_text("1")


def test_the_dashboard_draws_disbursements_collections_and_par_over_time(
    page: Page, late_loan: tuple[Institution, str]
) -> None:
    mfi, _ = late_loan
    sign_in(page, mfi.emails["admin"])
    open_section(page, "Dashboard")
    for chart in (
        "Disbursed and collected in each period",
        "PAR 1, 30 and 90 at the end of each period",
    ):
        expect(page.get_by_role("figure", name=chart)).to_be_visible()
    page.get_by_label("Period", exact=True).select_option(label="Last 12 months, by month")
    page.get_by_text("Figures by period").click()
    # The loan was disbursed 75 days ago: its month's row shows the 12,000.00 disbursed.
    month = (date.today() - timedelta(days=75)).replace(day=1).isoformat()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=month))
    expect(row.get_by_role("cell").nth(4)).to_have_text("KES 12,000.00")


def test_the_reports_page_lists_the_arrears_and_downloads_them_as_csv(
    page: Page, late_loan: tuple[Institution, str]
) -> None:
    mfi, loan_id = late_loan
    sign_in(page, mfi.emails["auditor"])
    open_section(page, "Reports")
    expect(page.get_by_label("As of")).to_have_value(date.today().isoformat())
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=loan_id))
    expect(row).to_contain_text("Achieng Odhiambo")
    expect(row).to_contain_text("45")

    with page.expect_download() as started:
        page.get_by_role("button", name="Download CSV").click()
    download = started.value
    assert download.suggested_filename == f"arrears-{date.today().isoformat()}.csv"
    path = download.path()
    lines = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [line["loan_id"] for line in lines] == [loan_id]
    assert lines[0]["days_past_due"] == "45"
    assert lines[0]["borrower_name"] == "Achieng Odhiambo"  # the file names the borrower
    expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text(
        download.suggested_filename
    )
