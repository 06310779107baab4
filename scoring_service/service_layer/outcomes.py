"""What happened to a scored loan, and what counts as a default (pure, no I/O).

The outcome of a subject (a loan id) is folded from the loan positions carried by loan
events (`loan.closed`, `loan.written_off`, `loan.reclassified`, `loan.repayment_applied`):
the status of the newest one (highest loan version) and the **maximum days past due** seen
on any of them. Folding recorded positions makes the outcome independent of event order and
of redeliveries.

- A loan has **matured** when its status is `closed` or `written_off`; until then its outcome
  is unknown and it is left out of default rates and of what-if bad rates.
- A matured loan **defaulted** ("bad") if it was written off or was ever more than 90 days
  past due (`max_days_past_due > 90`, the Basel / IFRS 9 backstop); a loan closed without
  ever passing 90 days past due is "good".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from scoring_service.domain.whatif import Outcome, rate

CLOSED: Final = "closed"
WRITTEN_OFF: Final = "written_off"
MATURED_STATUSES: Final = frozenset({CLOSED, WRITTEN_OFF})
DEFAULT_DAYS_PAST_DUE: Final = 90
"""A loan more than this many days past due at any time counts as a default."""


def fold(snapshots: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A loan's outcome from its recorded snapshots; None when none was recorded."""
    if not snapshots:
        return None
    newest = max(snapshots, key=lambda s: int(s["loan_version"]))
    return {
        "loan_id": newest["loan_id"],
        "institution_id": newest["institution_id"],
        "status": newest["status"],
        "days_past_due": int(newest["days_past_due"]),
        "max_days_past_due": max(int(s["days_past_due"]) for s in snapshots),
        "loan_version": int(newest["loan_version"]),
    }


def is_matured(outcome: Mapping[str, Any] | None) -> bool:
    return outcome is not None and outcome.get("status") in MATURED_STATUSES


def is_default(outcome: Mapping[str, Any]) -> bool:
    return (
        outcome.get("status") == WRITTEN_OFF
        or int(outcome.get("max_days_past_due") or 0) > DEFAULT_DAYS_PAST_DUE
    )


def outcome_of(outcome: Mapping[str, Any] | None) -> Outcome | None:
    """good/bad for a matured loan; None while the outcome is unknown."""
    if outcome is None or not is_matured(outcome):
        return None
    return Outcome.BAD if is_default(outcome) else Outcome.GOOD


@dataclass(frozen=True, slots=True)
class BandOutcome:
    band: str
    scored: int
    matured: int
    defaulted: int
    default_rate: Decimal | None
    """defaulted / matured, 4 decimal places (ROUND_HALF_EVEN); None when nothing matured."""


@dataclass(frozen=True, slots=True)
class GovernanceReport:
    scorecard_id: str
    applications_scored: int
    bands: tuple[BandOutcome, ...]


def band_outcome(band: str, scored: int, matured: int, defaulted: int) -> BandOutcome:
    return BandOutcome(band, scored, matured, defaulted, rate(defaulted, matured))
