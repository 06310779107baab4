"""Issues 4 to 6 through the gateway: a scorecard used in lending, close of business, the books."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.staff import PASSWORD, bearer, login
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mfi(http: httpx.Client, platform_token: str) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    platform = bearer(platform_token)
    inst = http.post(
        "/v1/institutions", json={"name": f"Score {tag}", "currency": "KES"}, headers=platform
    ).json()
    http.post(
        "/v1/users",
        headers=platform,
        json={
            "email": f"admin-{tag}@s.test",
            "full_name": "Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": inst["id"],
        },
    )
    admin = login(http, f"admin-{tag}@s.test")
    branch = http.post("/v1/branches", json={"name": "Main"}, headers=admin).json()
    for role in ("agent", "branch_manager", "risk_officer"):
        body = {
            "email": f"{role}-{tag}@s.test",
            "full_name": role,
            "role": role,
            "password": PASSWORD,
        }
        if role != "risk_officer":
            body["branch_id"] = branch["id"]
        assert http.post("/v1/users", headers=admin, json=body).status_code == 201
    return {
        "admin": admin,
        "branch": branch["id"],
        "agent": login(http, f"agent-{tag}@s.test"),
        "manager": login(http, f"branch_manager-{tag}@s.test"),
        "risk": login(http, f"risk_officer-{tag}@s.test"),
    }


def new_loan(
    http: httpx.Client,
    mfi: dict[str, Any],
    product: str,
    income: str,
    disbursed: date | None = None,
) -> str:
    borrower = http.post(
        "/v1/borrowers",
        headers=mfi["agent"],
        json={
            "first_name": "Achieng",
            "last_name": "Otieno",
            "national_id": f"K{secrets.randbelow(10**9):09d}",
            "phone": f"+25471{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1980-03-03",
            "branch_id": mfi["branch"],
            "monthly_income": income,
        },
    )
    assert borrower.status_code == 201, borrower.text
    loan = http.post(
        "/v1/loans",
        headers=mfi["agent"],
        json={
            "borrower_id": borrower.json()["id"],
            "product_id": product,
            "principal": "10000.00",
            "term": 4,
            **({"disbursement_date": disbursed.isoformat()} if disbursed else {}),
        },
    )
    assert loan.status_code == 201, loan.text
    return str(loan.json()["id"])


def test_a_published_scorecard_gates_approval(http: httpx.Client, mfi: dict[str, Any]) -> None:
    bad = http.post(
        "/v1/scorecards",
        headers=mfi["risk"],
        json={
            "name": "Typo",
            "base_score": 500,
            "rules": [{"name": "income", "when": "borrower.monthly_incme > 1000", "points": 50}],
        },
    )
    assert bad.status_code == 422, bad.text
    error = bad.json()["errors"][0]
    assert error["field"] == "rules[0].when"
    assert "income" in error["message"] and "column" in error["message"]

    card = http.post(
        "/v1/scorecards",
        headers=mfi["risk"],
        json={
            "name": "Retail",
            "base_score": 400,
            "rules": [
                {
                    "name": "income above 20k",
                    "when": "borrower.monthly_income >= 20000",
                    "points": 300,
                }
            ],
            "cutoffs": [
                {"band": "AA", "min_score": 800},
                {"band": "A", "min_score": 650},
                {"band": "B", "min_score": 550},
                {"band": "C", "min_score": 450},
            ],
        },
    )
    assert card.status_code == 201, card.text
    assert (
        http.post(f"/v1/scorecards/{card.json()['id']}/publish", headers=mfi["agent"]).status_code
        == 403
    )
    published = http.post(f"/v1/scorecards/{card.json()['id']}/publish", headers=mfi["risk"])
    assert published.status_code == 200, published.text

    product = http.post(
        "/v1/loan-products",
        headers=mfi["admin"],
        json={
            "name": "Scored",
            "interest_method": "flat",
            "annual_interest_rate": "12",
            "repayment_frequency": "weekly",
            "min_principal": "1000",
            "max_principal": "50000",
            "min_term": 4,
            "max_term": 26,
            "min_score_band": "A",
        },
    ).json()["id"]

    good = new_loan(http, mfi, product, "25000")
    scored = http.post(f"/v1/loans/{good}/score", headers=mfi["manager"])
    assert scored.status_code == 200, scored.text
    assert (scored.json()["score"], scored.json()["band"]) == (700, "A")
    assert (
        http.post(f"/v1/loans/{good}/approve", headers=mfi["manager"], json={}).status_code == 200
    )

    weak = new_loan(http, mfi, product, "5000")
    assert http.post(f"/v1/loans/{weak}/score", headers=mfi["manager"]).json()["band"] == "D"
    refused = http.post(f"/v1/loans/{weak}/approve", headers=mfi["manager"], json={})
    assert refused.status_code == 409, refused.text
    override = http.post(
        f"/v1/loans/{weak}/approve",
        headers=mfi["manager"],
        json={"override_reason": "long-standing group member"},
    )
    assert override.status_code == 200, override.text
    assert override.json()["override_reason"] == "long-standing group member"


def test_close_of_business_ages_a_loan_and_the_books_balance(
    http: httpx.Client, mfi: dict[str, Any]
) -> None:
    product = http.post(
        "/v1/loan-products",
        headers=mfi["admin"],
        json={
            "name": "Weekly",
            "interest_method": "flat",
            "annual_interest_rate": "12",
            "repayment_frequency": "weekly",
            "min_principal": "1000",
            "max_principal": "50000",
            "min_term": 4,
            "max_term": 26,
        },
    ).json()["id"]
    disbursed = date.today() - timedelta(days=60)
    loan = new_loan(http, mfi, product, "30000", disbursed)
    assert (
        http.post(f"/v1/loans/{loan}/approve", headers=mfi["manager"], json={}).status_code == 200
    )
    active = http.post(
        f"/v1/loans/{loan}/disburse",
        headers=mfi["manager"],
        json={"disbursement_date": disbursed.isoformat()},
    )
    assert active.status_code == 200, active.text

    as_of = date.today().isoformat()
    job = http.post("/v1/jobs/close-of-business", headers=mfi["admin"], json={"as_of": as_of})
    assert job.status_code == 200, job.text
    assert job.json()["state"] == "completed"
    assert job.json()["loans_processed"] >= 1 and job.json()["loans_changed"] >= 1  # numbers
    aged = http.get(f"/v1/loans/{loan}", headers=mfi["agent"]).json()
    # The first weekly installment fell due 53 days ago and nothing was paid.
    assert aged["days_past_due"] == 53
    assert aged["delinquency_bucket"] == "31-60"
    assert aged["classification_history"] == [
        {"date": as_of, "from_bucket": "current", "to_bucket": "31-60", "days_past_due": 53}
    ]
    again = http.post("/v1/jobs/close-of-business", headers=mfi["admin"], json={"as_of": as_of})
    assert again.status_code == 200
    assert http.get(f"/v1/loans/{loan}", headers=mfi["agent"]).json() == aged

    def balanced() -> dict[str, Any] | None:
        reply = http.get("/v1/ledger/trial-balance", headers=mfi["admin"])
        assert reply.status_code == 200, reply.text
        data = reply.json()
        portfolio = [line for line in data["lines"] if line["account_code"] == "1100"]
        return data if portfolio and Decimal(portfolio[0]["debit"]) > 0 else None

    books = eventually(balanced)
    assert Decimal(books["total_debit"]) == Decimal(books["total_credit"]) > 0


def test_an_overpaid_loan_closes_and_its_credit_is_refunded_once(
    http: httpx.Client, mfi: dict[str, Any]
) -> None:
    product = http.post(
        "/v1/loan-products",
        headers=mfi["admin"],
        json={
            "name": "Monthly",
            "interest_method": "flat",
            "annual_interest_rate": "12",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "50000",
            "min_term": 4,
            "max_term": 12,
        },
    ).json()["id"]
    disbursed = date.today() - timedelta(days=10)
    loan = new_loan(http, mfi, product, "30000", disbursed)
    assert (
        http.post(f"/v1/loans/{loan}/approve", headers=mfi["manager"], json={}).status_code == 200
    )
    http.post(
        f"/v1/loans/{loan}/disburse",
        headers=mfi["manager"],
        json={"disbursement_date": disbursed.isoformat()},
    )
    payoff = http.get(
        f"/v1/loans/{loan}/payoff-quote",
        params={"date": date.today().isoformat()},
        headers=mfi["agent"],
    ).json()
    owed = Decimal(payoff["total"])
    paid = http.post(
        f"/v1/loans/{loan}/repayments",
        headers={**mfi["agent"], "Idempotency-Key": secrets.token_hex(8)},
        json={"amount": str(owed + Decimal("500.00")), "paid_on": date.today().isoformat()},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["loan_status"] == "closed"
    closed = http.get(f"/v1/loans/{loan}", headers=mfi["agent"]).json()
    assert Decimal(closed["credit_balance"]) == Decimal("500.00")

    key = {"Idempotency-Key": secrets.token_hex(8)}
    body = {"amount": "300.00", "paid_on": date.today().isoformat(), "channel": "cash"}
    refused = http.post(f"/v1/loans/{loan}/refunds", headers={**mfi["agent"], **key}, json=body)
    assert refused.status_code == 403  # agents record money in; refunds are privileged
    refund = http.post(f"/v1/loans/{loan}/refunds", headers={**mfi["manager"], **key}, json=body)
    assert refund.status_code == 201, refund.text
    retry = http.post(f"/v1/loans/{loan}/refunds", headers={**mfi["manager"], **key}, json=body)
    assert retry.status_code == 201 and retry.json()["id"] == refund.json()["id"]
    too_much = http.post(
        f"/v1/loans/{loan}/refunds",
        headers={**mfi["manager"], "Idempotency-Key": secrets.token_hex(8)},
        json={**body, "amount": "300.00"},
    )
    assert too_much.status_code == 422, too_much.text
    assert [e["field"] for e in too_much.json()["errors"]] == ["amount"]
    after = http.get(f"/v1/loans/{loan}", headers=mfi["agent"]).json()
    assert Decimal(after["credit_balance"]) == Decimal("200.00")

    def refund_booked() -> dict[str, Any] | None:
        data = http.get("/v1/ledger/trial-balance", headers=mfi["admin"]).json()
        lines = {line["account_code"]: line for line in data["lines"]}
        liability = lines.get("2100")
        if liability is None or Decimal(liability["balance"]) != Decimal("200.00"):
            return None
        return data

    books = eventually(refund_booked)
    assert Decimal(books["total_debit"]) == Decimal(books["total_credit"])
    assert books["currency"] == "KES" and books["as_of"] is None

    # The books behind the gateway are typed (kopa.payment.v2.LedgerService); the API still
    # reads decimal strings and ISO dates.
    admin = mfi["admin"]
    early = http.get("/v1/ledger/trial-balance", params={"as_of": "2000-01-01"}, headers=admin)
    assert early.status_code == 200 and early.json()["as_of"] == "2000-01-01"
    assert (early.json()["total_debit"], early.json()["total_credit"]) == ("0.00", "0.00")
    entries = http.get("/v1/ledger/accounts/2100/entries", headers=admin).json()["items"]
    assert entries and entries[-1]["running_balance"] == "200.00"
    assert all(len(e["date"]) == 10 and "." in e["debit"] for e in entries)
    statement = http.get(f"/v1/loans/{loan}/statement", headers=admin).json()["items"]
    assert statement[0]["source_kind"] == "disbursement" and statement[0]["credit"] == "0.00"
    added = http.post(
        "/v1/ledger/accounts",
        json={"code": "6100", "name": "Staff salaries", "type": "expense"},
        headers=admin,
    )
    assert added.status_code == 201 and added.json()["type"] == "expense", added.text
    accounts = http.get("/v1/ledger/accounts", headers=admin).json()["items"]
    assert {"code": "6100", "name": "Staff salaries", "type": "expense"} in accounts
