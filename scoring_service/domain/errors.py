"""Typed domain errors with stable reason codes.

`DomainError` is defined here for now; it is meant to move to `shared/` so that one mapping
turns every service's domain errors into `google.rpc.Status` with an `ErrorInfo` reason.
"""

from __future__ import annotations

from collections.abc import Iterable

# Stable reason codes (ErrorInfo.reason). Never rename one: clients match on them.
RULE_INVALID = "RULE_INVALID"
"""A rule does not parse, names an unknown field or function, mistypes an operand, is too
long or too deeply nested, or has an invalid name or points."""
SCORECARD_EMPTY = "SCORECARD_EMPTY"
"""Publishing a version that has no rules."""
CUTOFFS_INVALID = "CUTOFFS_INVALID"
"""Band cut-offs missing, out of 0..1000, or not strictly descending AA > A > B > C > 0."""
BASE_SCORE_INVALID = "BASE_SCORE_INVALID"
"""The base score is not an integer in 0..1000."""
FIELD_INVALID = "FIELD_INVALID"
"""A scorecard-specific field definition is malformed or clashes with the catalogue."""
ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
"""A version status change that the life cycle draft -> published -> retired forbids."""
VERSION_NOT_FOUND = "VERSION_NOT_FOUND"
"""No version with that number in this scorecard."""
NO_PUBLISHED_VERSION = "NO_PUBLISHED_VERSION"
"""Scoring asked of a scorecard that has no published version."""
WHATIF_INVALID = "WHATIF_INVALID"
"""A what-if request that cannot be computed (e.g. a non-draft compared to itself)."""


class DomainError(Exception):
    """A business rule was broken.

    `reason` is a stable machine code (see the constants above); `details` names each
    offending field (a JSON-pointer-like path such as ``rules[2].when``) with a message a
    risk officer can act on.
    """

    reason: str
    details: list[tuple[str, str]]

    def __init__(self, reason: str, details: Iterable[tuple[str, str]] = ()) -> None:
        self.reason = reason
        self.details = list(details)
        summary = "; ".join(f"{field}: {message}" for field, message in self.details)
        super().__init__(f"{reason}: {summary}" if summary else reason)
