"""Issue 14's group journey through the gateway: a group of five borrows under joint
liability, one member misses a payment, the group's arrears show on every member and block a
new group loan, the group catches up and borrows again."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support.staff import make_institution, register_borrower

pytestmark = pytest.mark.e2e


def _ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def test_a_group_of_five_falls_behind_is_held_jointly_and_catches_up(
    http: httpx.Client, platform_token: str
) -> None:
    mfi = make_institution(http, platform_token)
    agent, manager, admin = (mfi.headers[r] for r in ("agent", "branch_manager", "admin"))
    members = [mfi.borrower_id] + [
        register_borrower(http, agent, mfi.branch_id)["id"] for _ in range(4)
    ]
    group = _ok(
        http.post(
            "/v1/groups",
            headers=agent,
            json={"name": "Jitegemee", "member_ids": members, "meeting_day": "wednesday"},
        ),
        201,
    )
    product = _ok(
        http.post(
            "/v1/loan-products",
            headers=admin,
            json={
                "name": f"Jitegemee {secrets.token_hex(2)}",
                "interest_method": "flat",
                "annual_interest_rate": "12",
                "repayment_frequency": "monthly",
                "min_principal": "1000",
                "max_principal": "50000",
                "min_term": 1,
                "max_term": 12,
                "group_lending": True,
                "min_group_members": 5,
                "max_group_members": 30,
                "joint_liability": True,
            },
        ),
        201,
    )["id"]

    def apply() -> httpx.Response:
        return http.post(
            "/v1/group-loans",
            headers=agent,
            json={
                "group_id": group["id"],
                "product_id": product,
                "term": 4,
                "members": [{"borrower_id": b, "principal": "12000"} for b in members],
            },
        )

    four = http.post(
        "/v1/group-loans",
        headers=agent,
        json={
            "group_id": group["id"],
            "product_id": product,
            "term": 4,
            "members": [{"borrower_id": b, "principal": "12000"} for b in members[:4]],
        },
    )
    assert four.status_code == 422 and four.json()["errors"][0]["field"] == "members"

    glid = _ok(apply(), 201)["id"]
    _ok(http.post(f"/v1/group-loans/{glid}/approve", headers=manager, json={}))
    loans = _ok(
        http.post(
            f"/v1/group-loans/{glid}/disburse",
            headers=manager,
            json={"disbursement_date": "2026-06-01"},
        )
    )["loans"]
    loan_ids = [x["loan_id"] for x in loans]
    # 12,000 at 12% flat over 4 months: 3,120 a month. The first falls due on 2026-07-01;
    # four members pay it at the meeting, the fifth does not.
    paid = _ok(
        http.post(
            f"/v1/group-loans/{glid}/repayments",
            headers={**agent, "Idempotency-Key": f"m1-{secrets.token_hex(4)}"},
            json={
                "paid_on": "2026-07-01",
                "amount": "12480",
                "parts": [{"loan_id": i, "amount": "3120"} for i in loan_ids[:4]],
            },
        ),
        201,
    )
    assert len(paid["parts"]) == 4

    job = _ok(http.post("/v1/jobs/close-of-business", headers=admin, json={"as_of": "2026-07-20"}))
    assert job["state"] == "completed"
    behind = _ok(http.get(f"/v1/group-loans/{glid}", headers=agent))
    assert behind["days_past_due"] == 19
    assert [x["days_past_due"] for x in behind["loans"]] == [0, 0, 0, 0, 19]
    # Jointly liable: the group's arrears show on every member's loan.
    for loan_id in loan_ids:
        assert _ok(http.get(f"/v1/loans/{loan_id}", headers=agent))["group_days_past_due"] == 19
    blocked = apply()
    assert blocked.status_code == 409, blocked.text
    assert blocked.json()["reason"] == "GROUP_IN_ARREARS"

    # The fifth member catches up; the group borrows again.
    _ok(
        http.post(
            f"/v1/loans/{loan_ids[4]}/repayments",
            headers={**agent, "Idempotency-Key": f"c-{secrets.token_hex(4)}"},
            json={"paid_on": "2026-07-20", "amount": "3120"},
        ),
        201,
    )
    caught_up = _ok(http.get(f"/v1/group-loans/{glid}", headers=agent))
    assert caught_up["days_past_due"] == 0
    assert _ok(http.get(f"/v1/loans/{loan_ids[0]}", headers=agent))["group_days_past_due"] == 0
    again = _ok(apply(), 201)
    assert again["status"] == "submitted" and len(again["loans"]) == 5
    listed = _ok(http.get("/v1/group-loans", headers=agent, params={"group_id": group["id"]}))
    assert [g["id"] for g in listed["items"]] == [glid, again["id"]]
