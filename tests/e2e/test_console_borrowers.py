"""The borrowers screens in Debian's Chromium: registering a borrower through the form (what they
typed shows as text, markup included, and runs nothing), finding them by search, and refusals
said beside the field they name."""

from __future__ import annotations

import re
import secrets
import string
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.support.console import open_section, search, sign_in
from tests.support.id_card import identity_card, kenyan_card
from tests.support.staff import Institution, register_borrower

pytestmark = pytest.mark.e2e

MARKUP = "<img src=x onerror=alert(1)>"
# Names may not hold digits or markup brackets (the API's rule), but may hold quotes and `&`.
QUOTED = 'Nyokabi "Ann" & O\'Neil'


def surname() -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(9)).capitalize()


def fill_registration(
    page: Page, first: str, last: str, national_id: str, business: str = "Tailoring"
) -> None:
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("National ID").fill(national_id)
    page.get_by_label("Phone").fill(f"+2547{secrets.randbelow(10**8):08d}")
    page.get_by_label("Date of birth").fill("1988-04-30")
    page.get_by_label("Monthly income").fill("32000")
    page.get_by_label("Business type").fill(business)
    page.get_by_label("Consent to data processing").check()


def test_an_agent_registers_a_borrower_and_what_they_typed_is_only_text(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    sign_in(page, institution.emails["agent"])
    open_section(page, "Borrowers")
    page.get_by_role("button", name="Register borrower").click()
    last = surname()
    fill_registration(page, MARKUP, last, f"{secrets.randbelow(10**8):08d}", business=MARKUP)
    # The agent's own branch is chosen already.
    expect(page.get_by_label("Branch")).to_have_value(institution.branch_id)
    page.get_by_role("button", name="Save").click()
    # Markup is no name: refused beside the field before anything is sent.
    expect(page.get_by_label("First name")).to_have_accessible_description(
        re.compile("without digits", re.I)
    )
    page.get_by_label("First name").fill(QUOTED)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1, name=f"{QUOTED} {last}")).to_be_visible()
    expect(page.get_by_text(MARKUP, exact=True)).to_be_visible()
    expect(page.locator("main img")).to_have_count(0)
    borrower_id = page.url.rsplit("/", 1)[-1]
    saved = http.get(f"/v1/borrowers/{borrower_id}", headers=institution.headers["agent"]).json()
    assert (saved["first_name"], saved["business_type"]) == (QUOTED, MARKUP)
    assert [c["kind"] for c in saved["consents"]] == ["data_processing"]

    # Found by search as soon as the index has it (within seconds).
    open_section(page, "Borrowers")
    search(page, "Search borrowers", last, page.get_by_role("link", name=f"{QUOTED} {last}"))
    assert dialogs == []


def test_a_national_id_already_registered_is_said_beside_the_field(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    taken = register_borrower(http, institution.headers["agent"], institution.branch_id)
    sign_in(page, institution.emails["agent"])
    open_section(page, "Borrowers")
    page.get_by_role("button", name="Register borrower").click()
    fill_registration(page, "Wanjiru", surname(), taken["national_id"])
    page.get_by_role("button", name="Save").click()

    national_id = page.get_by_label("National ID")
    expect(national_id).to_have_accessible_description(re.compile("already registered", re.I))
    expect(national_id).to_have_attribute("aria-invalid", "true")
    expect(national_id).to_be_focused()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a borrower")


def test_an_auditor_reads_a_borrowers_audit_trail_on_their_file_and_an_agent_does_not(
    page: Page, institution: Institution, http: httpx.Client
) -> None:
    last = surname()
    borrower = register_borrower(
        http, institution.headers["agent"], institution.branch_id, last_name=last
    )
    name = f"Achieng {last}"
    sign_in(page, institution.emails["auditor"])
    open_section(page, "Borrowers")
    search(page, "Search borrowers", last, page.get_by_role("link", name=name))
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Audit trail")).to_be_visible()
    # The registration, by the agent, names this borrower as its target.
    created = page.get_by_role("row").filter(has_text="borrowers.create")
    expect(created).to_contain_text(borrower["id"])
    expect(created).to_contain_text("(Agent)")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, institution.emails["agent"])
    open_section(page, "Borrowers")
    search(page, "Search borrowers", last, page.get_by_role("link", name=name))
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.get_by_role("heading", name="Audit trail")).to_have_count(0)


def test_an_identity_card_uploaded_on_the_file_is_read_and_then_verified(
    page: Page, institution: Institution, http: httpx.Client, tmp_path: Path
) -> None:
    # A real name, not random letters: OCR reads names as words (a random Q may come back O).
    last = "Chepkoech"
    national_id = f"{secrets.randbelow(10**7) + 10**7}"
    register_borrower(
        http,
        institution.headers["agent"],
        institution.branch_id,
        first_name="Nafula",
        last_name=last,
        national_id=national_id,
        date_of_birth="1988-04-30",
    )
    card = tmp_path / "id.png"
    # The card's date of birth differs from the profile's: the file must say so.
    card.write_bytes(identity_card(kenyan_card(national_id, "NAFULA", last.upper(), "03.04.1988")))
    name = f"Nafula {last}"

    def open_file(email: str) -> None:
        sign_in(page, email)
        open_section(page, "Borrowers")
        search(page, "Search borrowers", last, page.get_by_role("link", name=name))
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name="Documents")).to_be_visible()

    open_file(institution.emails["agent"])
    page.get_by_label("Document kind").select_option("national_id")
    page.get_by_label("Document file").set_input_files(str(card))
    page.get_by_role("button", name="Upload document").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="National ID"))
    # Tesseract reads it in the background; the file shows progress, then what was read.
    expect(row.get_by_text("Read", exact=True)).to_be_visible(timeout=60_000)
    expect(row.get_by_text(f"national_id: {national_id}", exact=False)).to_be_visible()
    # The fourth cell: where the card differs from the profile.
    expect(row.get_by_role("cell").nth(3)).to_contain_text("date_of_birth")

    # The agent may only ask for a review; the branch manager verifies.
    page.get_by_label("KYC status").select_option("pending_review")
    page.get_by_role("button", name="Save KYC status").click()
    expect(page.get_by_text("Waiting for review", exact=True).first).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    open_file(institution.emails["branch_manager"])
    page.get_by_label("KYC status").select_option("verified")
    page.get_by_label("Review note").fill("card seen; date of birth misread by OCR")
    page.get_by_role("button", name="Save KYC status").click()
    expect(page.locator("strong", has_text="Verified")).to_be_visible()
