"""Issue 2, step 6: one loan carried end to end through the real fleet and servers.

HTTP → gateway (JWT) → gRPC → services → MongoDB wire / RabbitMQ / Elasticsearch.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.staff import PASSWORD, bearer
from tests.support.staff import access_token as login
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_one_loan_end_to_end(http: httpx.Client, platform_token: str) -> None:
    tag = secrets.token_hex(3)
    admin_headers = bearer(platform_token)

    # The platform admin creates an institution and its first admin.
    inst = http.post(
        "/v1/institutions",
        json={"name": f"Umoja MFI {tag}", "currency": "KES"},
        headers=admin_headers,
    )
    assert inst.status_code == 201, inst.text
    institution_id = inst.json()["id"]
    assert inst.json()["currency"] == "KES"
    admin_email = f"admin-{tag}@umoja.test"
    created = http.post(
        "/v1/users",
        headers=admin_headers,
        json={
            "email": admin_email,
            "full_name": "Ada Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": institution_id,
        },
    )
    assert created.status_code == 201, created.text
    admin = bearer(login(http, admin_email))

    # The institution admin creates a branch, an agent and a branch manager.
    branch = http.post("/v1/branches", json={"name": "Kisumu"}, headers=admin)
    assert branch.status_code == 201, branch.text
    branch_id = branch.json()["id"]
    for role in ("agent", "branch_manager"):
        user = http.post(
            "/v1/users",
            headers=admin,
            json={
                "email": f"{role}-{tag}@umoja.test",
                "full_name": f"{role.title()} {tag}",
                "role": role,
                "password": PASSWORD,
                "branch_id": branch_id,
            },
        )
        assert user.status_code == 201, user.text
    agent = bearer(login(http, f"agent-{tag}@umoja.test"))
    manager = bearer(login(http, f"branch_manager-{tag}@umoja.test"))

    # Lending settings: no approval limit until the institution's admin sets one.
    settings_url = f"/v1/institutions/{institution_id}/loan-settings"
    settings = http.get(settings_url, headers=manager)
    assert settings.status_code == 200, settings.text
    assert settings.json()["approval_limits"] == {"admin": None, "branch_manager": None}
    assert [b["name"] for b in settings.json()["delinquency_buckets"]] == [
        "current", "1-30", "31-60", "61-90", "91-180", "over_180",
    ]  # fmt: skip
    limit = {"approval_limits": {"branch_manager": "50000"}}
    assert http.put(settings_url, headers=manager, json=limit).status_code == 403
    updated = http.put(settings_url, headers=admin, json=limit)
    assert updated.status_code == 200, updated.text
    assert updated.json()["approval_limits"] == {"admin": None, "branch_manager": "50000.00"}
    one_bucket = {"delinquency_buckets": [{"name": "current", "min_days": 0, "max_days": 0}]}
    refused = http.put(settings_url, headers=admin, json=one_bucket)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "delinquency_buckets[0].max_days"

    me = http.get("/v1/me", headers=agent).json()
    assert (me["role"], me["institution_id"], me["branch_id"]) == (
        "agent",
        institution_id,
        branch_id,
    )

    # The agent registers a borrower.
    national_id = f"ID{secrets.randbelow(10**8):08d}"
    phone = f"+25471{secrets.randbelow(10**7):07d}"
    borrower = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Wanjiru",
            "last_name": "Kamau",
            "national_id": national_id,
            "phone": phone,
            "date_of_birth": "1988-05-14",
            "branch_id": branch_id,
            "gender": "female",
            "monthly_income": "25000.00",
            "business_type": "grocery",
        },
    )
    assert borrower.status_code == 201, borrower.text
    borrower_id = borrower.json()["id"]
    duplicate = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Other",
            "last_name": "Person",
            "national_id": national_id,
            "phone": f"+25471{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1990-01-01",
            "branch_id": branch_id,
        },
    )
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    assert borrower_id in duplicate.json()["detail"]

    # A loan product (the admin's job) and an application (the agent's).
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": f"Biashara {tag}",
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "annual_interest_rate": "24",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "500000",
            "min_term": 3,
            "max_term": 24,
            "days_in_year": "360",
        },
    )
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]
    # Disbursed 75 days ago: installment 1 paid, installment 2 about two weeks overdue.
    disbursed_on = date.today() - timedelta(days=75)
    loan = http.post(
        "/v1/loans",
        headers=agent,
        json={
            "borrower_id": borrower_id,
            "product_id": product_id,
            "principal": "12000.00",
            "term": 6,
            "disbursement_date": disbursed_on.isoformat(),
            "purpose": "stock",
        },
    )
    assert loan.status_code == 201, loan.text
    assert loan.json()["status"] == "submitted"
    loan_id = loan.json()["id"]

    # Maker-checker: the agent cannot approve; the manager can.
    refused = http.post(f"/v1/loans/{loan_id}/approve", headers=agent, json={})
    assert refused.status_code == 403, refused.text
    approved = http.post(f"/v1/loans/{loan_id}/approve", headers=manager, json={"note": "ok"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    disbursal = {"disbursement_date": disbursed_on.isoformat()}
    keyed = {**manager, "Idempotency-Key": f"disburse-{tag}"}
    active = http.post(f"/v1/loans/{loan_id}/disburse", headers=keyed, json=disbursal)
    assert active.status_code == 200, active.text
    # Disbursing moves money: a retry with the same key and body gives the loan again and
    # disburses nothing twice; the same key with another date is a conflict.
    again = http.post(f"/v1/loans/{loan_id}/disburse", headers=keyed, json=disbursal)
    assert again.status_code == 200, again.text
    assert again.json() == active.json()
    other = {"disbursement_date": (disbursed_on + timedelta(days=1)).isoformat()}
    reused = http.post(f"/v1/loans/{loan_id}/disburse", headers=keyed, json=other)
    assert reused.status_code == 409, reused.text
    unkeyed = http.post(f"/v1/loans/{loan_id}/disburse", headers=manager, json=disbursal)
    assert unkeyed.status_code == 409 and unkeyed.json()["status"] == 409
    schedule = active.json()["schedule"]
    assert active.json()["status"] == "active" and len(schedule) == 6
    assert sum(Decimal(i["principal"]) for i in schedule) == Decimal("12000.00")
    # 12,000 at 2% a month over 6 months: an annuity of 2,142.31 (numpy_financial.pmt).
    assert Decimal(schedule[0]["total"]) == Decimal("2142.31")

    # A repayment with an Idempotency-Key; the retry applies nothing twice.
    key = f"pay-{tag}"
    body = {"amount": "2142.31", "paid_on": (disbursed_on + timedelta(days=30)).isoformat()}
    first = http.post(
        f"/v1/loans/{loan_id}/repayments", headers={**agent, "Idempotency-Key": key}, json=body
    )
    assert first.status_code == 201, first.text
    allocation = first.json()["allocation"]
    assert Decimal(allocation["interest"]) == Decimal("240.00")
    assert Decimal(allocation["principal"]) == Decimal("1902.31")
    retry = http.post(
        f"/v1/loans/{loan_id}/repayments", headers={**agent, "Idempotency-Key": key}, json=body
    )
    assert retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
    reused = http.post(
        f"/v1/loans/{loan_id}/repayments",
        headers={**agent, "Idempotency-Key": key},
        json={**body, "amount": "10.00"},
    )
    assert reused.status_code == 409, reused.text
    # Amounts travel typed behind the gateway; the API still shows and takes decimal strings.
    shown = first.json()
    assert (shown["amount"], shown["currency"], shown["channel"]) == ("2142.31", "KES", "cash")
    assert shown["paid_on"] == body["paid_on"] and shown["loan_status"] == "active"
    assert shown["allocation"]["fees"] == "0.00" and shown["outstanding"]["total"]
    for amount in ("10.005", "10.0000000001"):
        refused = http.post(
            f"/v1/loans/{loan_id}/repayments",
            headers={**agent, "Idempotency-Key": f"dec-{amount}-{tag}"},
            json={**body, "amount": amount},
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["amount"], refused.text
    payments = http.get(f"/v1/loans/{loan_id}/repayments", headers=agent).json()["items"]
    assert len(payments) == 1 and payments[0] == shown
    after = http.get(f"/v1/loans/{loan_id}", headers=agent).json()
    assert Decimal(after["outstanding"]["principal"]) == Decimal("10097.69")

    # Search by a misspelt name, through Elasticsearch, indexed from events.
    def found() -> list[dict[str, Any]]:
        reply = http.get("/v1/borrowers", params={"q": "Wanjru Kamau"}, headers=agent)
        assert reply.status_code == 200, reply.text
        return [b for b in reply.json()["items"] if b["id"] == borrower_id]

    assert eventually(found)[0]["national_id"] == national_id

    # The portfolio report counts the loan (also indexed from events).
    def portfolio() -> dict[str, Any] | None:
        reply = http.get(
            "/v1/reports/portfolio", params={"as_of": date.today().isoformat()}, headers=admin
        )
        assert reply.status_code == 200, reply.text
        data = reply.json()
        # Repayments and loans are indexed from two event streams: wait for both.
        indexed = data["repaid"] == "2142.31" and data["gross_portfolio"] == "10097.69"
        return data if data["active_loans"] == 1 and indexed else None

    report = eventually(portfolio)
    assert report["currency"] == "KES"
    assert report["disbursed"] == "12000.00"
    # Installment 2 is unpaid and overdue (under 30 days): PAR1 holds the whole loan.
    assert report["par1"] == "1.0000" and report["par30"] == "0.0000"


def test_bad_input_and_tokens_are_refused_with_problem_json(
    http: httpx.Client, platform_token: str
) -> None:
    headers = bearer(platform_token)
    cases = [
        (
            http.post(
                "/v1/institutions",
                content=b"{not json",
                headers={**headers, "content-type": "application/json"},
            ),
            400,
        ),
        (http.post("/v1/institutions", json={"name": "x"}, headers=headers), 422),
        (http.post("/v1/institutions", json={"name": 5, "currency": "KES"}, headers=headers), 422),
        (
            http.post("/v1/institutions", json={"name": "x", "currency": "XYZ"}, headers=headers),
            422,
        ),
        (http.get("/v1/institutions/inst_unknown", headers=headers), 404),
        (http.get("/v1/me"), 401),
        (http.get("/v1/me", headers=bearer("not.a.token")), 401),
        (http.get("/v1/me", headers=bearer(platform_token[:-4] + "AAAA")), 401),
        (
            http.post(
                "/v1/institutions",
                content=b"x" * 400_000,
                headers={**headers, "content-type": "application/json"},
            ),
            413,
        ),
    ]
    for reply, status in cases:
        assert reply.status_code == status, (reply.request.url, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        problem = reply.json()
        assert {"type", "title", "status", "detail"} <= problem.keys()
        assert problem["status"] == status
    missing = http.post("/v1/institutions", json={"name": "x"}, headers=headers).json()
    assert missing["errors"] == [{"field": "currency", "message": "is required"}]


def test_quote_rejection_rescheduling_and_write_off_through_the_gateway(
    http: httpx.Client, platform_token: str
) -> None:
    tag = secrets.token_hex(3)
    root = bearer(platform_token)
    institution_id = http.post(
        "/v1/institutions", json={"name": f"Tumaini {tag}", "currency": "KES"}, headers=root
    ).json()["id"]
    http.post(
        "/v1/users",
        headers=root,
        json={
            "email": f"admin-{tag}@tumaini.test",
            "full_name": "Ada Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": institution_id,
        },
    ).raise_for_status()
    admin = bearer(login(http, f"admin-{tag}@tumaini.test"))
    branch_id = http.post("/v1/branches", json={"name": "Nakuru"}, headers=admin).json()["id"]
    for role in ("agent", "branch_manager"):
        http.post(
            "/v1/users",
            headers=admin,
            json={
                "email": f"{role}-{tag}@tumaini.test",
                "full_name": role,
                "role": role,
                "password": PASSWORD,
                "branch_id": branch_id,
            },
        ).raise_for_status()
    agent = bearer(login(http, f"agent-{tag}@tumaini.test"))
    manager = bearer(login(http, f"branch_manager-{tag}@tumaini.test"))
    borrower_id = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Achieng",
            "last_name": "Odhiambo",
            "national_id": f"ID{secrets.randbelow(10**8):08d}",
            "phone": f"+25472{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1985-03-02",
            "branch_id": branch_id,
        },
    ).json()["id"]
    # No days_in_year: 30/360, each month 1/12 of a year.
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": f"Jenga {tag}",
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "annual_interest_rate": "12",
            "repayment_frequency": "monthly",
            "min_principal": "500",
            "max_principal": "100000",
            "min_term": 3,
            "max_term": 24,
        },
    )
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]

    # A quote: 1% a month on 1,000 over 12 months is numpy_financial.pmt's 88.85, APR 12%
    # and EIR 12.68% (DOMAIN's MFTransparency example); no record is kept.
    quote = http.post(
        "/v1/loan-quotes",
        headers=agent,
        json={
            "product_id": product_id,
            "principal": "1000",
            "term": 12,
            "disbursement_date": "2026-01-15",
        },
    )
    assert quote.status_code == 200, quote.text
    installments = quote.json()["installments"]
    assert [i["total"] for i in installments[:11]] == ["88.85"] * 11
    assert sum(Decimal(i["principal"]) for i in installments) == Decimal("1000.00")
    assert (Decimal(quote.json()["apr"]), Decimal(quote.json()["eir"])) == (
        Decimal("12.00"),
        Decimal("12.68"),
    )
    too_big = http.post(
        "/v1/loans",
        headers=agent,
        json={
            "borrower_id": borrower_id,
            "product_id": product_id,
            "principal": "200000",
            "term": 6,
        },
    )
    assert too_big.status_code == 422, too_big.text
    assert [e["field"] for e in too_big.json()["errors"]] == ["principal"]

    def apply(principal: str) -> str:
        created = http.post(
            "/v1/loans",
            headers=agent,
            json={
                "borrower_id": borrower_id,
                "product_id": product_id,
                "principal": principal,
                "term": 6,
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    # Rejected, then disbursing it is an illegal transition that states the current status.
    refused = apply("3000")
    rejected = http.post(
        f"/v1/loans/{refused}/reject", headers=manager, json={"reason": "no business yet"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    late = http.post(
        f"/v1/loans/{refused}/disburse",
        headers=manager,
        json={"disbursement_date": date.today().isoformat()},
    )
    assert late.status_code == 409, late.text
    assert "rejected" in late.json()["detail"]

    # Disbursed two months ago, rescheduled to a longer term, then written off.
    loan_id = apply("6000")
    assert http.post(f"/v1/loans/{loan_id}/approve", headers=manager).status_code == 200
    disbursed = http.post(
        f"/v1/loans/{loan_id}/disburse",
        headers=manager,
        json={"disbursement_date": (date.today() - timedelta(days=60)).isoformat()},
    )
    assert disbursed.status_code == 200, disbursed.text
    rescheduled = http.post(
        f"/v1/loans/{loan_id}/reschedule",
        headers=manager,
        json={"new_term": 12, "reason": "harvest failed", "grace_on_principal": 1},
    )
    assert rescheduled.status_code == 200, rescheduled.text
    assert rescheduled.json()["rescheduled"] is True
    assert rescheduled.json()["status"] == "active"
    assert sum(Decimal(i["principal"]) for i in rescheduled.json()["schedule"]) >= Decimal(
        rescheduled.json()["outstanding"]["principal"]
    )
    written_off = http.post(
        f"/v1/loans/{loan_id}/write-off", headers=manager, json={"reason": "borrower left"}
    )
    assert written_off.status_code == 200, written_off.text
    assert written_off.json()["status"] == "written_off"
    assert Decimal(written_off.json()["written_off_principal"]) == Decimal("6000.00")
    again = http.post(f"/v1/loans/{loan_id}/write-off", headers=manager, json={"reason": "twice"})
    assert again.status_code == 409, again.text
