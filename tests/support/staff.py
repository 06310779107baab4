"""Logins, and an institution with one member of staff per role made through the gateway as
an admin would, for end-to-end and browser tests."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "Correct-Horse-Battery-9"
ROLES = ("admin", "branch_manager", "risk_officer", "agent", "auditor")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokens(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The gateway's answer to a login (access and refresh tokens, ...). Logins are rate
    limited per client address and a whole e2e session logs in from 127.0.0.1: a 429 is
    waited out as it says, within a bounded time."""
    deadline = time.monotonic() + 75
    while True:
        reply = http.post("/v1/auth/login", json={"email": email, "password": password})
        if reply.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(float(reply.json().get("retry_after") or 1))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def access_token(http: httpx.Client, email: str, password: str = PASSWORD) -> str:
    return str(tokens(http, email, password)["access_token"])


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a new session of the user."""
    return bearer(access_token(http, email, password))


@dataclass
class Institution:
    id: str
    currency: str
    branch_id: str
    emails: dict[str, str]
    """role -> email; every password is PASSWORD."""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """role -> Authorization header of a session of that user."""
    product_id: str = ""
    borrower_id: str = ""


def make_institution(
    http: httpx.Client, platform_token: str, *, currency: str = "KES"
) -> Institution:
    """An institution with a branch, a user of each role (agents and managers in the branch), a
    monthly declining-balance product and one registered borrower."""
    tag = secrets.token_hex(3)
    platform = bearer(platform_token)
    inst = http.post(
        "/v1/institutions", json={"name": f"MFI {tag}", "currency": currency}, headers=platform
    )
    assert inst.status_code == 201, inst.text
    institution_id = inst.json()["id"]
    emails = {role: f"{role.replace('_', '-')}-{tag}@mfi.test" for role in ROLES}
    created = http.post(
        "/v1/users",
        headers=platform,
        json={
            "email": emails["admin"],
            "full_name": "Amina Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": institution_id,
        },
    )
    assert created.status_code == 201, created.text
    admin = login(http, emails["admin"])
    branch = http.post("/v1/branches", json={"name": f"Kisumu {tag}"}, headers=admin)
    assert branch.status_code == 201, branch.text
    branch_id = branch.json()["id"]
    names = {
        "branch_manager": "Baraka Manager",
        "risk_officer": "Rehema Risk",
        "agent": "Otieno Agent",
        "auditor": "Auma Auditor",
    }
    for role, name in names.items():
        user: dict[str, Any] = {
            "email": emails[role],
            "full_name": name,
            "role": role,
            "password": PASSWORD,
        }
        if role in ("branch_manager", "agent"):
            user["branch_id"] = branch_id
        reply = http.post("/v1/users", headers=admin, json=user)
        assert reply.status_code == 201, reply.text
    made = Institution(institution_id, currency, branch_id, emails)
    made.headers = {role: login(http, email) for role, email in emails.items()}
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": "Biashara monthly",
            "interest_method": "declining_balance",
            "annual_interest_rate": "24",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "500000",
            "min_term": 1,
            "max_term": 24,
        },
    )
    assert product.status_code == 201, product.text
    made.product_id = product.json()["id"]
    made.borrower_id = register_borrower(http, made.headers["agent"], branch_id)["id"]
    return made


def register_borrower(
    http: httpx.Client, headers: dict[str, str], branch_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "first_name": "Achieng",
        "last_name": "Odhiambo",
        "national_id": f"{secrets.randbelow(10**8):08d}",
        "phone": f"+2547{secrets.randbelow(10**8):08d}",
        "date_of_birth": "1986-04-12",
        "branch_id": branch_id,
        **fields,
    }
    reply = http.post("/v1/borrowers", headers=headers, json=body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())
