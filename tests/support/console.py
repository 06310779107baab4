"""Browser helpers for the console's tests, used as a person uses the console."""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page, expect

from tests.support.staff import PASSWORD


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_section(page: Page, name: str) -> None:
    """Follow a link of the navigation. The session lives in the page's memory, so loading a
    URL (`page.goto`) would sign out."""
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def search(page: Page, label: str, text: str, found: Locator, within: float = 20) -> None:
    """Type `text` into the search field labelled `label` until `found` shows: the search
    index follows new records within seconds, so a person just registered may take a second
    try, as it would for a person at the keyboard."""
    deadline = time.monotonic() + within
    field = page.get_by_label(label)
    while True:
        field.fill(text)
        try:
            expect(found).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            field.fill("")
