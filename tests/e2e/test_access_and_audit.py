"""Issue 3 through the gateway: tenancy, roles, smuggled fields, sessions, forged tokens,
required MFA, the audit trail."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from pymongo import MongoClient

from shared.permissions import Principal, Role
from shared.tokens import KeySet, SigningKey, issue_access_token
from tests.support.staff import PASSWORD, bearer, register_borrower, tokens
from tests.support.staff import make_institution as staffed_institution
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


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
        "admin_email": admin_email,
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


def b64json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unverified(segment: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def signing_key(mongodb_url: str, kid: str) -> SigningKey:
    """The fleet's real signing key `kid`, read from auth_service's database: what signed a
    token someone kept after it expired."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)
    with client:
        for name in (n for n in client.list_database_names() if n.endswith("_auth")):
            doc = client[name].signing_keys.find_one({"_id": kid})
            if doc is not None:
                return SigningKey.from_pem(doc["pem"], doc["activate_at"])
    raise AssertionError(f"signing key {kid} not found")


def test_forged_and_expired_tokens_are_refused_and_change_nothing(
    http: httpx.Client, platform_token: str, server_urls: dict[str, str]
) -> None:
    inst = make_institution(http, bearer(platform_token))
    admin_id = http.get("/v1/me", headers=inst["admin"]).json()["id"]
    # Every attack claims to be the institution's admin; the attacker holds an agent's token.
    as_admin = Principal(admin_id, Role.ADMIN, inst["id"], None, f"ses_{secrets.token_hex(4)}")
    agent_header, agent_payload, agent_signature = (
        inst["agent"]["Authorization"].removeprefix("Bearer ").split(".")
    )
    escalated = {**unverified(agent_payload), "sub": admin_id, "role": "admin", "branch": None}
    none_header = {**unverified(agent_header), "alg": "none"}
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    attacks = {
        "TOKEN_ALG_REJECTED": f"{b64json(none_header)}.{b64json(escalated)}.",
        "TOKEN_SIGNATURE_INVALID": f"{agent_header}.{b64json(escalated)}.{agent_signature}",
        "TOKEN_KID_UNKNOWN": issue_access_token(KeySet.generate(), as_admin).token,
        "TOKEN_EXPIRED": issue_access_token(
            KeySet([signing_key(server_urls["MONGODB_URL"], unverified(agent_header)["kid"])]),
            as_admin,
            now=an_hour_ago,
        ).token,
    }
    before = http.get("/v1/branches", headers=inst["admin"]).json()["items"]
    for reason, token in attacks.items():
        reply = http.post("/v1/branches", json={"name": f"Forged {reason}"}, headers=bearer(token))
        assert reply.status_code == 401, (reason, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        problem = reply.json()
        assert (problem["status"], problem["reason"]) == (401, reason)
    assert http.get("/v1/branches", headers=inst["admin"]).json()["items"] == before
    # Later changes are audited, so had the forged ones got through they would be there too.
    assert (
        http.post("/v1/branches", json={"name": "Real"}, headers=inst["admin"]).status_code == 201
    )

    def entries() -> list[dict[str, Any]]:
        items = http.get("/v1/audit-log", headers=inst["admin"], params={"page_size": 200})
        found = items.json()["items"]
        return found if any("Real" in e["summary_json"] for e in found) else []

    assert not any("Forged" in e["summary_json"] for e in eventually(entries))


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


def test_the_audit_trail_of_one_record_and_sign_outs(
    http: httpx.Client, platform_token: str
) -> None:
    """A borrower's file shows the entries about that borrower, from its registration on (the
    new id comes from the answer), a loan page those about the loan; nothing of another
    record, nor of another institution's trail. Sign-outs are in the trail too."""
    inst, other = (
        staffed_institution(http, platform_token),
        staffed_institution(http, platform_token),
    )
    auditor, manager = inst.headers["auditor"], inst.headers["branch_manager"]
    ids = {role: http.get("/v1/me", headers=h).json()["id"] for role, h in inst.headers.items()}
    # An agent's session registers and edits a borrower, then signs out at once.
    leaving = bearer(tokens(http, inst.emails["agent"])["access_token"])
    made = register_borrower(http, leaving, inst.branch_id, first_name="Nafula")
    borrower_id = made["id"]
    consent = http.post(
        f"/v1/borrowers/{borrower_id}/consents", json={"kind": "credit_check"}, headers=manager
    )
    assert consent.status_code == 201, consent.text
    changes = {"business_type": "tailoring"}
    edited = http.patch(f"/v1/borrowers/{borrower_id}", json=changes, headers=leaving)
    assert edited.status_code == 200, edited.text
    assert http.post("/v1/auth/logout", headers=leaving).status_code == 204
    # Changes to another borrower, and a loan for this one, are about other records.
    elsewhere = http.patch(
        f"/v1/borrowers/{inst.borrower_id}", json=changes, headers=inst.headers["agent"]
    )
    assert elsewhere.status_code == 200, elsewhere.text
    applied = http.post(
        "/v1/loans",
        headers=inst.headers["agent"],
        json={
            "borrower_id": borrower_id,
            "product_id": inst.product_id,
            "principal": "20000",
            "term": 6,
        },
    )
    assert applied.status_code == 201, applied.text
    loan_id = applied.json()["id"]

    def trail(headers: dict[str, str], **query: Any) -> httpx.Response:
        reply = http.get("/v1/audit-log", params=query, headers=headers)
        assert reply.status_code in (200, 422), reply.text
        return reply

    def items(headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
        return list(trail(headers, **query).json()["items"])

    about_borrower = {"target_kind": "borrowers", "target_id": borrower_id}
    # The loan's creation is appended after every entry about the borrower (one writer per
    # institution, in order): once it shows, they all do.
    [loan_created] = eventually(lambda: items(auditor, target_kind="loans", target_id=loan_id))
    assert (loan_created["action"], loan_created["actor_id"]) == ("loans.create", ids["agent"])
    found = items(auditor, **about_borrower)
    assert [(e["action"], e["actor_id"]) for e in found] == [
        ("borrowers.update", ids["agent"]),
        ("borrowers.consents", ids["branch_manager"]),
        ("borrowers.create", ids["agent"]),
    ]
    assert {(e["target_kind"], e["target_id"]) for e in found} == {("borrowers", borrower_id)}
    assert json.loads(found[-1]["summary_json"])["first_name"] == "Nafula"
    # The other borrower's file has its own entries only.
    theirs = items(auditor, target_kind="borrowers", target_id=inst.borrower_id)
    assert [e["action"] for e in theirs] == ["borrowers.update", "borrowers.create"]
    assert {e["seq"] for e in theirs}.isdisjoint(e["seq"] for e in found)

    # Pages follow with the same filters; a token is refused with other filters.
    first = trail(auditor, page_size=2, **about_borrower).json()
    assert [e["seq"] for e in first["items"]] == [e["seq"] for e in found[:2]]
    rest = trail(auditor, page_size=2, page_token=first["next_page_token"], **about_borrower)
    assert [e["seq"] for e in rest.json()["items"]] == [found[2]["seq"]]
    assert rest.json()["next_page_token"] == ""
    for query in (
        {"page_token": first["next_page_token"], "target_kind": "borrowers"},
        {"page_token": first["next_page_token"]},
    ):
        refused = trail(auditor, **query)
        assert problem_reason(refused, 422)
        assert [e["field"] for e in refused.json()["errors"]] == ["page_token"]
    needs_kind = trail(auditor, target_id=borrower_id)
    assert problem_reason(needs_kind, 422)
    assert [e["field"] for e in needs_kind.json()["errors"]] == ["target_id"]
    # An unknown kind is no match; one user's changes are theirs only.
    assert items(auditor, target_kind="borrower", target_id=borrower_id) == []
    by_manager = items(auditor, actor_id=ids["branch_manager"])
    assert [e["action"] for e in by_manager] == ["borrowers.consents"]
    # Another institution's auditor sees nothing of it, asked the same.
    assert items(other.headers["auditor"], **about_borrower) == []
    assert items(other.headers["auditor"], actor_id=ids["agent"]) == []
    assert http.get("/v1/audit-log", params=about_borrower, headers=manager).status_code == 403

    # The sign-out, by the agent whose session it ended.
    [signed_out] = items(auditor, target_kind="auth", actor_id=ids["agent"])
    assert (signed_out["action"], signed_out["actor_role"]) == ("auth.logout", "agent")
    assert signed_out["seq"] > found[0]["seq"]  # after the session's last change
    assert http.get("/v1/audit-log/verify", headers=auditor).json()["ok"] is True


def problem_reason(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    return str(reply.json().get("reason", ""))


def test_an_institution_requires_mfa_of_its_admins(http: httpx.Client, platform_token: str) -> None:
    platform = bearer(platform_token)
    inst, other = make_institution(http, platform), make_institution(http, platform)
    policy = f"/v1/institutions/{inst['id']}/security-policy"
    assert http.get(policy, headers=inst["admin"]).json()["mfa_required_roles"] == []
    # Only admins (and the platform admin) change it; another institution's is not found.
    assert problem_reason(http.get(policy, headers=inst["agent"]), 403) == "PERMISSION_DENIED"
    require_admins = {"mfa_required_roles": ["admin"]}
    assert problem_reason(http.put(policy, json=require_admins, headers=inst["agent"]), 403)
    for reply in (
        http.get(policy, headers=other["admin"]),
        http.put(policy, json=require_admins, headers=other["admin"]),
    ):
        assert problem_reason(reply, 404) == "INSTITUTION_NOT_FOUND"
    bad = http.put(policy, json={"mfa_required_roles": ["admin", "boss"]}, headers=inst["admin"])
    problem_reason(bad, 422)
    assert [e["field"] for e in bad.json()["errors"]] == ["mfa_required_roles[1]"]

    replaced = http.put(policy, json=require_admins, headers=platform)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["mfa_required_roles"] == ["admin"]
    assert http.get(policy, headers=inst["admin"]).json()["mfa_required_roles"] == ["admin"]

    # The admin, not enrolled yet, still gets in, but only to enrol.
    login = http.post("/v1/auth/login", json={"email": inst["admin_email"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["mfa_enrolment_required"] is True
    pending = bearer(login.json()["access_token"])
    refused = http.post("/v1/branches", json={"name": "Sneaky"}, headers=pending)
    assert problem_reason(refused, 403) == "MFA_ENROLMENT_REQUIRED"
    assert "enrol" in refused.json()["detail"]
    assert http.get("/v1/me", headers=pending).status_code == 200
    enrol = http.post("/v1/me/mfa/enroll", headers=pending)
    assert enrol.status_code == 200, enrol.text
    totp = pyotp.TOTP(enrol.json()["secret"])
    confirmed = http.post("/v1/me/mfa/confirm", json={"code": totp.now()}, headers=pending)
    assert confirmed.status_code == 200, confirmed.text
    refreshed = http.post("/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["mfa_enrolment_required"] is False
    admin = bearer(refreshed.json()["access_token"])
    assert http.get("/v1/users", headers=admin).status_code == 200
    # From now on the admin's login asks for the code.
    again = http.post("/v1/auth/login", json={"email": inst["admin_email"], "password": PASSWORD})
    assert problem_reason(again, 401) == "MFA_REQUIRED"

    # The change is in the institution's own audit trail, by the platform admin; the refused
    # branch was never created.
    def entries() -> list[dict[str, Any]]:
        items = http.get("/v1/audit-log", headers=admin, params={"page_size": 200}).json()["items"]
        return [e for e in items if e["action"] == "institutions.security_policy"]

    [entry] = eventually(entries)
    assert entry["target_id"] == inst["id"] and entry["actor_role"] == "platform_admin"
    branches = http.get("/v1/branches", headers=admin).json()["items"]
    assert "Sneaky" not in {b["name"] for b in branches}


def test_logins_from_one_address_are_rate_limited_with_retry_after(fleet: Any) -> None:
    """Past the per-address limit a login or refresh is 429 with Retry-After, from that address
    only (a client on its own loopback address, so the other tests' logins are not counted)."""
    limit = int(fleet.env["LOGIN_RATE_LIMIT_PER_MINUTE"])
    if time.time() % 60 > 40:  # the window is the clock's minute: start early in one
        time.sleep(61 - time.time() % 60)
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=fleet.url, transport=transport, timeout=30) as attacker:
        codes = [
            attacker.post("/v1/auth/refresh", json={"refresh_token": f"guess-{n}"}).status_code
            for n in range(limit + 1)
        ]
        assert set(codes[:limit]) == {401}
        refused = attacker.post("/v1/auth/refresh", json={"refresh_token": "guess"})
    assert codes[-1] == 429 and refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["status"] == 429 and "retry in" in refused.json()["detail"]
    with httpx.Client(base_url=fleet.url, timeout=30) as neighbour:  # 127.0.0.1: unaffected
        reply = neighbour.post("/v1/auth/refresh", json={"refresh_token": "guess"})
        assert reply.status_code == 401
