"""What-if: replay past applications through a draft and compare with the published version.

For each version the report gives the band distribution, the approval rate when applicants
are approved at `approve_at` or a better band, the mean score, and — where past outcomes are
known — the bad rate among those the version would approve. Between the two versions it
counts band moves and "swaps": applicants approved by one version and not the other.

Rates are `Decimal` fractions rounded to 4 places with ROUND_HALF_EVEN (`RATE_QUANTUM`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Final

from scoring_service.domain.errors import WHATIF_INVALID, ScoringInvalid
from scoring_service.domain.scorecard import (
    BANDS_BEST_FIRST,
    Band,
    ScorecardVersion,
    ScoreResult,
    compile_version,
)

RATE_QUANTUM: Final = Decimal("0.0001")
MAX_APPLICATIONS: Final = 100_000


class Outcome(StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class PastApplication:
    """An applicant document as scored at the time, with what was decided and what happened
    (``outcome`` good/bad; None while unknown, e.g. for rejected applicants)."""

    applicant: Mapping[str, Any]
    decision: str | None = None
    outcome: Outcome | None = None

    @classmethod
    def parse(cls, data: PastApplication | Mapping[str, Any]) -> PastApplication:
        if isinstance(data, PastApplication):
            return data
        outcome = data.get("outcome")
        return cls(
            applicant=data.get("applicant", {}),
            decision=data.get("decision"),
            outcome=Outcome(outcome) if outcome in ("good", "bad") else None,
        )


def rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Summary:
    """How one version scores the whole set of past applications."""

    version: int
    fingerprint: str
    applications: int
    band_counts: Mapping[Band, int]
    band_shares: Mapping[Band, Decimal]
    approved: int
    approval_rate: Decimal | None
    mean_score: Decimal | None
    approved_with_outcome: int
    approved_bad: int
    bad_rate_approved: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "applications": self.applications,
            "band_counts": {band.value: self.band_counts[band] for band in BANDS_BEST_FIRST},
            "band_shares": {band.value: str(self.band_shares[band]) for band in BANDS_BEST_FIRST},
            "approved": self.approved,
            "approval_rate": _text(self.approval_rate),
            "mean_score": _text(self.mean_score),
            "approved_with_outcome": self.approved_with_outcome,
            "approved_bad": self.approved_bad,
            "bad_rate_approved": _text(self.bad_rate_approved),
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    approve_at: Band
    applications: int
    recorded_approval_rate: Decimal | None
    """Share of applications whose recorded decision was "approved" (None if none recorded)."""
    before: Summary | None
    """The published version's figures; None when nothing is published yet."""
    after: Summary
    band_moves: Mapping[tuple[Band, Band], int]
    """(band before, band after) -> applications, for applications whose band changed."""
    swap_in: int
    """Approved by the draft, not by the published version."""
    swap_out: int
    """Approved by the published version, not by the draft."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "approve_at": self.approve_at.value,
            "applications": self.applications,
            "recorded_approval_rate": _text(self.recorded_approval_rate),
            "before": None if self.before is None else self.before.to_dict(),
            "after": self.after.to_dict(),
            "band_moves": [
                {"from": before.value, "to": after.value, "applications": count}
                for (before, after), count in sorted(
                    self.band_moves.items(), key=lambda kv: (-kv[0][0].rank, -kv[0][1].rank)
                )
            ],
            "swap_in": self.swap_in,
            "swap_out": self.swap_out,
        }


def _summarise(
    version: ScorecardVersion,
    results: Sequence[ScoreResult],
    applications: Sequence[PastApplication],
    approve_at: Band,
) -> Summary:
    counts = dict.fromkeys(BANDS_BEST_FIRST, 0)
    approved = approved_with_outcome = approved_bad = 0
    total_score = 0
    for result, application in zip(results, applications, strict=True):
        counts[result.band] += 1
        total_score += result.score
        if result.band.rank >= approve_at.rank:
            approved += 1
            if application.outcome is not None:
                approved_with_outcome += 1
                approved_bad += application.outcome is Outcome.BAD
    n = len(results)
    shares = {band: rate(counts[band], n) or Decimal("0.0000") for band in BANDS_BEST_FIRST}
    mean = (
        None
        if n == 0
        else (Decimal(total_score) / Decimal(n)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    )
    return Summary(
        version=version.number,
        fingerprint=version.fingerprint,
        applications=n,
        band_counts=counts,
        band_shares=shares,
        approved=approved,
        approval_rate=rate(approved, n),
        mean_score=mean,
        approved_with_outcome=approved_with_outcome,
        approved_bad=approved_bad,
        bad_rate_approved=rate(approved_bad, approved_with_outcome),
    )


def what_if(
    draft: ScorecardVersion,
    published: ScorecardVersion | None,
    applications: Iterable[PastApplication | Mapping[str, Any]],
    approve_at: Band = Band.C,
) -> WhatIfReport:
    """Replay `applications` through `draft` (and `published`, if any) and compare.

    Approval means a band of `approve_at` or better. Raises WHATIF_INVALID for more than
    `MAX_APPLICATIONS` applications.
    """
    parsed = [PastApplication.parse(a) for a in applications]
    if len(parsed) > MAX_APPLICATIONS:
        raise ScoringInvalid(
            WHATIF_INVALID, [("applications", f"at most {MAX_APPLICATIONS} per what-if")]
        )
    new = compile_version(draft)
    after_results = [new.evaluate(a.applicant) for a in parsed]
    after = _summarise(draft, after_results, parsed, approve_at)
    recorded = [a for a in parsed if a.decision is not None]
    recorded_rate = rate(sum(a.decision == "approved" for a in recorded), len(recorded))
    if published is None:
        return WhatIfReport(approve_at, len(parsed), recorded_rate, None, after, {}, 0, 0)
    old = compile_version(published)
    before_results = [old.evaluate(a.applicant) for a in parsed]
    before = _summarise(published, before_results, parsed, approve_at)
    moves: dict[tuple[Band, Band], int] = {}
    swap_in = swap_out = 0
    for was, now in zip(before_results, after_results, strict=True):
        if was.band is not now.band:
            key = (was.band, now.band)
            moves[key] = moves.get(key, 0) + 1
        approved_before = was.band.rank >= approve_at.rank
        approved_after = now.band.rank >= approve_at.rank
        swap_in += approved_after and not approved_before
        swap_out += approved_before and not approved_after
    return WhatIfReport(
        approve_at, len(parsed), recorded_rate, before, after, moves, swap_in, swap_out
    )
