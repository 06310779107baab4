"""Issue 3 through the gateway: tenancy, roles, smuggled fields, sessions, the audit trail."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-Horse-Battery-9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokens(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    reply = http.post("/v1/auth/login", json={"email": email, "password": password})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def eventually(check: Callable[[], Any], limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not observed in time")
        time.sleep(0.2)
    return result


def make_institution(http: httpx.Client, platform: dict[str, str]) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    inst = http.post(
        "/v1/institutions", json={"name": f"MFI {tag}", "currency": "UGX"}, headers=platform
    ).json()
    admin_email = f"admin-{tag}@mfi.test"
    assert (
        http.post(
            "/v1/users",
            headers=platform,
            json={
                "email": admin_email,
                "full_name": "Admin",
                "role": "admin",
                "password": PASSWORD,
                "institution_id": inst["id"],
            },
        ).status_code
        == 201
    )
    admin = bearer(tokens(http, admin_email)["access_token"])
    branch = http.post("/v1/branches", json={"name": "Main"}, headers=admin).json()
    agent_email = f"agent-{tag}@mfi.test"
    assert (
        http.post(
            "/v1/users",
            headers=admin,
            json={
                "email": agent_email,
                "full_name": "Agent",
                "role": "agent",
                "password": PASSWORD,
                "branch_id": branch["id"],
            },
        ).status_code
        == 201
    )
    agent = bearer(tokens(http, agent_email)["access_token"])
    borrower = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Okello",
            "last_name": "Peter",
            "national_id": f"CM{secrets.randbelow(10**10):010d}AB",
            "phone": f"+25677{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1985-02-01",
            "branch_id": branch["id"],
        },
    )
    assert borrower.status_code == 201, borrower.text
    return {
        "id": inst["id"],
        "admin": admin,
        "agent": agent,
        "branch": branch["id"],
        "borrower": borrower.json()["id"],
        "agent_email": agent_email,
    }


def test_tenancy_roles_and_smuggled_fields(http: httpx.Client, platform_token: str) -> None:
    platform = bearer(platform_token)
    one, two = make_institution(http, platform), make_institution(http, platform)

    # Another institution's records do not exist for you.
    assert http.get(f"/v1/borrowers/{two['borrower']}", headers=one["agent"]).status_code == 404
    assert http.get(f"/v1/borrowers/{two['borrower']}", headers=one["admin"]).status_code == 404
    other_branch = http.post(
        "/v1/borrowers",
        headers=one["admin"],
        json={
            "first_name": "A",
            "last_name": "B",
            "national_id": "X1234567",
            "phone": "+256700000001",
            "date_of_birth": "1980-01-01",
            "branch_id": two["branch"],
        },
    )
    assert other_branch.status_code == 422, other_branch.text
    # The platform admin manages institutions, not their borrowers.
    assert http.get(f"/v1/borrowers/{one['borrower']}", headers=platform).status_code == 403

    # An agent may not create an admin, nor approve loans.
    made = http.post(
        "/v1/users",
        headers=one["agent"],
        json={
            "email": f"x-{secrets.token_hex(3)}@mfi.test",
            "full_name": "X",
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 403
    assert made.headers["content-type"].startswith("application/problem+json")

    # Fields that must not be set by the body are refused, naming them.
    smuggled = http.post(
        "/v1/borrowers",
        headers=one["agent"],
        json={
            "first_name": "A",
            "last_name": "B",
            "national_id": "Y1234567",
            "phone": "+256700000002",
            "date_of_birth": "1980-01-01",
            "branch_id": one["branch"],
            "institution_id": two["id"],
        },
    )
    assert smuggled.status_code == 422
    assert smuggled.json()["errors"][0]["field"] == "institution_id"
    bad = http.post(
        "/v1/borrowers",
        headers=one["agent"],
        json={
            "first_name": "A",
            "last_name": "B",
            "national_id": "!!",
            "phone": "0712345678",
            "date_of_birth": "2015-01-01",
            "branch_id": one["branch"],
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"national_id", "phone", "date_of_birth"}

    # Searches never cross institutions.
    def hits() -> list[dict[str, Any]]:
        reply = http.get("/v1/borrowers", params={"q": "Okello Peter"}, headers=one["agent"])
        return list(reply.json()["items"])

    found = eventually(hits)
    assert {b["id"] for b in found} == {one["borrower"]}


def test_sessions_refresh_rotation_and_revocation(http: httpx.Client, platform_token: str) -> None:
    inst = make_institution(http, bearer(platform_token))
    first = tokens(http, inst["agent_email"])
    rotated = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    # The old refresh token is spent; presenting it again ends the whole session.
    reused = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert http.get("/v1/me", headers=bearer(rotated.json()["access_token"])).status_code == 401

    # Logout revokes at once; disabling a user revokes their sessions at once.
    second = tokens(http, inst["agent_email"])
    assert http.post("/v1/auth/logout", headers=bearer(second["access_token"])).status_code == 204
    assert http.get("/v1/me", headers=bearer(second["access_token"])).status_code == 401
    third = tokens(http, inst["agent_email"])
    me = http.get("/v1/me", headers=bearer(third["access_token"])).json()
    assert http.post(f"/v1/users/{me['id']}/disable", headers=inst["admin"]).status_code == 200
    assert http.get("/v1/me", headers=bearer(third["access_token"])).status_code == 401
    refused = http.post("/v1/auth/login", json={"email": inst["agent_email"], "password": PASSWORD})
    assert refused.status_code == 401


def test_every_change_is_in_a_verifiable_audit_trail(
    http: httpx.Client, platform_token: str
) -> None:
    inst = make_institution(http, bearer(platform_token))

    def entries() -> list[dict[str, Any]]:
        reply = http.get("/v1/audit-log", headers=inst["admin"])
        assert reply.status_code == 200, reply.text
        items = list(reply.json()["items"])
        actions = {e["action"] for e in items}
        return items if {"branches.create", "users.create", "borrowers.create"} <= actions else []

    items = eventually(entries)
    created = next(e for e in items if e["action"] == "borrowers.create")
    assert created["target_kind"] == "borrowers" and created["request_id"]
    users = [e for e in items if e["action"] == "users.create"]
    assert all("[redacted]" in e["summary_json"] for e in users)
    assert all(PASSWORD not in e["summary_json"] for e in items)
    verified = http.get("/v1/audit-log/verify", headers=inst["admin"]).json()
    assert verified["ok"] is True and int(verified["checked"]) >= 3
