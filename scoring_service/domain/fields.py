"""The field catalogue: what a rule may read about an applicant, and with what type.

An applicant is a nested mapping ``{"borrower": {...}, "loan": {...}, "history": {...},
"group": {...}}``; a rule names a value by its dotted path (``borrower.monthly_income``).
The standard catalogue below is what every institution's scorecard can use. A scorecard
version may declare extra fields (a statistical scorecard trained on another data set does);
the version carries them, so it can be re-validated and re-evaluated on its own later.

Values arrive from JSON or from other services, so they are coerced on read:

- ``number``: ``int`` (not ``bool``), ``Decimal``, finite ``float`` (through its shortest
  repr, so ``0.1`` is ``Decimal("0.1")``) or a decimal string such as ``"1500.00"`` (money
  travels as decimal strings); NaN and infinities are invalid.
- ``string``: ``str`` only.
- ``bool``: ``bool`` only (no ``"true"``, no ``1``).

``None`` or an absent key means *missing*; a value of the wrong type is *invalid*. Either
way a rule that needs the value is skipped (0 points) and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from scoring_service.domain.errors import FIELD_INVALID, ScoringInvalid


class FieldType(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"


KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_PATH = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$")
MAX_DESCRIPTION = 500


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One readable value: its dotted path, its type, and what it means (units included)."""

    path: str
    type: FieldType
    description: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "type": self.type.value, "description": self.description}


STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "borrower.monthly_income",
        FieldType.NUMBER,
        "Declared monthly income, in major units of the loan currency (Decimal).",
    ),
    FieldSpec("borrower.age", FieldType.NUMBER, "Age in whole years at application."),
    FieldSpec("borrower.household_size", FieldType.NUMBER, "People in the household."),
    FieldSpec(
        "borrower.gender",
        FieldType.STRING,
        "Declared gender (e.g. 'female', 'male'). Kept for reporting; using it to score is "
        "a policy decision the institution must own.",
    ),
    FieldSpec(
        "borrower.business_type",
        FieldType.STRING,
        "Main income activity, e.g. 'retail', 'agriculture', 'services', 'manufacturing'.",
    ),
    FieldSpec(
        "borrower.years_in_business",
        FieldType.NUMBER,
        "Years the borrower's main activity has been running.",
    ),
    FieldSpec("loan.principal", FieldType.NUMBER, "Requested principal, in major units."),
    FieldSpec("loan.term", FieldType.NUMBER, "Number of installments."),
    FieldSpec(
        "loan.installment_amount",
        FieldType.NUMBER,
        "Scheduled installment (principal + interest + fees), in major units.",
    ),
    FieldSpec("loan.purpose", FieldType.STRING, "Declared purpose, e.g. 'working_capital'."),
    FieldSpec(
        "history.max_days_past_due",
        FieldType.NUMBER,
        "Worst days past due on any previous loan at this institution (0 if never late).",
    ),
    FieldSpec("history.loans_repaid", FieldType.NUMBER, "Previous loans repaid in full."),
    FieldSpec("history.loans_written_off", FieldType.NUMBER, "Previous loans written off."),
    FieldSpec("history.open_loans", FieldType.NUMBER, "Loans currently open (active)."),
    FieldSpec("group.size", FieldType.NUMBER, "Members of the borrower's lending group."),
    FieldSpec(
        "group.is_member",
        FieldType.BOOL,
        "Whether the borrower belongs to a joint-liability group.",
    ),
)


class FieldCatalogue(Mapping[str, FieldSpec]):
    """An immutable mapping from dotted path to `FieldSpec`."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[FieldSpec]) -> None:
        self._fields: dict[str, FieldSpec] = {}
        problems = []
        for spec in fields:
            problems.extend(field_spec_problems(spec))
            if spec.path in self._fields:
                problems.append((spec.path, "field declared twice"))
            self._fields[spec.path] = spec
        if problems:
            raise ScoringInvalid(FIELD_INVALID, problems)

    def __getitem__(self, path: str) -> FieldSpec:
        return self._fields[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def extend(self, extra: Iterable[FieldSpec]) -> FieldCatalogue:
        """A catalogue with `extra` added; an extra field may repeat a known one only with the
        same type (the standard meaning then wins)."""
        merged = dict(self._fields)
        problems: list[tuple[str, str]] = []
        for index, spec in enumerate(extra):
            known = merged.get(spec.path)
            if known is not None and spec.path in self._fields:
                if known.type is not spec.type:
                    problems.append(
                        (
                            f"fields[{index}]",
                            f"'{spec.path}' is a catalogue field of type {known.type}, "
                            f"not {spec.type}",
                        )
                    )
                continue
            if known is not None:
                problems.append((f"fields[{index}]", f"'{spec.path}' declared twice"))
                continue
            problems.extend((f"fields[{index}]", m) for _, m in field_spec_problems(spec))
            merged[spec.path] = spec
        if problems:
            raise ScoringInvalid(FIELD_INVALID, problems)
        return FieldCatalogue(merged.values())


def field_spec_problems(spec: FieldSpec) -> list[tuple[str, str]]:
    problems = []
    if not isinstance(spec.path, str) or not _PATH.match(spec.path):
        problems.append(
            (
                str(spec.path),
                "a field path is 2 to 4 lower-case segments joined by dots, "
                "e.g. 'borrower.monthly_income'",
            )
        )
    elif any(segment in KEYWORDS for segment in spec.path.split(".")):
        problems.append((spec.path, "a path segment may not be a keyword of the rule language"))
    if not isinstance(spec.type, FieldType):
        problems.append((str(spec.path), "type must be one of number, string, bool"))
    if not isinstance(spec.description, str) or len(spec.description) > MAX_DESCRIPTION:
        problems.append((str(spec.path), f"description is text of at most {MAX_DESCRIPTION}"))
    return problems


def field_spec_from_dict(data: Mapping[str, object]) -> FieldSpec:
    """Build a `FieldSpec` from ``{"path", "type", "description"?}``; raises FIELD_INVALID."""
    path = data.get("path")
    raw_type = data.get("type")
    description = data.get("description", "")
    try:
        field_type = FieldType(str(raw_type))
    except ValueError:
        raise ScoringInvalid(
            FIELD_INVALID, [(str(path), f"unknown type {raw_type!r}: use number, string or bool")]
        ) from None
    spec = FieldSpec(str(path), field_type, str(description))
    problems = field_spec_problems(spec)
    if problems:
        raise ScoringInvalid(FIELD_INVALID, problems)
    return spec


STANDARD_CATALOGUE = FieldCatalogue(STANDARD_FIELDS)


# --- reading values out of applicant documents -------------------------------------------


class Unusable:
    """Marks a value a rule cannot use; `note` is the explanation (``x missing``)."""

    __slots__ = ("missing", "note")

    def __init__(self, note: str, *, missing: bool) -> None:
        self.note = note
        self.missing = missing


def to_number(value: object) -> Decimal | None:
    """Coerce a JSON-ish value to a finite Decimal, or None if it is not a number."""
    kind = type(value)
    if kind is Decimal:
        assert isinstance(value, Decimal)
        return value if value.is_finite() else None
    if kind is int:
        assert isinstance(value, int)
        return Decimal(value)
    if kind is float:
        assert isinstance(value, float)
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if kind is str:
        assert isinstance(value, str)
        if len(value) > 100:
            return None
        try:
            number = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return to_number(Decimal(value))
    return None


def lookup(document: object, segments: tuple[str, ...]) -> object:
    """Walk a nested mapping; None when any level is absent or not a mapping."""
    current = document
    for segment in segments:
        if type(current) is dict:
            current = current.get(segment)
        elif isinstance(current, Mapping):
            try:
                current = current.get(segment)
            except Exception:  # a foreign mapping's own failure is still "no value"
                return None
        else:
            return None
        if current is None:
            return None
    return current
