"""Scorecards, their versions and bands, and scoring an applicant.

A scorecard belongs to an institution and has a name; its content lives in numbered
*versions*. A version is a base score, a list of rules (``{name, when, points}``) and band
cut-offs, plus any scorecard-specific fields its rules read. Life cycle::

    draft --publish--> published --(another version published, or retire)--> retired

Drafts may be revised; a published version is immutable and at most one version is
published at a time. A version's *fingerprint* is a SHA-256 of its content, so a stored
decision (fingerprint + applicant inputs) can be reproduced exactly later.

Scoring: ``score = clamp(base_score + sum(points of matched rules), 0, 1000)``, then the band
is the best one whose minimum the score reaches (``AA >= cutoffs.AA``, ..., ``D`` below C).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, NamedTuple

from scoring_service.domain.errors import (
    BASE_SCORE_INVALID,
    CUTOFFS_INVALID,
    FIELD_INVALID,
    ILLEGAL_TRANSITION,
    NO_PUBLISHED_VERSION,
    RULE_INVALID,
    SCORECARD_EMPTY,
    SCORECARD_INVALID,
    VERSION_NOT_FOUND,
    DomainError,
    ScoringIllegalState,
    ScoringInvalid,
    ScoringNotFound,
)
from scoring_service.domain.fields import (
    STANDARD_CATALOGUE,
    FieldCatalogue,
    FieldSpec,
    field_spec_from_dict,
)
from scoring_service.domain.rules import (
    CheckedExpression,
    FieldReader,
    RuleIssue,
    Skip,
    arithmetic_note,
    check,
    compile_condition,
)

MIN_SCORE: Final = 0
MAX_SCORE: Final = 1000
MAX_RULES: Final = 200
MAX_POINTS: Final = 1000
MAX_RULE_NAME: Final = 64
_RULE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .:()<>=+\-/]*$")


class Band(StrEnum):
    AA = "AA"
    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def rank(self) -> int:
        """D=0 (worst) ... AA=4 (best); ``band.rank >= Band.C.rank`` reads "C or better"."""
        return _BAND_RANK[self]


_BAND_RANK: Final = {Band.D: 0, Band.C: 1, Band.B: 2, Band.A: 3, Band.AA: 4}
BANDS_BEST_FIRST: Final = (Band.AA, Band.A, Band.B, Band.C, Band.D)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Minimum score of each band; D is every score below `c`.

    Valid when ``1000 >= aa > a > b > c >= 1``: every band is then a non-empty range of
    0..1000 and the five ranges cover it without gap or overlap.
    """

    aa: int
    a: int
    b: int
    c: int

    def band_for(self, score: int) -> Band:
        if score >= self.aa:
            return Band.AA
        if score >= self.a:
            return Band.A
        if score >= self.b:
            return Band.B
        if score >= self.c:
            return Band.C
        return Band.D

    def to_dict(self) -> dict[str, int]:
        return {"AA": self.aa, "A": self.a, "B": self.b, "C": self.c}

    @classmethod
    def parse(cls, data: Cutoffs | Mapping[str, object]) -> Cutoffs:
        """Validate ``{"AA": int, "A": int, "B": int, "C": int}``; raises CUTOFFS_INVALID."""
        problems = cutoff_problems(data)
        if problems:
            raise ScoringInvalid(CUTOFFS_INVALID, problems)
        if isinstance(data, Cutoffs):
            return data
        return cls(int(data["AA"]), int(data["A"]), int(data["B"]), int(data["C"]))  # type: ignore[call-overload]


def cutoff_problems(data: object) -> list[tuple[str, str]]:
    if isinstance(data, Cutoffs):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        return [("cutoffs", 'an object {"AA": min, "A": min, "B": min, "C": min}')]
    problems: list[tuple[str, str]] = []
    for key in data:
        if key == "D":
            problems.append(("cutoffs.D", "D has no minimum: it is every score below C's minimum"))
        elif key not in ("AA", "A", "B", "C"):
            problems.append((f"cutoffs.{key}", "unknown band; bands are AA, A, B, C, D"))
    values: dict[str, int] = {}
    for key in ("AA", "A", "B", "C"):
        value = data.get(key)
        if value is None:
            problems.append((f"cutoffs.{key}", f"required: the minimum score of band {key}"))
        elif type(value) is not int:
            problems.append((f"cutoffs.{key}", "must be a whole number"))
        elif not 1 <= value <= MAX_SCORE:
            problems.append((f"cutoffs.{key}", f"must be within 1..{MAX_SCORE}, got {value}"))
        else:
            values[key] = value
    for higher, lower in (("AA", "A"), ("A", "B"), ("B", "C")):
        if higher in values and lower in values and values[lower] >= values[higher]:
            problems.append(
                (
                    f"cutoffs.{lower}",
                    f"must be below {higher}'s minimum ({values[higher]}), got "
                    f"{values[lower]}: cut-offs descend strictly AA > A > B > C so bands "
                    "neither overlap nor leave gaps",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class Rule:
    """``points`` are added to the score when ``when`` holds."""

    name: str
    when: str
    points: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "when": self.when, "points": self.points}


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclass(frozen=True)
class ScorecardVersion:
    """One immutable snapshot of a scorecard's content and status.

    Build with `build_version` (or through `Scorecard`), which validates; `fields` are the
    scorecard-specific fields the rules may read on top of the standard catalogue.
    """

    scorecard_id: str
    number: int
    status: VersionStatus
    base_score: int
    rules: tuple[Rule, ...]
    cutoffs: Cutoffs
    fields: tuple[FieldSpec, ...] = ()
    fingerprint: str = field(init=False, default="")

    def __post_init__(self) -> None:
        content = json.dumps(self.content(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        object.__setattr__(self, "fingerprint", digest)

    @property
    def version_id(self) -> str:
        return f"{self.scorecard_id}@{self.number}"

    def content(self) -> dict[str, Any]:
        """What the score depends on (not status, not identity): the fingerprinted part."""
        return {
            "base_score": self.base_score,
            "rules": [rule.to_dict() for rule in self.rules],
            "cutoffs": self.cutoffs.to_dict(),
            "fields": [spec.to_dict() for spec in self.fields],
        }

    def catalogue(self) -> FieldCatalogue:
        return STANDARD_CATALOGUE.extend(self.fields) if self.fields else STANDARD_CATALOGUE

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorecard_id": self.scorecard_id,
            "number": self.number,
            "status": self.status.value,
            "fingerprint": self.fingerprint,
            **self.content(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScorecardVersion:
        """Rebuild a stored version, re-validating it and checking its fingerprint."""
        version = build_version(
            scorecard_id=str(data["scorecard_id"]),
            number=int(data["number"]),
            base_score=data["base_score"],
            rules=data["rules"],
            cutoffs=data["cutoffs"],
            fields=data.get("fields", ()),
            status=VersionStatus(data.get("status", VersionStatus.DRAFT)),
        )
        stored = data.get("fingerprint")
        if stored and stored != version.fingerprint:
            raise ScoringInvalid(
                SCORECARD_INVALID,
                [("fingerprint", "the stored content does not match its fingerprint")],
            )
        return version


class RuleInvalid(ScoringInvalid):
    """RULE_INVALID with the structured issues (rule, line, column, code) kept."""

    def __init__(self, details: Iterable[tuple[str, str]], issues: Sequence[RuleIssue]) -> None:
        super().__init__(RULE_INVALID, details)
        self.issues = list(issues)


def _rule_name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "a rule needs a name"
    if len(name) > MAX_RULE_NAME:
        return f"a rule name has at most {MAX_RULE_NAME} characters"
    if not _RULE_NAME.match(name):
        return "use letters, digits, spaces and _ . : ( ) < > = + - / in rule names"
    return None


def _parse_rules(
    raw_rules: object, catalogue: Mapping[str, FieldSpec]
) -> tuple[tuple[Rule, ...], list[tuple[str, str]], list[RuleIssue]]:
    problems: list[tuple[str, str]] = []
    issues: list[RuleIssue] = []
    if isinstance(raw_rules, str | bytes) or not isinstance(raw_rules, Sequence):
        return (), [("rules", "a list of {name, when, points}")], []
    if len(raw_rules) > MAX_RULES:
        return (), [("rules", f"at most {MAX_RULES} rules, got {len(raw_rules)}")], []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        where = f"rules[{index}]"
        mine: list[tuple[str, str]] = []
        name: object
        when: object
        points: object
        if isinstance(raw, Rule):
            name, when, points = raw.name, raw.when, raw.points
        elif isinstance(raw, Mapping):
            unknown = sorted(str(k) for k in raw if k not in ("name", "when", "points"))
            if unknown:
                mine.append((where, f"unknown key(s) {', '.join(unknown)}"))
            name, when, points = raw.get("name"), raw.get("when"), raw.get("points")
        else:
            problems.append((where, "a rule is {name, when, points}"))
            continue
        label = name if isinstance(name, str) and name else f"#{index + 1}"
        name_problem = _rule_name_problem(name)
        if name_problem:
            mine.append((f"{where}.name", name_problem))
        elif name in seen:
            mine.append((f"{where}.name", f"rule name '{name}' is used twice"))
        else:
            seen.add(str(name))
        if type(points) is not int:
            mine.append((f"{where}.points", f"rule '{label}': points must be a whole number"))
        elif not -MAX_POINTS <= points <= MAX_POINTS:
            mine.append((f"{where}.points", f"rule '{label}': points must be within ±{MAX_POINTS}"))
        if isinstance(when, str):
            _, found = check(when, catalogue, rule=str(label))
            issues.extend(found)
            mine.extend((f"{where}.when", issue.describe()) for issue in found)
        else:
            mine.append((f"{where}.when", f"rule '{label}': the condition must be text"))
        if mine:
            problems.extend(mine)
        else:
            assert isinstance(name, str) and isinstance(when, str) and type(points) is int
            rules.append(Rule(name, when, points))
    return tuple(rules), problems, issues


def build_version(
    *,
    scorecard_id: str,
    number: int,
    base_score: object,
    rules: object,
    cutoffs: object,
    fields: Iterable[FieldSpec | Mapping[str, Any]] = (),
    status: VersionStatus = VersionStatus.DRAFT,
) -> ScorecardVersion:
    """Validate and build a version; raises `DomainError` naming every problem.

    The reason is RULE_INVALID if any rule is wrong (the error is a `RuleInvalid` with the
    structured issues), else CUTOFFS_INVALID, BASE_SCORE_INVALID or FIELD_INVALID; `details`
    lists every problem found, whatever the reason.
    """
    problems: list[tuple[str, str]] = []
    specs: list[FieldSpec] = []
    try:
        for raw in fields:
            specs.append(raw if isinstance(raw, FieldSpec) else field_spec_from_dict(raw))
        catalogue = STANDARD_CATALOGUE.extend(specs)
    except DomainError as error:
        raise ScoringInvalid(FIELD_INVALID, error.details) from None
    if type(base_score) is not int or not MIN_SCORE <= base_score <= MAX_SCORE:
        problems.append(("base_score", f"a whole number within {MIN_SCORE}..{MAX_SCORE}"))
    cutoff_issues = cutoff_problems(cutoffs)
    parsed_rules, rule_problems, issues = _parse_rules(rules, catalogue)
    all_problems = rule_problems + cutoff_issues + problems
    if rule_problems:
        raise RuleInvalid(all_problems, issues)
    if cutoff_issues:
        raise ScoringInvalid(CUTOFFS_INVALID, all_problems)
    if problems:
        raise ScoringInvalid(BASE_SCORE_INVALID, all_problems)
    assert type(base_score) is int and isinstance(cutoffs, Mapping | Cutoffs)
    return ScorecardVersion(
        scorecard_id=scorecard_id,
        number=number,
        status=status,
        base_score=base_score,
        rules=parsed_rules,
        cutoffs=Cutoffs.parse(cutoffs),
        fields=tuple(specs),
    )


# --- scoring --------------------------------------------------------------------------------


class Contribution(NamedTuple):
    """What one rule did: points awarded (0 unless matched), whether it matched, and why."""

    rule: str
    points: int
    matched: bool
    note: str

    @property
    def skipped(self) -> bool:
        return self.note.startswith("skipped")


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: int
    band: Band
    scorecard_id: str
    version: int
    fingerprint: str
    base_score: int
    total: int
    """base + points before clamping to 0..1000."""
    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "band": self.band.value,
            "scorecard_id": self.scorecard_id,
            "scorecard_version": self.version,
            "fingerprint": self.fingerprint,
            "base_score": self.base_score,
            "contributions": [c._asdict() for c in self.contributions],
        }


MATCHED: Final = "matched"
NOT_MATCHED: Final = "not matched"


class CompiledScorecard:
    """A version compiled once into closures; `evaluate` is the hot path."""

    __slots__ = ("_base", "_cutoffs", "_reader", "_rules", "version")

    def __init__(self, version: ScorecardVersion) -> None:
        catalogue = version.catalogue()
        checked: list[tuple[Rule, CheckedExpression]] = []
        paths: dict[str, None] = {}
        for rule in version.rules:
            expression, issues = check(rule.when, catalogue, rule=rule.name)
            if expression is None:  # only reachable for hand-made, unvalidated versions
                raise RuleInvalid([("rules", i.describe()) for i in issues], issues)
            checked.append((rule, expression))
            paths.update(dict.fromkeys(expression.fields))
        self.version = version
        self._reader = FieldReader([catalogue[path] for path in paths])
        self._base = version.base_score
        self._cutoffs = version.cutoffs
        self._rules = tuple(
            (
                rule.name,
                rule.points,
                compile_condition(expression, self._reader.slots),
                Contribution(rule.name, rule.points, True, MATCHED),
                Contribution(rule.name, 0, False, NOT_MATCHED),
            )
            for rule, expression in checked
        )

    def evaluate(self, applicant: object) -> ScoreResult:
        values = self._reader.read(applicant)
        total = self._base
        contributions: list[Contribution] = []
        append = contributions.append
        for name, points, condition, matched, not_matched in self._rules:
            try:
                if condition(values):
                    total += points
                    append(matched)
                else:
                    append(not_matched)
            except Skip as skip:
                append(Contribution(name, 0, False, "skipped: " + skip.note))
            except ArithmeticError as error:
                append(Contribution(name, 0, False, "skipped: " + arithmetic_note(error)))
        score = MIN_SCORE if total < MIN_SCORE else MAX_SCORE if total > MAX_SCORE else total
        version = self.version
        return ScoreResult(
            score=score,
            band=self._cutoffs.band_for(score),
            scorecard_id=version.scorecard_id,
            version=version.number,
            fingerprint=version.fingerprint,
            base_score=self._base,
            total=total,
            contributions=tuple(contributions),
        )


_CACHE_SIZE: Final = 256
_cache: OrderedDict[tuple[str, str], CompiledScorecard] = OrderedDict()
_cache_lock = threading.Lock()


def compile_version(version: ScorecardVersion) -> CompiledScorecard:
    """The compiled form of `version`, cached by (version id, content fingerprint)."""
    key = (version.version_id, version.fingerprint)
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
            return compiled
    compiled = CompiledScorecard(version)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def evaluate(version: ScorecardVersion, applicant: object) -> ScoreResult:
    """Score a nested applicant document ``{"borrower": {...}, "loan": {...}, ...}`` with
    `version` (any status: drafts can be previewed). Never raises because of the data."""
    return compile_version(version).evaluate(applicant)


# --- the aggregate --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftSaved:
    scorecard_id: str
    institution_id: str
    number: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class VersionPublished:
    scorecard_id: str
    institution_id: str
    number: int
    fingerprint: str
    retired: int | None


@dataclass(frozen=True, slots=True)
class VersionRetired:
    scorecard_id: str
    institution_id: str
    number: int


Event = DraftSaved | VersionPublished | VersionRetired


class Scorecard:
    """An institution's named scorecard and all its versions (the aggregate root)."""

    def __init__(
        self,
        scorecard_id: str,
        institution_id: str,
        name: str,
        versions: Iterable[ScorecardVersion] = (),
    ) -> None:
        problems = []
        if not isinstance(institution_id, str) or not institution_id:
            problems.append(("institution_id", "required"))
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            problems.append(("name", "a name of 1 to 100 characters"))
        if problems:
            raise ScoringInvalid(SCORECARD_INVALID, problems)
        self.id = scorecard_id
        self.institution_id = institution_id
        self.name = name
        self.versions: list[ScorecardVersion] = sorted(versions, key=lambda v: v.number)
        self.events: list[Event] = []

    @property
    def published(self) -> ScorecardVersion | None:
        for version in self.versions:
            if version.status is VersionStatus.PUBLISHED:
                return version
        return None

    def version(self, number: int) -> ScorecardVersion:
        for version in self.versions:
            if version.number == number:
                return version
        raise ScoringNotFound(VERSION_NOT_FOUND, [("version", f"no version {number}")])

    def create_draft(
        self,
        *,
        base_score: object,
        rules: object,
        cutoffs: object,
        fields: Iterable[FieldSpec | Mapping[str, Any]] = (),
    ) -> ScorecardVersion:
        number = max((v.number for v in self.versions), default=0) + 1
        draft = build_version(
            scorecard_id=self.id,
            number=number,
            base_score=base_score,
            rules=rules,
            cutoffs=cutoffs,
            fields=fields,
        )
        self.versions.append(draft)
        self.events.append(DraftSaved(self.id, self.institution_id, number, draft.fingerprint))
        return draft

    def revise_draft(
        self,
        number: int,
        *,
        base_score: object,
        rules: object,
        cutoffs: object,
        fields: Iterable[FieldSpec | Mapping[str, Any]] = (),
    ) -> ScorecardVersion:
        current = self.version(number)
        if current.status is not VersionStatus.DRAFT:
            raise _illegal(current, "revise", "only a draft can be changed; create a new draft")
        revised = build_version(
            scorecard_id=self.id,
            number=number,
            base_score=base_score,
            rules=rules,
            cutoffs=cutoffs,
            fields=fields,
        )
        self._replace(revised)
        self.events.append(DraftSaved(self.id, self.institution_id, number, revised.fingerprint))
        return revised

    def publish(self, number: int) -> ScorecardVersion:
        """Publish a draft; the previously published version, if any, is retired."""
        draft = self.version(number)
        if draft.status is not VersionStatus.DRAFT:
            raise _illegal(draft, "publish", "only a draft can be published")
        if not draft.rules:
            raise ScoringIllegalState(
                SCORECARD_EMPTY, [("rules", f"version {number} has no rules to publish")]
            )
        compile_version(draft)  # fail now, not at the first score
        previous = self.published
        if previous is not None:
            self._replace(replace(previous, status=VersionStatus.RETIRED))
        published = replace(draft, status=VersionStatus.PUBLISHED)
        self._replace(published)
        self.events.append(
            VersionPublished(
                self.id,
                self.institution_id,
                number,
                published.fingerprint,
                previous.number if previous else None,
            )
        )
        return published

    def retire(self, number: int) -> ScorecardVersion:
        version = self.version(number)
        if version.status is not VersionStatus.PUBLISHED:
            raise _illegal(version, "retire", "only the published version can be retired")
        retired = replace(version, status=VersionStatus.RETIRED)
        self._replace(retired)
        self.events.append(VersionRetired(self.id, self.institution_id, number))
        return retired

    def score(self, applicant: object) -> ScoreResult:
        published = self.published
        if published is None:
            raise ScoringIllegalState(
                NO_PUBLISHED_VERSION, [("scorecard", f"'{self.name}' has no published version")]
            )
        return evaluate(published, applicant)

    def _replace(self, version: ScorecardVersion) -> None:
        self.versions = [version if v.number == version.number else v for v in self.versions]


def _illegal(version: ScorecardVersion, action: str, hint: str) -> ScoringIllegalState:
    return ScoringIllegalState(
        ILLEGAL_TRANSITION,
        [("status", f"cannot {action} version {version.number}: it is {version.status}; {hint}")],
        metadata={"state": version.status.value},
    )
