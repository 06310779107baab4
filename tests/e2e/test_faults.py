"""Issue 5, fault tests: kill a service in the middle of posting and flood one repayment.

Afterwards nothing is lost, nothing is doubled, the trial balance is zero and the loan's
balances equal what was posted.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-Horse-Battery-9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(http: httpx.Client, email: str) -> dict[str, str]:
    reply = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return bearer(reply.json()["access_token"])


def eventually(check: Callable[[], Any], limit: float = 60.0) -> Any:
    deadline = time.monotonic() + limit
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not observed in time")
        time.sleep(0.25)
    return result


def active_loan(
    http: httpx.Client, platform_token: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    tag = secrets.token_hex(3)
    platform = bearer(platform_token)
    inst = http.post(
        "/v1/institutions", json={"name": f"Fault {tag}", "currency": "KES"}, headers=platform
    ).json()
    http.post(
        "/v1/users",
        headers=platform,
        json={
            "email": f"admin-{tag}@f.test",
            "full_name": "Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": inst["id"],
        },
    )
    admin = login(http, f"admin-{tag}@f.test")
    branch = http.post("/v1/branches", json={"name": "Main"}, headers=admin).json()
    for role in ("agent", "branch_manager"):
        http.post(
            "/v1/users",
            headers=admin,
            json={
                "email": f"{role}-{tag}@f.test",
                "full_name": role,
                "role": role,
                "password": PASSWORD,
                "branch_id": branch["id"],
            },
        )
    agent, manager = login(http, f"agent-{tag}@f.test"), login(http, f"branch_manager-{tag}@f.test")
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": "P",
            "interest_method": "declining_balance",
            "annual_interest_rate": "24",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "900000",
            "min_term": 3,
            "max_term": 24,
            "days_in_year": "360",
        },
    ).json()["id"]
    borrower = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Juma",
            "last_name": "Hamisi",
            "national_id": f"F{secrets.randbelow(10**9):09d}",
            "phone": f"+25471{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1979-07-07",
            "branch_id": branch["id"],
        },
    ).json()["id"]
    loan = http.post(
        "/v1/loans",
        headers=agent,
        json={"borrower_id": borrower, "product_id": product, "principal": "600000.00", "term": 12},
    ).json()["id"]
    assert http.post(f"/v1/loans/{loan}/approve", headers=manager, json={}).status_code == 200
    started = (date.today() - timedelta(days=20)).isoformat()
    assert (
        http.post(
            f"/v1/loans/{loan}/disburse", headers=manager, json={"disbursement_date": started}
        ).status_code
        == 200
    )
    return loan, agent, admin


def post(http: httpx.Client, loan: str, agent: dict[str, str], key: str) -> int:
    try:
        reply = http.post(
            f"/v1/loans/{loan}/repayments",
            headers={**agent, "Idempotency-Key": key},
            json={"amount": "100.00", "paid_on": date.today().isoformat()},
        )
    except httpx.TransportError:
        return 0
    return reply.status_code


def check_books(
    http: httpx.Client, loan: str, agent: dict[str, str], admin: dict[str, str], keys: int
) -> None:
    payments = http.get(
        f"/v1/loans/{loan}/repayments", headers=agent, params={"page_size": 200}
    ).json()["items"]
    assert len(payments) == keys, f"{len(payments)} payments for {keys} keys"
    assert all(p["status"] == "posted" for p in payments)
    state = http.get(f"/v1/loans/{loan}", headers=agent).json()
    principal_paid = sum(Decimal(p["allocation"]["principal"]) for p in payments)
    assert Decimal(state["outstanding"]["principal"]) == Decimal("600000.00") - principal_paid
    assert sum(Decimal(p["amount"]) for p in payments) == Decimal("100.00") * keys

    def books() -> dict[str, Any] | None:
        data = http.get("/v1/ledger/trial-balance", headers=admin).json()
        cash = [line for line in data["lines"] if line["account_code"] == "1000"]
        received = Decimal(cash[0]["debit"]) if cash else Decimal(0)
        return data if received == Decimal("100.00") * keys else None

    data = eventually(books)
    assert Decimal(data["total_debit"]) == Decimal(data["total_credit"])


@pytest.mark.parametrize("victim", ["payment", "loan"])
def test_a_service_killed_mid_posting_loses_and_doubles_nothing(
    http: httpx.Client, platform_token: str, fleet_control: Any, victim: str
) -> None:
    loan, agent, admin = active_loan(http, platform_token)
    keys = [f"k-{victim}-{n}-{secrets.token_hex(2)}" for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(post, http, loan, agent, key) for key in keys]
        time.sleep(0.3)
        os.kill(fleet_control.pid(victim), signal.SIGKILL)
        first = [f.result() for f in futures]
    assert any(code != 201 for code in first), "the kill should have interrupted something"
    fleet_control.up()
    # Clients retry what failed, with the same keys, until each is answered.
    for key, code in zip(keys, first, strict=True):
        if code != 201:
            eventually(lambda key=key: post(http, loan, agent, key) == 201)
    check_books(http, loan, agent, admin, len(keys))


def test_a_flood_of_one_repayment_applies_once(http: httpx.Client, platform_token: str) -> None:
    loan, agent, admin = active_loan(http, platform_token)
    key = f"flood-{secrets.token_hex(3)}"
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: post(http, loan, agent, key), range(32)))
    assert codes.count(201) >= 1
    assert set(codes) <= {201, 409}
    eventually(lambda: post(http, loan, agent, key) == 201)
    check_books(http, loan, agent, admin, 1)
