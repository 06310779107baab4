"""The portfolio over time through the gateway: a loan disbursed and repaid in the past shows
in the rows of the days it happened, as it stood on each of them, and only to its branch."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.staff import PASSWORD, Institution, login, make_institution
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mfi(http: httpx.Client, platform_token: str) -> Institution:
    return make_institution(http, platform_token)


def rows_by_date(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {row["date"]: row for row in report["items"]}


def test_a_backdated_loan_and_repayment_show_on_their_days(
    http: httpx.Client, mfi: Institution
) -> None:
    agent, manager, admin = (mfi.headers[r] for r in ("agent", "branch_manager", "admin"))
    disbursed = date.today() - timedelta(days=70)
    created = http.post(
        "/v1/loans",
        headers=agent,
        json={
            "borrower_id": mfi.borrower_id,
            "product_id": mfi.product_id,
            "principal": "12000.00",
            "term": 3,
            "disbursement_date": disbursed.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    loan_id = created.json()["id"]
    assert http.post(f"/v1/loans/{loan_id}/approve", headers=manager, json={}).status_code == 200
    active = http.post(
        f"/v1/loans/{loan_id}/disburse",
        headers=manager,
        json={"disbursement_date": disbursed.isoformat()},
    )
    assert active.status_code == 200, active.text
    first, second, _ = active.json()["schedule"]
    due1, due2 = date.fromisoformat(first["due_date"]), date.fromisoformat(second["due_date"])
    assert due2 + timedelta(days=2) <= date.today()  # the second installment is late today

    # The first installment is paid five days late, entered today.
    paid_on = due1 + timedelta(days=5)
    paid = http.post(
        f"/v1/loans/{loan_id}/repayments",
        headers={**agent, "Idempotency-Key": f"trend-{secrets.token_hex(6)}"},
        json={"amount": first["total"], "paid_on": paid_on.isoformat()},
    )
    assert paid.status_code == 201, paid.text
    principal_back = Decimal(paid.json()["allocation"]["principal"])
    left = Decimal("12000.00") - principal_back

    def report() -> dict[str, Any] | None:
        reply = http.get(
            "/v1/reports/trends",
            params={"from": disbursed.isoformat(), "to": date.today().isoformat()},
            headers=admin,
        )
        assert reply.status_code == 200, reply.text
        data = reply.json()
        row = rows_by_date(data).get(paid_on.isoformat())
        # The loan and its repayment arrive through events: wait for the repayment's.
        return data if row and row["collected"] == first["total"] else None

    data = eventually(report)
    assert (data["currency"], data["interval"]) == ("KES", "day")
    assert (data["from"], data["to"]) == (disbursed.isoformat(), date.today().isoformat())
    rows = rows_by_date(data)
    assert len(rows) == 71
    on = rows[disbursed.isoformat()]
    assert (on["disbursed"], on["gross_portfolio"], on["par1"]) == (
        "12000.00",
        "12000.00",
        "0.0000",
    )
    assert sum(Decimal(r["disbursed"]) for r in rows.values()) == Decimal("12000.00")
    # Before the payment the loan was late: more than one day from two days after the due date.
    assert rows[(due1 + timedelta(days=1)).isoformat()]["par1"] == "0.0000"
    before = rows[(due1 + timedelta(days=2)).isoformat()]
    assert (before["gross_portfolio"], before["par1"]) == ("12000.00", "1.0000")
    # Paid: back to current that day, with less principal out.
    after = rows[paid_on.isoformat()]
    assert Decimal(after["gross_portfolio"]) == left
    assert after["par1"] == "0.0000"
    # And late again after the second due date, although nothing happened that day.
    again = rows[(due2 + timedelta(days=2)).isoformat()]
    assert (again["par1"], again["par30"]) == ("1.0000", "0.0000")
    # Today's row agrees with the loan's own books.
    outstanding = http.get(f"/v1/loans/{loan_id}", headers=admin).json()["outstanding"]
    assert Decimal(rows[date.today().isoformat()]["gross_portfolio"]) == Decimal(
        outstanding["principal"]
    )

    # By month: the disbursement in its month's row, the rows dated the first of the month.
    monthly = http.get(
        "/v1/reports/trends",
        params={"from": disbursed.isoformat(), "interval": "month"},
        headers=manager,
    )
    assert monthly.status_code == 200, monthly.text
    months = monthly.json()["items"]
    assert months[0]["date"] == disbursed.isoformat()
    assert all(m["date"].endswith("-01") for m in months[1:])
    assert months[0]["disbursed"] == "12000.00"
    assert sum(Decimal(m["collected"]) for m in months) == Decimal(first["total"])

    # The same rows as a spreadsheet.
    sheet = http.get(
        "/v1/reports/trends",
        params={"from": paid_on.isoformat(), "to": paid_on.isoformat(), "format": "csv"},
        headers=admin,
    )
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"].startswith("text/csv")
    assert "trends-day-" in sheet.headers["content-disposition"]
    (line,) = csv.DictReader(io.StringIO(sheet.text))
    assert line == after

    # Branch staff of another branch see none of it.
    other = http.post("/v1/branches", json={"name": f"Kisii {secrets.token_hex(3)}"}, headers=admin)
    assert other.status_code == 201, other.text
    email = f"manager-{secrets.token_hex(3)}@mfi.test"
    made = http.post(
        "/v1/users",
        headers=admin,
        json={
            "email": email,
            "full_name": "Other Manager",
            "role": "branch_manager",
            "password": PASSWORD,
            "branch_id": other.json()["id"],
        },
    )
    assert made.status_code == 201, made.text
    elsewhere = http.get(
        "/v1/reports/trends",
        params={"from": disbursed.isoformat()},
        headers=login(http, email),
    )
    assert elsewhere.status_code == 200, elsewhere.text
    assert {
        (r["gross_portfolio"], r["disbursed"], r["collected"], r["par1"])
        for r in elsewhere.json()["items"]
    } == {("0.00", "0.00", "0.00", "0.0000")}


def test_bad_ranges_are_refused_naming_the_parameter(http: httpx.Client, mfi: Institution) -> None:
    admin = mfi.headers["admin"]
    today = date.today()
    cases = [
        ({"from": (today + timedelta(days=1)).isoformat(), "to": today.isoformat()}, "from"),
        ({"from": (today - timedelta(days=366)).isoformat()}, "from"),  # 367 days
        ({"to": "2026-02-30"}, "to"),
        ({"interval": "week"}, "interval"),
    ]
    for params, field in cases:
        reply = http.get("/v1/reports/trends", params=params, headers=admin)
        assert reply.status_code == 422, (params, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in reply.json()["errors"]], (params, reply.json())
    # Agents read no reports.
    assert http.get("/v1/reports/trends", headers=mfi.headers["agent"]).status_code == 403
    # The defaults: 31 days to today, or 12 months.
    days = http.get("/v1/reports/trends", headers=admin).json()
    assert (len(days["items"]), days["to"]) == (31, today.isoformat())
    months = http.get("/v1/reports/trends", params={"interval": "month"}, headers=admin).json()
    assert len(months["items"]) == 12 and months["from"].endswith("-01")
