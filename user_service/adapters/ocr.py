"""OCR with Debian's Tesseract (`tesseract-ocr`, `tesseract-ocr-eng`) and, for PDFs,
poppler's `pdftoppm` (`poppler-utils`), run as child processes: the event loop only waits
for them, and a stuck one is killed at the deadline."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass

from user_service.domain.documents import Word

#: Tesseract's threads: one, so a reading never takes the machine's every core from the
#: services beside it (the readings queue instead).
THREADS = "1"
#: The resolution PDFs are rasterised at: Tesseract reads best at about 300 dpi.
PDF_DPI = "300"


class OcrFailed(Exception):
    """The document could not be read (a tool missing, a broken file, a timeout)."""


@dataclass(frozen=True)
class Reading:
    lines: list[list[Word]]

    @property
    def text(self) -> str:
        return "\n".join(" ".join(w.text for w in line) for line in self.lines)

    @property
    def confidence(self) -> int:
        words = [w for line in self.lines for w in line]
        return round(sum(w.confidence for w in words) / len(words)) if words else 0


def parse_tsv(tsv: str) -> list[list[Word]]:
    """Tesseract's TSV output as lines of words with their confidence. Rows of level 5 are
    words; block, paragraph and line numbers say which line a word is on."""
    lines: dict[tuple[str, str, str, str], list[Word]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            confidence = float(cols[10])
        except ValueError:
            continue
        key = (cols[1], cols[2], cols[3], cols[4])
        lines.setdefault(key, []).append(Word(cols[11].strip(), max(confidence, 0.0)))
    return list(lines.values())


class TesseractReader:
    def __init__(self, timeout_seconds: float = 60.0, language: str = "eng") -> None:
        self.timeout = timeout_seconds
        self.language = language

    async def read(self, content: bytes, content_type: str) -> Reading:
        image = content
        if content_type == "application/pdf":
            # The first page only: an identity document or a utility bill is one page.
            image = await self._run(
                ["pdftoppm", "-f", "1", "-l", "1", "-r", PDF_DPI, "-png", "-singlefile", "-"],
                content,
            )
        tsv = await self._run(["tesseract", "stdin", "stdout", "-l", self.language, "tsv"], image)
        return Reading(parse_tsv(tsv.decode("utf-8", errors="replace")))

    async def _run(self, argv: Sequence[str], stdin: bytes) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "OMP_THREAD_LIMIT": THREADS},
            )
        except FileNotFoundError:
            raise OcrFailed(f"{argv[0]} is not installed") from None
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await process.communicate(stdin)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise OcrFailed(f"{argv[0]} took more than {self.timeout:g} s") from None
        if process.returncode != 0:
            detail = err.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            raise OcrFailed(f"{argv[0]} failed ({process.returncode}): {detail[0][:200]}")
        return out
