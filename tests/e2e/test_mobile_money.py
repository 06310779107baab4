"""Issue 5 item 6: a signed mobile-money callback that matches one active loan is posted by
payment_service itself, with a service token from auth_service that loan_service accepts;
one that matches nothing waits in suspense. Service tokens work between services only."""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest

from kopa.auth.v1 import auth_pb2, auth_pb2_grpc
from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from payment_service.domain.mobile_money import signature_header
from tests.support.rpc import md
from tests.support.staff import PASSWORD, bearer, login
from tests.support.waiting import eventually
from tools.fleet import pid_of, ports, service_secret

pytestmark = pytest.mark.e2e

CALLBACK_SECRET = secrets.token_hex(24)


def active_loan(http: httpx.Client, platform_token: str) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    platform = bearer(platform_token)
    inst = http.post(
        "/v1/institutions", json={"name": f"Paybill {tag}", "currency": "KES"}, headers=platform
    ).json()
    user = {"full_name": "Staff", "password": PASSWORD}
    made = http.post(
        "/v1/users",
        headers=platform,
        json={
            **user,
            "email": f"admin-{tag}@mm.test",
            "role": "admin",
            "institution_id": inst["id"],
        },
    )
    assert made.status_code == 201, made.text
    admin = login(http, f"admin-{tag}@mm.test")
    branch = http.post("/v1/branches", json={"name": "Main"}, headers=admin).json()["id"]
    for role in ("agent", "branch_manager"):
        body = {**user, "email": f"{role}-{tag}@mm.test", "role": role, "branch_id": branch}
        assert http.post("/v1/users", headers=admin, json=body).status_code == 201
    agent, manager = (
        login(http, f"agent-{tag}@mm.test"),
        login(http, f"branch_manager-{tag}@mm.test"),
    )
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": "Biashara",
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
            "first_name": "Wanjiru",
            "last_name": "Kamau",
            "national_id": f"M{secrets.randbelow(10**9):09d}",
            "phone": f"+25471{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1984-04-04",
            "branch_id": branch,
        },
    ).json()["id"]
    loan = http.post(
        "/v1/loans",
        headers=agent,
        json={"borrower_id": borrower, "product_id": product, "principal": "50000.00", "term": 6},
    ).json()["id"]
    # No body at all: the note is optional (API.md `{note?}`).
    assert http.post(f"/v1/loans/{loan}/approve", headers=manager).status_code == 200
    started = (date.today() - timedelta(days=10)).isoformat()
    disbursed = http.post(
        f"/v1/loans/{loan}/disburse", headers=manager, json={"disbursement_date": started}
    )
    assert disbursed.status_code == 200, disbursed.text
    return {"id": inst["id"], "loan": loan, "admin": admin, "agent": agent}


def with_callback_secret(fleet: Any, institution_id: str) -> None:
    """Restart payment_service knowing the institution's paybill secret (configuration is
    read at start, and the institution did not exist when the fleet started)."""
    fleet.env["MOBILE_MONEY_SECRETS"] = json.dumps({institution_id: [CALLBACK_SECRET]})
    os.killpg(fleet.pid("payment"), signal.SIGTERM)
    eventually(lambda: pid_of(fleet.state, "payment") is None)
    fleet.up()


def deliver(http: httpx.Client, institution_id: str, reference: str, amount: str) -> Any:
    body = json.dumps(
        {
            "transaction_id": f"QK{secrets.token_hex(5).upper()}",
            "account_reference": reference,
            "msisdn": "+254712345678",
            "amount": amount,
            "currency": "KES",
            "transacted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()
    signed = signature_header(CALLBACK_SECRET.encode(), body, int(time.time()))
    reply = http.post(
        f"/v1/mobile-money/{institution_id}/callbacks",
        content=body,
        headers={"X-Kopa-Signature": signed, "content-type": "application/json"},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["payment"]


def trial_balance(http: httpx.Client, admin: dict[str, str]) -> dict[str, dict[str, Decimal]]:
    data = http.get("/v1/ledger/trial-balance", headers=admin).json()
    assert Decimal(data["total_debit"]) == Decimal(data["total_credit"])  # the books balance
    return {
        line["account_code"]: {"debit": Decimal(line["debit"]), "credit": Decimal(line["credit"])}
        for line in data["lines"]
    }


def test_a_matched_callback_is_posted_and_an_unmatched_one_waits_in_suspense(
    http: httpx.Client, platform_token: str, fleet: Any
) -> None:
    mfi = active_loan(http, platform_token)
    with_callback_secret(fleet, mfi["id"])
    # payment_service learns of the loan from its events (the disbursement is booked then).
    eventually(lambda: "1100" in trial_balance(http, mfi["admin"]))
    before = http.get(f"/v1/loans/{mfi['loan']}", headers=mfi["agent"]).json()["outstanding"]

    posted = deliver(http, mfi["id"], f" {mfi['loan'].lower()} ", "1500.00")
    assert posted["status"] == "posted" and posted["loan_id"] == mfi["loan"]
    allocation = posted["allocation"]
    assert Decimal(allocation["principal"]) + Decimal(allocation["interest"]) == Decimal("1500.00")
    after = http.get(f"/v1/loans/{mfi['loan']}", headers=mfi["agent"]).json()["outstanding"]
    # (The total outstanding falls by more: less principal also means less interest to come.)
    paid_principal = Decimal(before["principal"]) - Decimal(after["principal"])
    assert paid_principal == Decimal(allocation["principal"]) > 0
    repayments = http.get(f"/v1/loans/{mfi['loan']}/repayments", headers=mfi["agent"]).json()
    assert [p["id"] for p in repayments["items"]] == [posted["id"]]

    stray = deliver(http, mfi["id"], "NOT-A-LOAN", "700.00")
    assert stray["status"] == "suspense" and not stray["loan_id"]
    waiting = http.get("/v1/suspense", headers=mfi["agent"]).json()["items"]
    assert [p["id"] for p in waiting] == [stray["id"]]

    books = trial_balance(http, mfi["admin"])
    # The wallet holds both; suspense holds only what matched nothing.
    assert books["1020"]["debit"] - books["1020"]["credit"] == Decimal("2200.00")
    assert books["2900"]["credit"] - books["2900"]["debit"] == Decimal("700.00")


def test_service_tokens_work_between_services_only(
    http: httpx.Client, platform_token: str, fleet: Any
) -> None:
    mfi = active_loan(http, platform_token)
    port = ports(int(fleet.args[fleet.args.index("--port-base") + 1]))
    credential = service_secret(fleet.state)["KOPA_SERVICE_SECRET"]
    with (
        grpc.insecure_channel(f"127.0.0.1:{port['auth']}") as auth_channel,
        grpc.insecure_channel(f"127.0.0.1:{port['loan']}") as loan_channel,
    ):
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        loans = loan_pb2_grpc.LoanServiceStub(loan_channel)

        def token_for(institution_id: str) -> str:
            request = auth_pb2.IssueServiceTokenRequest(
                service="payment_service", institution_id=institution_id, credential=credential
            )
            return str(auth.IssueServiceToken(request).access_token)

        own, foreign = token_for(mfi["id"]), token_for("inst_elsewhere")
        read = loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=mfi["loan"]), metadata=md(own))
        assert read.loan.id == mfi["loan"]
        # Another institution's token finds nothing; its own may not approve anything.
        for call, code in (
            (
                lambda: loans.GetLoan(
                    loan_pb2.GetLoanRequest(loan_id=mfi["loan"]), metadata=md(foreign)
                ),
                grpc.StatusCode.NOT_FOUND,
            ),
            (
                lambda: loans.ApproveLoan(
                    loan_pb2.ApproveLoanRequest(loan_id=mfi["loan"]), metadata=md(own)
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            ),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == code
    # The gateway does not take it at all.
    outside = http.get(f"/v1/loans/{mfi['loan']}", headers=bearer(own))
    assert outside.status_code == 401
    assert outside.headers["content-type"].startswith("application/problem+json")
    assert outside.json()["reason"] == "SERVICE_TOKEN_REFUSED"
