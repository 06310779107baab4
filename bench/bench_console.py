"""The staff console in Debian's Chromium over loopback: the cold load of the first screen
(bytes of JavaScript transferred, compressed as sent, and the time until the sign-in form can
be used), then the time from pressing Sign in to a rendered collection sheet of N installments.

Starts its own fleet (own namespace and ports) on the local servers, with N active loans of
one agent each with an installment due, and prints the numbers.

    python bench/bench_console.py [--installments 300] [--runs 3]

Goal (issue #11): under 1 MB of compressed JavaScript for the first screen, the sheet rendered
in under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import shutil
import statistics
import time
from pathlib import Path

import httpx
from bench_repayments import PASSWORD, run_with_fleet, setup
from playwright.sync_api import Page, Response, sync_playwright


def cold_load(page: Page, url: str) -> tuple[int, int, float]:
    """(JavaScript bytes, all bytes, seconds to a usable sign-in form) of a fresh profile."""
    sizes: dict[str, tuple[str, int]] = {}

    def received(response: Response) -> None:
        length = int(response.headers.get("content-length") or 0)
        sizes[response.url] = (response.headers.get("content-type", ""), length)

    page.on("response", received)
    started = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name="Sign in").wait_for()
    ready = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    js = sum(n for kind, n in sizes.values() if "javascript" in kind)
    return js, sum(n for _, n in sizes.values()), ready


def sheet_after_sign_in(page: Page, url: str, installments: int) -> tuple[float, float, float]:
    """(seconds from Sign in to the navigation, then from Collections to the whole sheet, and
    of that the longest GET /v1/collection-sheets as the browser timed it)."""
    page.goto(url)
    page.get_by_label("Email").fill("agent@bench.test")
    page.get_by_label("Password").fill(PASSWORD)
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    collections = page.get_by_role("navigation").get_by_role("link", name="Collections")
    collections.wait_for()
    signed_in = time.perf_counter()
    collections.click()
    rows = page.get_by_role("textbox", name="Amount collected")
    rows.nth(installments - 1).wait_for(timeout=60_000)
    sheet = time.perf_counter() - signed_in
    api_ms = page.evaluate(
        """() => Math.max(0, ...performance.getEntriesByType("resource")
            .filter((e) => e.name.includes("/v1/collection-sheets")).map((e) => e.duration))"""
    )
    return signed_in - started, sheet, float(api_ms) / 1000


def measure(url: str, installments: int, runs: int) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is missing: run `make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        loads, sheets = [], []
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            loads.append(cold_load(page, url))
            sheets.append(sheet_after_sign_in(page, url, installments))
            context.close()
        browser.close()
    js, total, _ = loads[0]
    print(f"first screen: {js / 1024:.0f} KiB of JavaScript, {total / 1024:.0f} KiB in all")
    print(f"first screen, gzip: {gzip_size_of_first_screen() / 1024:.0f} KiB of JavaScript")
    ready = [r for *_, r in loads]
    print(f"sign-in usable after: median {statistics.median(ready) * 1000:.0f} ms {ready}")
    for name, times in (
        ("sign in (argon2 login, /v1/me)", [a for a, _, _ in sheets]),
        (f"then the collection sheet of {installments}", [b for _, b, _ in sheets]),
        ("  of which GET /v1/collection-sheets", [c for _, _, c in sheets]),
        ("sign in -> sheet, in all", [a + b for a, b, _ in sheets]),
    ):
        print(
            f"{name}: median {statistics.median(times) * 1000:.0f} ms over {runs} runs "
            f"({', '.join(f'{t * 1000:.0f}' for t in times)} ms)"
        )


def gzip_size_of_first_screen() -> int:
    """The compressed size of the JavaScript index.html loads before any lazy chunk (what a
    compressing proxy in front of the gateway sends)."""
    dist = Path(__file__).resolve().parents[1] / "console" / "dist"
    index = (dist / "index.html").read_text()
    scripts = re.findall(r'src="/(assets/[^"]+\.js)"', index)
    modules = re.findall(r'href="/(assets/[^"]+\.js)"', index)
    return sum(len(gzip.compress((dist / s).read_bytes())) for s in {*scripts, *modules})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installments", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    async def load(url: str, email: str, state: Path) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            print(f"setting up {args.installments} active loans of one agent...", flush=True)
            await setup(client, email, args.installments)
        await asyncio.to_thread(measure, url, args.installments, args.runs)

    run_with_fleet(load)


if __name__ == "__main__":
    main()
