"""Typed domain errors with stable reason codes.

Every error here is also one of the shared kinds (`shared.errors`), so the one mapping in
`shared.rpc_errors` turns it into a `google.rpc.Status` with an `ErrorInfo` reason and, for
validation errors, a `BadRequest` naming each field; the gateway then answers problem+json:

- `*_INVALID` (rules, cut-offs, base score, fields, scorecard, what-if): `ValidationError`,
  INVALID_ARGUMENT, HTTP 422;
- `VERSION_NOT_FOUND`, `SCORECARD_NOT_FOUND`: `NotFound`, NOT_FOUND, HTTP 404;
- `SCORECARD_EMPTY`, `ILLEGAL_TRANSITION`, `NO_PUBLISHED_VERSION`: `IllegalState`,
  FAILED_PRECONDITION, HTTP 409.

`details` (the same list as the shared `field_errors`) names each offending field with a
JSON-pointer-like path (``rules[2].when``) and a message a risk officer can act on; for a
rule condition the message names the rule and the line and column
(``rule 'income', line 1, column 10: unknown field ...``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared import errors as shared

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
SCORECARD_INVALID = "SCORECARD_INVALID"
"""The scorecard itself (name, institution) or a stored version (fingerprint) is invalid."""
ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
"""A version status change that the life cycle draft -> published -> retired forbids."""
VERSION_NOT_FOUND = "VERSION_NOT_FOUND"
"""No version with that number in this scorecard."""
SCORECARD_NOT_FOUND = "SCORECARD_NOT_FOUND"
"""No scorecard (version) with that id in the caller's institution."""
NO_PUBLISHED_VERSION = "NO_PUBLISHED_VERSION"
"""Scoring asked of a scorecard (or an institution) that has no published version."""
WHATIF_INVALID = "WHATIF_INVALID"
"""A what-if request that cannot be computed (e.g. a version compared to itself)."""

_HEADLINES: Mapping[str, str] = {
    RULE_INVALID: "the scorecard has invalid rules",
    CUTOFFS_INVALID: "the band cut-offs are invalid",
    BASE_SCORE_INVALID: "the base score is invalid",
    FIELD_INVALID: "a field definition is invalid",
    SCORECARD_INVALID: "the scorecard is invalid",
    WHATIF_INVALID: "the what-if cannot be computed",
    SCORECARD_EMPTY: "the scorecard has no rules",
    ILLEGAL_TRANSITION: "illegal status change",
    NO_PUBLISHED_VERSION: "no published scorecard version",
    VERSION_NOT_FOUND: "version not found",
    SCORECARD_NOT_FOUND: "scorecard not found",
}


class DomainError(shared.DomainError):
    """A business rule of scoring was broken (the base of the classes below).

    `reason` is a stable machine code (see the constants above); `details` names each
    offending field with a message. Raise one of the concrete subclasses, which fix the
    shared kind (and so the gRPC and HTTP status).
    """

    def __init__(
        self,
        reason: str,
        details: Iterable[tuple[str, str]] = (),
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        problems = list(details)
        summary = "; ".join(f"{field}: {message}" for field, message in problems)
        headline = _HEADLINES.get(reason, reason)
        super().__init__(
            f"{headline}: {summary}" if summary else headline,
            reason=reason,
            field_errors=problems,
            metadata=metadata,
        )

    @property
    def details(self) -> list[tuple[str, str]]:
        """The offending fields and what is wrong with each (the shared `field_errors`)."""
        return self.field_errors


class ScoringInvalid(DomainError, shared.ValidationError):
    """Input that can never be accepted as given (`*_INVALID` reasons): INVALID_ARGUMENT."""


class ScoringNotFound(DomainError, shared.NotFound):
    """VERSION_NOT_FOUND / SCORECARD_NOT_FOUND: NOT_FOUND."""


class ScoringIllegalState(DomainError, shared.IllegalState):
    """SCORECARD_EMPTY / ILLEGAL_TRANSITION / NO_PUBLISHED_VERSION: FAILED_PRECONDITION."""
