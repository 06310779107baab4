"""The console's administration screens in Debian's Chromium: an admin opens a branch and
gives it an agent, the server's refusals show beside the fields they name, an auditor reads
and verifies the audit log, a bad delinquency bucket is said beside its cell, and the
platform administrator creates an institution with its first admin."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import open_section, sign_in
from tests.support.staff import PASSWORD, Institution, login

pytestmark = pytest.mark.e2e


def test_admin_creates_a_branch_and_an_agent_in_it(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    branch, agent, email = f"Nakuru {tag}", f"Zawadi Mwangi {tag}", f"zawadi-{tag}@mfi.test"
    sign_in(page, institution.emails["admin"])

    open_section(page, "Branches")
    page.get_by_role("button", name="New branch").click()
    page.get_by_label("Name", exact=True).fill(branch)
    page.get_by_role("button", name="Create branch").click()
    expect(page.get_by_role("cell", name=branch, exact=True)).to_be_visible()

    open_section(page, "Users")
    page.get_by_role("button", name="New user").click()
    page.get_by_label("Full name").fill(agent)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(label="Agent")
    page.get_by_label("Branch").select_option(label=branch)
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=agent))
    expect(row).to_contain_text(email)
    expect(row).to_contain_text(branch)
    expect(row).to_contain_text("Agent")

    # The agent really works in that branch: their own account says so.
    me = http.get("/v1/me", headers=login(http, email))
    branches = http.get("/v1/branches", headers=institution.headers["admin"]).json()["items"]
    assert me.json()["branch_id"] == next(b["id"] for b in branches if b["name"] == branch)


def test_a_bad_email_and_a_weak_password_are_said_beside_their_fields(
    page: Page, institution: Institution
) -> None:
    sign_in(page, institution.emails["admin"])
    open_section(page, "Users")
    page.get_by_role("button", name="New user").click()
    page.get_by_label("Full name").fill("Auma Auditor")
    # The browser accepts an address without a dot in its domain; the server does not.
    page.get_by_label("Email").fill("auma@localhost")
    page.get_by_label("Role").select_option(label="Auditor")
    page.get_by_label("Initial password").fill("short")
    page.get_by_role("button", name="Create user").click()
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("valid e-mail", re.I))
    expect(page.get_by_label("Initial password")).to_have_accessible_description(
        re.compile("at least 12 characters", re.I)
    )


def test_the_auditor_reads_the_audit_log_and_verifies_its_chain(
    page: Page, institution: Institution
) -> None:
    sign_in(page, institution.emails["auditor"])
    open_section(page, "Audit log")
    # The institution's set-up (its staff, made by its admin) is in the log.
    entries = page.get_by_role("row").filter(has=page.get_by_text("users.create", exact=True))
    expect(entries.first).to_be_visible()
    expect(entries.first).to_contain_text("Amina Admin")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_role("status").filter(has_text="The chain is intact")).to_be_visible()


def test_a_bucket_whose_max_is_below_its_min_is_refused_beside_the_cell(
    page: Page, institution: Institution
) -> None:
    sign_in(page, institution.emails["admin"])
    open_section(page, "Settings")
    max_days = page.get_by_label("Max days, bucket 2")
    expect(max_days).to_have_value("30")
    max_days.fill("0")
    page.get_by_role("button", name="Save loan settings").click()
    expect(max_days).to_have_attribute("aria-invalid", "true")
    expect(max_days).to_have_accessible_description(re.compile("min_days|below", re.I))
    expect(page.get_by_role("alert")).to_have_count(0)


def test_the_platform_admin_creates_an_institution_and_its_first_admin(
    page: Page, fleet_control: Any
) -> None:
    tag = secrets.token_hex(3)
    name, email = f"Pwani Credit {tag}", f"admin-{tag}@pwani.test"
    env = fleet_control.env
    sign_in(page, env["KOPA_BOOTSTRAP_EMAIL"], env["KOPA_BOOTSTRAP_PASSWORD"])
    open_section(page, "Institutions")
    page.get_by_role("button", name="New institution").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Currency").fill("tzs")
    page.get_by_role("button", name="Create institution").click()

    form = page.get_by_role("form", name=f"Admin of {name}")
    form.get_by_label("Full name").fill("Pendo Admin")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Initial password").fill(PASSWORD)
    form.get_by_role("button", name="Create admin").click()
    expect(page.get_by_role("status")).to_contain_text(f"{email} is an admin of {name}")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))
    expect(row).to_contain_text("TZS")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, email)
    expect(page.get_by_role("navigation").get_by_role("link", name="Settings")).to_be_visible()
