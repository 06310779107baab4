"""KYC document OCR: documents read per minute on this machine, and field accuracy.

    .venv/bin/python bench/bench_ocr.py [--count 40] [--pdf-share 0.25] [--concurrency 1]

user_service reads every uploaded identity document with Tesseract in a background worker
(`user_service/entrypoints/ocr_worker.py`), one document at a time per process. This says
how many documents that worker gets through per minute here, what each costs in CPU (the
Tesseract and pdftoppm children included), and how often the identity fields it extracts
are right, so that a change to the reader, the extraction rules or Tesseract is judged by
numbers.

It draws `--count` Kenyan identity cards with `tests/support/id_card.py` (the drawing the
OCR tests use), each with its own seeded, made-up national ID number, names from an East
African name list and date of birth, as PNG; a `--pdf-share` of them are also drawn as a
one-page, card-sized PDF (300 dpi). Every document goes through what production does with
it, without MongoDB or any server: the content type judged by its bytes
(`sniff_content_type`), `TesseractReader.read` (the adapter: pdftoppm for a PDF, then
tesseract, one thread each) and the domain's `extract_fields`. PNGs and PDFs are read in
two separate rounds, `--concurrency` at a time (default 1, as the worker reads).

Printed: documents per minute (PNG, PDF, together), mean/p50/p95 seconds per document,
CPU seconds per document (this process and its children); per field, how many were read
right (exact, after the normalisation the domain compares with: names without case,
accents and punctuation, ID numbers by their letters and digits, dates as days), wrong or
not read, with the mean confidence of the right and of the wrong ones; and the share of
documents with every field right. Numbers only: it always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.id_card import identity_card, kenyan_card
from user_service.adapters.ocr import PDF_DPI, OcrFailed, TesseractReader
from user_service.domain import documents as rules

#: Documents the worker reads at a time in one user_service process.
WORKER_CONCURRENCY = 1

#: Given names and surnames heard across Kenya, Uganda, Tanzania and Rwanda (Kikuyu, Luo,
#: Luhya, Kalenjin, Kamba, Maasai, Swahili, Ganda, Chaga, Kinyarwanda), with the Christian
#: and Muslim given names that go with them. Some carry the apostrophe of NG'ANG'A.
GIVEN_NAMES = (
    "AMINA", "BARAKA", "WANJIRU", "ACHIENG", "AKINYI", "ATIENO", "NJERI", "MUTHONI", "WAMBUI",
    "NYAMBURA", "GATHONI", "WANJIKU", "KAMAU", "KIBET", "CHEBET", "CHEPKOECH", "JEPCHIRCHIR",
    "KIPRONO", "CHERONO", "NAFULA", "NEKESA", "MWENDE", "KALEKYE", "MUTHOKA", "NEEMA",
    "ZAWADI", "HALIMA", "JUMA", "HASSANI", "MWANAISHA", "FATUMA", "REHEMA", "IMANI",
    "NAKATO", "BABIRYE", "NAMUBIRU", "MUGISHA", "TUMUSIIME", "ISHIMWE", "UWASE", "NASIRIAN",
    "LEMAYIAN", "GRACE", "FAITH", "MERCY", "JOSEPH", "PETER", "ESTHER", "DAVID", "MARY",
    "JOHN", "ABDALLAH", "SAIDI", "WANGARI", "MUMBI", "OKOTH",
)  # fmt: skip
SURNAMES = (
    "MWANGI", "OTIENO", "ODHIAMBO", "KAMAU", "NJOROGE", "WANYAMA", "KIPROTICH", "CHERUIYOT",
    "MUTUA", "KIOKO", "OMONDI", "OCHIENG", "WAFULA", "BARASA", "NJENGA", "KARIUKI",
    "MACHARIA", "KIMANI", "GITHINJI", "ONYANGO", "OWINO", "NG'ANG'A", "NG'ENO", "KOSGEI",
    "ROTICH", "LANGAT", "MUTISO", "MUSYOKA", "OLE SANKALE", "MWAKALINGA", "SHIRIMA", "LYIMO",
    "MREMA", "MASSAWE", "MUSOKE", "SSEBUNYA", "KATO", "OKELLO", "NAMUGGA", "TUMWINE",
    "BYARUHANGA", "SSEMPIJJA", "UWIMANA", "NIYONZIMA", "HABIMANA", "MUKAMANA", "NSENGIMANA",
    "ABDALLA", "MOHAMED", "SWALEH",
)  # fmt: skip
BORN_FROM = date(1950, 1, 1)
BORN_TO = date(2006, 12, 31)


@dataclass(frozen=True)
class Card:
    national_id: str
    first_name: str
    last_name: str
    date_of_birth: str  # ISO, as the domain reads it
    png: bytes
    pdf: bytes | None

    def expected(self, name: str) -> str:
        return str(getattr(self, name))


@dataclass
class Round:
    """One round of readings: every document of one format."""

    label: str
    wall: float = 0.0
    cpu: float = 0.0
    seconds: list[float] = field(default_factory=list)
    #: Per document: the fields read (empty when the reading failed).
    found: list[dict[str, rules.Found]] = field(default_factory=list)
    failures: int = 0


def make_cards(count: int, pdf_share: float, seed: int) -> list[Card]:
    rng = random.Random(seed)
    span = (BORN_TO - BORN_FROM).days
    pdfs = set(rng.sample(range(count), round(count * pdf_share)))
    ids: set[str] = set()
    cards = []
    for index in range(count):
        national_id = str(rng.randint(1_000_000, 39_999_999))  # 7 or 8 digits, as issued
        while national_id in ids:
            national_id = str(rng.randint(1_000_000, 39_999_999))
        ids.add(national_id)
        given = rng.sample(GIVEN_NAMES, rng.choice((1, 2, 2)))
        first_name, last_name = " ".join(given), rng.choice(SURNAMES)
        born = BORN_FROM + timedelta(days=rng.randrange(span))
        lines = kenyan_card(national_id, first_name, last_name, born.strftime("%d.%m.%Y"))
        png = identity_card(lines)
        pdf = identity_card(lines, "PDF", dpi=float(PDF_DPI)) if index in pdfs else None
        cards.append(Card(national_id, first_name, last_name, born.isoformat(), png, pdf))
    return cards


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (tesseract, pdftoppm)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def read(reader: TesseractReader, content: bytes) -> dict[str, rules.Found]:
    """What the worker does with an identity document's bytes, short of storing the result."""
    reading = await reader.read(content, rules.sniff_content_type(content))
    return rules.extract_fields(reading.lines)


async def read_round(
    reader: TesseractReader, label: str, documents: list[bytes], concurrency: int
) -> Round:
    result = Round(label)
    result.found = [{} for _ in documents]
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, content: bytes) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                result.found[index] = await read(reader, content)
            except OcrFailed:
                result.failures += 1
            result.seconds.append(time.perf_counter() - started)

    cpu, started = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(i, content) for i, content in enumerate(documents)))
    result.wall, result.cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return result


def same(name: str, read: str, expected: str) -> bool:
    """Exact agreement after the normalisation `rules.mismatches` compares with."""
    if name in ("first_name", "last_name"):
        return rules._fold(read) == rules._fold(expected)
    if name == "national_id":
        return rules._id_key(read) == rules._id_key(expected)
    return read == expected


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "missing"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].split()[-1] if text else "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(cards: list[Card], rounds: list[Round], concurrency: int) -> None:
    print(f"{'documents':10s} {'n':>4s} {'docs/min':>9s} {'mean s':>7s} {'p50 s':>7s}", end="")
    print(f" {'p95 s':>7s} {'CPU s/doc':>10s} {'failed':>7s}")
    together = Round("together")
    for r in [*rounds, together]:
        if r is not together:
            together.wall += r.wall
            together.cpu += r.cpu
            together.seconds += r.seconds
            together.failures += r.failures
        n = len(r.seconds)
        if not n:
            print(f"{r.label:10s} {0:4d}")
            continue
        print(
            f"{r.label:10s} {n:4d} {n / r.wall * 60:9.1f} {statistics.fmean(r.seconds):7.2f}"
            f" {statistics.median(r.seconds):7.2f} {p95(r.seconds):7.2f} {r.cpu / n:10.2f}"
            f" {r.failures:7d}"
        )
    print(f"(docs/min from wall clock, {concurrency} at a time; CPU includes the children)")

    # Each reading next to the card it was read from.
    pairs = [(card, found) for card, found in zip(cards, rounds[0].found, strict=True)]
    if len(rounds) > 1:
        with_pdf = [card for card in cards if card.pdf is not None]
        pairs += list(zip(with_pdf, rounds[1].found, strict=True))
    print()
    print(f"{'field':14s} {'right':>6s} {'wrong':>6s} {'not read':>9s} {'accuracy':>9s}", end="")
    print(f" {'conf right':>11s} {'conf wrong':>11s}")
    for name in rules.OCR_FIELDS:
        right: list[int] = []
        wrong: list[int] = []
        for card, found in pairs:
            if name in found:
                good = same(name, found[name].value, card.expected(name))
                (right if good else wrong).append(found[name].confidence)
        missing = len(pairs) - len(right) - len(wrong)
        conf_right = f"{statistics.fmean(right):11.1f}" if right else f"{'-':>11s}"
        conf_wrong = f"{statistics.fmean(wrong):11.1f}" if wrong else f"{'-':>11s}"
        print(
            f"{name:14s} {len(right):6d} {len(wrong):6d} {missing:9d}"
            f" {len(right) / len(pairs):9.1%} {conf_right} {conf_wrong}"
        )
    offsets = [("PNG", 0, len(cards))]
    if len(rounds) > 1:
        offsets.append(("PDF", len(cards), len(pairs)))
    offsets.append(("together", 0, len(pairs)))
    for label, start, end in offsets:
        chunk = pairs[start:end]
        all_right = sum(
            all(
                name in found and same(name, found[name].value, card.expected(name))
                for name in rules.OCR_FIELDS
            )
            for card, found in chunk
        )
        share = all_right / len(chunk) if chunk else 0.0
        print(f"all four fields right, {label:8s} {all_right:4d} of {len(chunk):4d}  {share:6.1%}")
    wrong_examples = [
        f"{name}: {found[name].value!r} for {card.expected(name)!r}"
        for card, found in pairs
        for name in rules.OCR_FIELDS
        if name in found and not same(name, found[name].value, card.expected(name))
    ]
    for example in wrong_examples[:8]:
        print(f"  wrong {example}")


async def run(count: int, pdf_share: float, concurrency: int, seed: int) -> None:
    cards = make_cards(count, pdf_share, seed)
    pdfs = [card.pdf for card in cards if card.pdf is not None]
    print(
        f"python {platform.python_version()} on {platform.machine()}, {cpu_model()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
        f"tesseract {tool_version(['tesseract', '--version'])}, "
        f"pdftoppm {tool_version(['pdftoppm', '-v'])}"
    )
    print(
        f"{len(cards)} cards as PNG, {len(pdfs)} also as PDF ({PDF_DPI} dpi), seed {seed}, "
        f"{concurrency} reading(s) at a time (the worker: {WORKER_CONCURRENCY})"
    )
    reader = TesseractReader()
    await read(reader, cards[0].png)  # warm-up: the language model into the page cache
    rounds = [await read_round(reader, "PNG", [card.png for card in cards], concurrency)]
    if pdfs:
        rounds.append(await read_round(reader, "PDF", pdfs, concurrency))
    report(cards, rounds, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="identity cards drawn")
    parser.add_argument(
        "--pdf-share", type=float, default=0.25, help="share of the cards also read as PDF"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=WORKER_CONCURRENCY,
        help="readings at a time (default: the worker's)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.count < 1 or not 0 <= args.pdf_share <= 1 or args.concurrency < 1:
        parser.error("--count and --concurrency must be >= 1, --pdf-share within 0..1")
    asyncio.run(run(args.count, args.pdf_share, args.concurrency, args.seed))


if __name__ == "__main__":
    main()
