"""Issue 14, parts 2 and 3 through the gateway: a group loan applied for, approved and
disbursed as one, a meeting's repayment split across the member loans exactly once; and an
individual loan's guarantors and collateral checked at approval."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.staff import Institution, make_institution, register_borrower
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def _ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def _product(http: httpx.Client, mfi: Institution, **rules: Any) -> str:
    body = {
        "name": f"Product {secrets.token_hex(2)}",
        "interest_method": "flat",
        "annual_interest_rate": "24",
        "repayment_frequency": "monthly",
        "min_principal": "1000",
        "max_principal": "100000",
        "min_term": 1,
        "max_term": 12,
        **rules,
    }
    return str(
        _ok(http.post("/v1/loan-products", headers=mfi.headers["admin"], json=body), 201)["id"]
    )


def test_a_group_borrows_repays_at_its_meeting_and_is_held_jointly(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    agent, manager = mfi.headers["agent"], mfi.headers["branch_manager"]
    members = [mfi.borrower_id] + [
        register_borrower(http, agent, mfi.branch_id)["id"] for _ in range(2)
    ]
    center = _ok(
        http.post("/v1/centers", headers=agent, json={"name": "Soko", "meeting_day": "monday"}),
        201,
    )
    group = _ok(
        http.post(
            "/v1/groups",
            headers=agent,
            json={"name": "Upendo", "member_ids": members, "center_id": center["id"]},
        ),
        201,
    )
    product = _product(
        http, mfi, group_lending=True, min_group_members=2, max_group_members=5,
        joint_liability=True,
    )  # fmt: skip
    assert _ok(http.get(f"/v1/loan-products/{product}", headers=agent))["joint_liability"] is True
    individual = _product(http, mfi)

    not_for_groups = http.post(
        "/v1/group-loans",
        headers=agent,
        json={
            "group_id": group["id"],
            "product_id": individual,
            "term": 4,
            "members": [{"borrower_id": members[0], "principal": "10000"}],
        },
    )
    assert not_for_groups.status_code == 422
    assert [e["field"] for e in not_for_groups.json()["errors"]] == ["product_id"]
    bad = http.post(
        "/v1/group-loans",
        headers=agent,
        json={
            "group_id": group["id"],
            "product_id": product,
            "term": 4,
            "members": [
                {"borrower_id": members[0], "principal": "10000"},
                {"borrower_id": members[1], "principal": "900000"},
            ],
        },
    )
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["members[1].principal"]

    body = {
        "group_id": group["id"],
        "product_id": product,
        "term": 4,
        "members": [
            {"borrower_id": members[0], "principal": "10000"},
            {"borrower_id": members[1], "principal": "20000"},
            {"borrower_id": members[2], "principal": "10000"},
        ],
    }
    key = {"Idempotency-Key": f"gl-{secrets.token_hex(4)}"}
    applied = _ok(http.post("/v1/group-loans", headers={**agent, **key}, json=body), 201)
    assert applied["status"] == "submitted"
    assert [loan["borrower_id"] for loan in applied["loans"]] == members
    again = _ok(http.post("/v1/group-loans", headers={**agent, **key}, json=body), 201)
    assert again["id"] == applied["id"]
    glid = applied["id"]
    loan_ids = [loan["loan_id"] for loan in applied["loans"]]
    one = _ok(http.get(f"/v1/loans/{loan_ids[1]}", headers=agent))
    assert (one["status"], one["principal"]) == ("submitted", "20000.00")

    approved = _ok(http.post(f"/v1/group-loans/{glid}/approve", headers=manager, json={}))
    assert approved["status"] == "approved"
    assert {loan["status"] for loan in approved["loans"]} == {"approved"}
    active = _ok(
        http.post(
            f"/v1/group-loans/{glid}/disburse",
            headers=manager,
            json={"disbursement_date": "2026-01-05"},
        )
    )
    assert active["status"] == "active"
    assert Decimal(active["outstanding"]) > Decimal("40000")

    # The agent's sheet for the meeting lists the members under their centre and group.
    sheet = _ok(http.get("/v1/collection-sheets", headers=manager, params={"date": "2026-02-05"}))
    mine = [i for i in sheet["items"] if i["loan_id"] in loan_ids]
    assert {(i["center_id"], i["group_id"]) for i in mine} == {(center["id"], group["id"])}
    assert sorted(i["loan_id"] for i in mine) == sorted(loan_ids)

    # At the meeting after the first due date the group hands over one amount: split pro
    # rata to what each member owes (the 20,000 loan owes twice the others).
    pay_key = {"Idempotency-Key": f"gp-{secrets.token_hex(4)}"}
    paid = _ok(
        http.post(
            f"/v1/group-loans/{glid}/repayments",
            headers={**agent, **pay_key},
            json={"paid_on": "2026-02-05", "amount": "12000"},
        ),
        201,
    )
    parts = {p["loan_id"]: Decimal(p["amount"]) for p in paid["parts"]}
    assert sum(parts.values()) == Decimal("12000") == Decimal(paid["amount"])
    assert parts[loan_ids[1]] == 2 * parts[loan_ids[0]] == 2 * parts[loan_ids[2]]
    replay = _ok(
        http.post(
            f"/v1/group-loans/{glid}/repayments",
            headers={**agent, **pay_key},
            json={"paid_on": "2026-02-05", "amount": "12000"},
        ),
        201,
    )
    assert replay["parts"] == paid["parts"]  # nothing applied twice
    for loan_id in loan_ids:
        repayments = _ok(http.get(f"/v1/loans/{loan_id}/repayments", headers=agent))["items"]
        assert [Decimal(r["amount"]) for r in repayments] == [parts[loan_id]]
    reused = http.post(
        f"/v1/group-loans/{glid}/repayments",
        headers={**agent, **pay_key},
        json={"paid_on": "2026-02-05", "amount": "5000"},
    )
    assert reused.status_code == 409, reused.text

    # Entered per member: only the first member pays this time.
    entered = _ok(
        http.post(
            f"/v1/group-loans/{glid}/repayments",
            headers={**agent, "Idempotency-Key": f"gp-{secrets.token_hex(4)}"},
            json={"paid_on": "2026-02-06", "parts": [{"loan_id": loan_ids[0], "amount": "500"}]},
        ),
        201,
    )
    assert [(p["loan_id"], p["amount"]) for p in entered["parts"]] == [(loan_ids[0], "500.00")]

    seen = _ok(http.get(f"/v1/group-loans/{glid}", headers=agent))
    assert Decimal(seen["outstanding"]) == sum(Decimal(x["outstanding"]) for x in seen["loans"])

    # The portfolio report counts each member loan once, under its centre and group.
    def by_center() -> dict[str, Any] | None:
        report = _ok(
            http.get("/v1/reports/portfolio", headers=manager, params={"group_by": "center"})
        )
        rows = {g["key"]: g for g in report["groups"]}
        return rows if rows.get(center["id"], {}).get("active_loans") == 3 else None

    rows = eventually(by_center)
    assert Decimal(rows[center["id"]]["gross_portfolio"]) < Decimal("40000")  # partly repaid
    by_group = _ok(http.get("/v1/reports/portfolio", headers=manager, params={"group_by": "group"}))
    assert {g["key"]: g["active_loans"] for g in by_group["groups"]}[group["id"]] == 3
    assert "groups" not in _ok(http.get("/v1/reports/portfolio", headers=manager))

    # Another institution sees nothing of it.
    other = make_institution(http, platform_token)
    assert http.get(f"/v1/group-loans/{glid}", headers=other.headers["admin"]).status_code == 404


def test_approval_needs_the_security_the_product_requires(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    agent, manager = mfi.headers["agent"], mfi.headers["branch_manager"]
    product = _product(http, mfi, min_security_coverage="1.2")
    guarantor = register_borrower(http, agent, mfi.branch_id)["id"]
    loan = _ok(
        http.post(
            "/v1/loans",
            headers=agent,
            json={
                "borrower_id": mfi.borrower_id,
                "product_id": product,
                "principal": "50000",
                "term": 6,
            },
        ),
        201,
    )
    url = f"/v1/loans/{loan['id']}"
    _ok(
        http.post(
            f"{url}/guarantors", headers=agent, json={"borrower_id": guarantor, "amount": "30000"}
        ),
        201,
    )
    own = http.post(
        f"{url}/guarantors", headers=agent, json={"borrower_id": mfi.borrower_id, "amount": "1"}
    )
    assert own.status_code == 422 and own.json()["errors"][0]["field"] == "borrower_id"
    item = _ok(
        http.post(
            f"{url}/collateral",
            headers=agent,
            json={"type": "vehicle", "description": "Boda boda KMDA 123X", "value": "20000"},
        ),
        201,
    )
    assert (item["value"], item["currency"]) == ("20000.00", "KES")

    refused = http.post(f"{url}/approve", headers=manager, json={})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["reason"] == "SECURITY_INSUFFICIENT"
    assert "10000.00" in problem["detail"]  # 60,000 required, 50,000 given

    _ok(
        http.post(
            f"{url}/guarantors",
            headers=agent,
            json={
                "full_name": "Juma Otieno",
                "national_id": "A1234567",
                "phone": "+254712345678",
                "amount": "10000",
            },
        ),
        201,
    )
    securities = _ok(http.get(f"{url}/securities", headers=agent))
    assert (securities["coverage"], securities["required"]) == ("60000.00", "60000.00")
    assert len(securities["guarantors"]) == 2
    assert _ok(http.post(f"{url}/approve", headers=manager, json={}))["status"] == "approved"

    gone = http.delete(f"{url}/collateral/{item['id']}", headers=agent)
    assert gone.status_code == 204
    _ok(http.post(f"{url}/disburse", headers=manager, json={"disbursement_date": "2026-01-05"}))
    late = http.post(
        f"{url}/collateral",
        headers=agent,
        json={"type": "land", "description": "Plot 7", "value": "1000"},
    )
    assert late.status_code == 409 and late.json()["reason"] == "LOAN_NOT_OPEN_FOR_SECURITIES"


def test_a_product_requiring_kyc_waits_for_a_verified_borrower(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    agent, manager = mfi.headers["agent"], mfi.headers["branch_manager"]
    product = _product(http, mfi, requires_kyc_verified=True)
    loan = _ok(
        http.post(
            "/v1/loans",
            headers=agent,
            json={
                "borrower_id": mfi.borrower_id,
                "product_id": product,
                "principal": "5000",
                "term": 3,
            },
        ),
        201,
    )
    url = f"/v1/loans/{loan['id']}"
    _ok(http.post(f"{url}/approve", headers=manager, json={}))
    refused = http.post(
        f"{url}/disburse", headers=manager, json={"disbursement_date": "2026-01-05"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "KYC_NOT_VERIFIED"
    assert _ok(http.get(url, headers=agent))["status"] == "approved"
    _ok(
        http.put(
            f"/v1/borrowers/{mfi.borrower_id}/kyc-status",
            headers=manager,
            json={"status": "verified", "note": "national ID seen"},
        )
    )
    active = _ok(
        http.post(f"{url}/disburse", headers=manager, json={"disbursement_date": "2026-01-05"})
    )
    assert active["status"] == "active"
