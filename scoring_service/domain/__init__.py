"""The pure domain core of scoring: rule language, scorecards, what-if. No I/O here."""

from scoring_service.domain.errors import (
    DomainError,
    ScoringIllegalState,
    ScoringInvalid,
    ScoringNotFound,
)
from scoring_service.domain.fields import (
    STANDARD_CATALOGUE,
    FieldCatalogue,
    FieldSpec,
    FieldType,
)
from scoring_service.domain.rules import RuleIssue, check
from scoring_service.domain.scorecard import (
    Band,
    CompiledScorecard,
    Contribution,
    Cutoffs,
    Rule,
    RuleInvalid,
    Scorecard,
    ScorecardVersion,
    ScoreResult,
    VersionStatus,
    build_version,
    compile_version,
    evaluate,
)
from scoring_service.domain.whatif import PastApplication, WhatIfReport, what_if

__all__ = [
    "STANDARD_CATALOGUE",
    "Band",
    "CompiledScorecard",
    "Contribution",
    "Cutoffs",
    "DomainError",
    "FieldCatalogue",
    "FieldSpec",
    "FieldType",
    "PastApplication",
    "Rule",
    "RuleInvalid",
    "RuleIssue",
    "ScoreResult",
    "Scorecard",
    "ScorecardVersion",
    "ScoringIllegalState",
    "ScoringInvalid",
    "ScoringNotFound",
    "VersionStatus",
    "WhatIfReport",
    "build_version",
    "check",
    "compile_version",
    "evaluate",
    "what_if",
]
