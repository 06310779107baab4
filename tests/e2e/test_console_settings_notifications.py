"""The console's notification settings in Debian's Chromium, against the whole fleet: an admin
sets the institution's clock (a bad time refused beside its field, the next run shown once
saved), adds a webhook to a real listener and sees its signing secret once (the secret shown
verifies what the listener receives), makes an alert rule, edits the Swahili SMS "loan
approved" template (an unknown variable refused beside Body naming the line, then a good
text) and restores the default; a branch manager reads the schedule without changing it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook

from tests.support.channels import Listener
from tests.support.console import open_section, sign_in
from tests.support.staff import Institution, make_institution
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

NOT_SCHEDULED = "None: the close of business does not run on its own."


@pytest.fixture(scope="module")
def mfi(http: httpx.Client, platform_token: str) -> Institution:
    """An institution of its own: these tests change its clock, webhooks, rules and templates."""
    return make_institution(http, platform_token)


def _ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def test_the_admin_sets_the_schedule_and_sees_the_next_run(
    page: Page, mfi: Institution, http: httpx.Client
) -> None:
    sign_in(page, mfi.emails["admin"])
    open_section(page, "Settings")
    schedule = page.get_by_role("region", name="Schedule")
    expect(schedule.get_by_text(NOT_SCHEDULED)).to_be_visible()

    close = schedule.get_by_label("Close of business time")
    close.fill("25:61")
    schedule.get_by_role("button", name="Save schedule").click()
    expect(close).to_have_attribute("aria-invalid", "true")
    expect(close).to_have_accessible_description(re.compile("HH:MM"))

    schedule.get_by_label("Time zone").fill("Africa/Nairobi")
    close.fill("18:00")
    schedule.get_by_label("Reminder days before").fill("3")
    schedule.get_by_label("Quiet hours start").fill("20:00")
    schedule.get_by_label("Quiet hours end").fill("07:00")
    schedule.get_by_label("Default language").select_option(label="Kiswahili")
    schedule.get_by_label("Run the close of business every day").check()
    schedule.get_by_role("button", name="Save schedule").click()
    expect(schedule.get_by_role("status")).to_have_text("Saved.")
    expect(close).not_to_have_attribute("aria-invalid", "true")

    held = _ok(http.get(f"/v1/institutions/{mfi.id}/schedule", headers=mfi.headers["admin"]))
    assert held["close_of_business_time"] == "18:00" and held["default_language"] == "sw"
    assert held["enabled"] is True and held["next_business_date"]
    # The next run: its business date, 18:00 in Nairobi and 15:00 UTC.
    expect(schedule).to_contain_text(
        f"Business date {held['next_business_date']}: "
        f"{held['next_run'][:10]} 18:00 (Africa/Nairobi)"
    )
    expect(schedule).to_contain_text("15:00 UTC")

    # Leave the clock by hand again: the other tests close days when they choose.
    schedule.get_by_label("Run the close of business every day").uncheck()
    schedule.get_by_role("button", name="Save schedule").click()
    expect(schedule.get_by_text(NOT_SCHEDULED)).to_be_visible()


def test_the_admin_adds_a_webhook_and_sees_its_secret_once(
    page: Page, mfi: Institution, http: httpx.Client
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    with Listener() as erp:
        url = f"{erp.url}/kopa"
        sign_in(page, mfi.emails["admin"])
        open_section(page, "Settings")
        webhooks = page.get_by_role("region", name="Webhooks")
        form = webhooks.get_by_role("form", name="Add webhook")
        form.get_by_label("URL").fill(url)
        form.get_by_role("button", name="Add webhook").click()
        expect(form.get_by_role("group", name="Events")).to_have_accessible_description(
            "Choose at least one event."
        )
        form.get_by_role("checkbox", name="loan.approved").check()
        form.get_by_label("Description").fill("the ERP")
        form.get_by_role("button", name="Add webhook").click()

        box = webhooks.get_by_role("region", name=f"Signing secret for {url}")
        expect(box).to_contain_text("it will not be shown again")
        secret = box.locator("code").inner_text().strip()
        assert secret.startswith("whsec_")
        box.get_by_role("button", name="Copy secret").click()
        expect(box.get_by_role("status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        row = webhooks.get_by_role("row").filter(has=page.get_by_role("rowheader", name=url))
        expect(row).to_contain_text("loan.approved")
        expect(row).to_contain_text("Enabled")

        # An event reaches the listener signed with the secret the console showed.
        loan = _ok(
            http.post(
                "/v1/loans",
                headers=mfi.headers["agent"],
                json={
                    "borrower_id": mfi.borrower_id,
                    "product_id": mfi.product_id,
                    "principal": "3000",
                    "term": 2,
                },
            ),
            201,
        )["id"]
        _ok(http.post(f"/v1/loans/{loan}/approve", headers=mfi.headers["branch_manager"], json={}))
        request = eventually(lambda: erp.requests[0] if erp.requests else None, limit=30)
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "loan.approved"
        [endpoint] = _ok(http.get("/v1/webhooks", headers=mfi.headers["admin"]))["items"]
        eventually(
            lambda: _ok(
                http.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=mfi.headers["admin"])
            )["items"],
            limit=30,
        )

        row.get_by_role("button", name="Deliveries").click()
        deliveries = page.get_by_role("table", name=f"Deliveries to {url}")
        delivery = deliveries.get_by_role("row").filter(has_text="loan.approved")
        expect(delivery).to_contain_text("Succeeded")
        expect(delivery).to_contain_text("200")
        delivery.get_by_role("button", name="Replay").click()
        expect(page.get_by_text("Sent again: Succeeded.")).to_be_visible()
        assert len(erp.requests) == 2

        # Gone for good once the screen is left: no answer holds it again.
        open_section(page, "Users")
        open_section(page, "Settings")
        expect(page.get_by_role("rowheader", name=url)).to_be_visible()
        expect(page.get_by_text(secret)).to_have_count(0)

        # Deleted after a question naming the URL.
        page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=url)).get_by_role(
            "button", name="Delete"
        ).click()
        page.get_by_role("alertdialog", name=f"Delete the webhook to {url}?").get_by_role(
            "button", name="Confirm"
        ).click()
        expect(page.get_by_role("rowheader", name=url)).to_have_count(0)
        assert _ok(http.get("/v1/webhooks", headers=mfi.headers["admin"]))["items"] == []


def test_the_admin_makes_an_alert_rule(page: Page, mfi: Institution, http: httpx.Client) -> None:
    sign_in(page, mfi.emails["admin"])
    open_section(page, "Settings")
    rules = page.get_by_role("region", name="Alert rules")
    rules.get_by_role("button", name="New alert rule").click()
    form = rules.get_by_role("form", name="New alert rule")
    form.get_by_label("Name", exact=True).fill("PAR30 above 5%")
    form.get_by_label("Trigger").select_option(label="Branch PAR30")
    expect(form.get_by_label("Days")).to_have_count(0)
    form.get_by_label("Ratio").fill("5")
    form.get_by_role("checkbox", name="Branch manager").check()
    form.get_by_role("checkbox", name="Email").check()
    form.get_by_role("button", name="Save rule").click()
    expect(rules.get_by_role("status")).to_have_text("Alert rule PAR30 above 5% saved.")
    row = rules.get_by_role("row").filter(has=page.get_by_role("rowheader", name="PAR30 above 5%"))
    expect(row).to_contain_text("Branch PAR30")
    expect(row).to_contain_text("5%")
    expect(row).to_contain_text("Branch manager")
    [rule] = _ok(http.get("/v1/alert-rules", headers=mfi.headers["admin"]))["items"]
    assert rule["ratio"] == "0.05" and rule["roles"] == ["branch_manager"]
    assert rule["channels"] == ["email"] and rule["branch_ids"] == []


def test_the_admin_edits_the_swahili_sms_for_an_approved_loan_and_restores_it(
    page: Page, mfi: Institution, http: httpx.Client
) -> None:
    sign_in(page, mfi.emails["admin"])
    open_section(page, "Settings")
    templates = page.get_by_role("region", name="Message templates")
    name = "Loan approved, SMS, Kiswahili"
    templates.get_by_role("button", name=f"Edit template {name}").click()
    editor = templates.get_by_role("form", name=name)
    expect(editor.get_by_label("Subject")).to_have_count(0)
    expect(editor).to_contain_text("{{ first_name }}")
    body = editor.get_by_label("Body")
    body.fill("Hongera {{ first_name }}!\n{{ jina_la_utani }}")
    editor.get_by_role("button", name="Save template").click()
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(body).to_have_accessible_description(re.compile(r"line 2.*jina_la_utani"))

    body.fill("Hongera {{ first_name }}! Mkopo wa {{ principal }} umeidhinishwa.")
    expect(body).to_have_accessible_description(re.compile(r"\d+ characters, 1 SMS part\b"))
    editor.get_by_role("button", name="Save template").click()
    expect(editor.get_by_role("status")).to_contain_text("Template saved")
    cell = templates.get_by_role("cell").filter(
        has=page.get_by_role("button", name=f"Edit template {name}")
    )
    expect(cell).to_contain_text("Institution's own")
    saved = _ok(
        http.get("/v1/notification-templates/loan_approved/sms/sw", headers=mfi.headers["admin"])
    )
    assert saved["default"] is False and "umeidhinishwa" in saved["body"]

    editor.get_by_role("button", name="Restore default").click()
    page.get_by_role("alertdialog", name=re.compile("Restore Kopa's default")).get_by_role(
        "button", name="Confirm"
    ).click()
    expect(editor.get_by_role("status")).to_have_text("The default text is used again.")
    expect(body).to_have_value(re.compile("^Mpendwa"))
    expect(cell).to_contain_text("Default")
    restored = _ok(
        http.get("/v1/notification-templates/loan_approved/sms/sw", headers=mfi.headers["admin"])
    )
    assert restored["default"] is True


def test_a_branch_manager_reads_the_schedule_without_changing_it(
    page: Page, mfi: Institution
) -> None:
    sign_in(page, mfi.emails["branch_manager"])
    open_section(page, "Settings")
    schedule = page.get_by_role("region", name="Schedule")
    expect(schedule.get_by_label("Close of business time")).to_have_attribute("readonly", "")
    expect(schedule.get_by_label("Time zone")).to_have_attribute("readonly", "")
    expect(schedule.get_by_label("Run the close of business every day")).to_be_disabled()
    expect(schedule.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("heading", name="Webhooks")).to_have_count(0)
    rules = page.get_by_role("region", name="Alert rules")
    expect(rules).to_be_visible()
    expect(rules.get_by_role("button", name="New alert rule")).to_have_count(0)
