"""Loan products: the terms a loan is priced and scheduled by.

A `LoanProduct` is immutable and validated on construction: every bad field is reported at
once in a `ValidationError` naming it. `parse_product` builds one from the strings the API
carries (decimal strings, enum names) with the same field-named errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from .errors import ValidationError

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)

#: Fineract's default rounding (global configuration ``rounding-mode`` = 6, HALF_EVEN).
ROUNDING_MODE = ROUND_HALF_EVEN

#: Rates above this are refused as a typo rather than priced (percent per year).
MAX_ANNUAL_RATE = Decimal(1000)


class InterestMethod(StrEnum):
    FLAT = "flat"
    DECLINING_BALANCE = "declining_balance"


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"
    EQUAL_PRINCIPAL = "equal_principal"


class RepaymentFrequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class DaysInYear(StrEnum):
    """Day-count basis: ``360`` is 30/360, ``365`` actual/365, ``actual`` actual/actual."""

    DAYS_360 = "360"
    DAYS_365 = "365"
    ACTUAL = "actual"


class ChargeCalculation(StrEnum):
    FLAT = "flat"
    PERCENT = "percent"


class FeeTreatment(StrEnum):
    DEDUCTED = "deducted"  # taken from the cash handed over
    FINANCED = "financed"  # added to the principal and repaid with it


class AllocationStrategy(StrEnum):
    PENALTIES_FEES_INTEREST_PRINCIPAL = "penalties_fees_interest_principal"
    INSTALLMENT_BY_INSTALLMENT = "installment_by_installment"


class PrepaymentStrategy(StrEnum):
    REDUCE_TERM = "reduce_term"
    REDUCE_INSTALLMENT = "reduce_installment"


class ScoreBand(StrEnum):
    AA = "AA"
    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def rank(self) -> int:
        """0 is best (AA)."""
        return _BAND_ORDER.index(self)

    def at_least(self, minimum: ScoreBand) -> bool:
        return self.rank <= minimum.rank


_BAND_ORDER = (ScoreBand.AA, ScoreBand.A, ScoreBand.B, ScoreBand.C, ScoreBand.D)

#: Nominal periods per year; daily depends on the day-count basis (360 or 365).
_PERIODS_PER_YEAR = {
    RepaymentFrequency.WEEKLY: 52,
    RepaymentFrequency.BIWEEKLY: 26,
    RepaymentFrequency.MONTHLY: 12,
}


class Rounding:
    """Rounds amounts to the product's unit: the currency's minor unit, or a multiple of it.

    Results always carry exactly ``decimals`` places so they print canonically.
    """

    __slots__ = ("decimals", "minor", "multiple", "unit", "zero")

    def __init__(self, decimals: int, multiple: Decimal | None = None) -> None:
        self.decimals = decimals
        self.minor = ONE.scaleb(-decimals)
        self.multiple = multiple
        self.unit = multiple if multiple is not None else self.minor
        self.zero = ZERO.quantize(self.minor)

    def round(self, amount: Decimal) -> Decimal:
        if self.multiple is None:
            return amount.quantize(self.minor, ROUNDING_MODE)
        steps = (amount / self.multiple).quantize(ONE, ROUNDING_MODE)
        return (steps * self.multiple).quantize(self.minor)

    def floor(self, amount: Decimal) -> Decimal:
        if self.multiple is None:
            return amount.quantize(self.minor, ROUND_FLOOR)
        steps = (amount / self.multiple).quantize(ONE, ROUND_FLOOR)
        return (steps * self.multiple).quantize(self.minor)

    def minor_round(self, amount: Decimal) -> Decimal:
        """Round to the minor unit only (for amounts that need not be multiples)."""
        return amount.quantize(self.minor, ROUNDING_MODE)

    def is_minor(self, amount: Decimal) -> bool:
        return amount == amount.quantize(self.minor, ROUND_FLOOR)

    def is_rounded(self, amount: Decimal) -> bool:
        return amount % self.unit == 0


@dataclass(frozen=True, slots=True)
class UpfrontFee:
    """A one-off fee at disbursement: ``amount`` is a percent of principal or a flat sum."""

    calculation: ChargeCalculation
    amount: Decimal
    treatment: FeeTreatment = FeeTreatment.DEDUCTED


@dataclass(frozen=True, slots=True)
class LatePenalty:
    """Charged once per installment still unpaid ``tolerance_days`` after it fell due;
    ``amount`` is flat or a percent of the installment's overdue amount."""

    calculation: ChargeCalculation
    amount: Decimal
    tolerance_days: int = 0


@dataclass(frozen=True)
class LoanProduct:
    """The terms of a loan product. Amounts in major units; rates in percent per year."""

    name: str
    currency: str
    interest_method: InterestMethod
    amortization: Amortization
    annual_interest_rate: Decimal
    repayment_frequency: RepaymentFrequency
    min_principal: Decimal
    max_principal: Decimal
    min_term: int
    max_term: int
    days_in_year: DaysInYear = DaysInYear.DAYS_360
    grace_on_principal: int = 0
    grace_on_interest: int = 0
    #: True: interest of the interest-grace periods is deferred and collected with the first
    #: installment after the grace. False: it is waived.
    recover_grace_interest: bool = False
    upfront_fee: UpfrontFee | None = None
    installment_fee: Decimal = ZERO
    late_penalty: LatePenalty | None = None
    currency_decimals: int = 2
    rounding_multiple: Decimal | None = None
    allocation_strategy: AllocationStrategy = AllocationStrategy.PENALTIES_FEES_INTEREST_PRINCIPAL
    prepayment_strategy: PrepaymentStrategy = PrepaymentStrategy.REDUCE_TERM
    min_score_band: ScoreBand | None = None

    # Derived once so schedule generation does no per-call setup.
    rounding: Rounding = field(init=False, repr=False, compare=False, hash=False)
    rate: Decimal = field(init=False, repr=False, compare=False, hash=False)
    periods_per_year: int = field(init=False, repr=False, compare=False, hash=False)
    _cache: dict[Any, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        errors = _validate(self)
        if errors:
            raise ValidationError(errors)
        object.__setattr__(
            self, "rounding", Rounding(self.currency_decimals, self.rounding_multiple)
        )
        object.__setattr__(self, "rate", self.annual_interest_rate / HUNDRED)
        if self.repayment_frequency is RepaymentFrequency.DAILY:
            ppy = 360 if self.days_in_year is DaysInYear.DAYS_360 else 365
        else:
            ppy = _PERIODS_PER_YEAR[self.repayment_frequency]
        object.__setattr__(self, "periods_per_year", ppy)
        object.__setattr__(self, "_cache", {})

    @property
    def rounding_unit(self) -> Decimal:
        return self.rounding.unit

    def check_request(self, principal: Decimal, term: int) -> None:
        """Refuse a principal or term outside the product's limits (quotes, applications)."""
        errors: list[tuple[str, str]] = []
        if not self.min_principal <= principal <= self.max_principal:
            errors.append(
                ("principal", f"must be between {self.min_principal} and {self.max_principal}")
            )
        if not self.min_term <= term <= self.max_term:
            errors.append(("term", f"must be between {self.min_term} and {self.max_term}"))
        if errors:
            raise ValidationError(errors)

    def to_mapping(self) -> dict[str, object]:
        """The product as JSON-friendly values (decimal strings, enum values), in the flat
        shape `parse_product` reads back."""
        out: dict[str, object] = {}
        for name in _INIT_FIELDS:
            value = getattr(self, name)
            if name in ("upfront_fee", "late_penalty"):
                continue
            if isinstance(value, Decimal):
                out[name] = str(value)
            elif isinstance(value, StrEnum):
                out[name] = value.value
            else:
                out[name] = value
        fee = self.upfront_fee
        if fee is not None:
            key = (
                "upfront_fee_rate"
                if fee.calculation is ChargeCalculation.PERCENT
                else ("upfront_fee_amount")
            )
            out[key] = str(fee.amount)
            out["upfront_fee_treatment"] = fee.treatment.value
        penalty = self.late_penalty
        if penalty is not None:
            key = (
                "late_penalty_rate"
                if penalty.calculation is ChargeCalculation.PERCENT
                else ("late_penalty_amount")
            )
            out[key] = str(penalty.amount)
            out["late_penalty_tolerance_days"] = penalty.tolerance_days
        return out

    def with_changes(self, **changes: Any) -> LoanProduct:
        """A copy with some terms changed (revalidated), e.g. a rescheduled rate."""
        values = {name: getattr(self, name) for name in _INIT_FIELDS}
        values.update(changes)
        return LoanProduct(**values)


_INIT_FIELDS = tuple(
    name for name, f in LoanProduct.__dataclass_fields__.items() if f.init and f.name[0] != "_"
)


def _is_decimal(value: object) -> bool:
    # bool and float are refused on purpose: money is never a float.
    return isinstance(value, Decimal) and value.is_finite()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(p: LoanProduct) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []

    def err(name: str, message: str) -> None:
        errors.append((name, message))

    if not isinstance(p.name, str) or not p.name.strip():
        err("name", "must not be blank")
    if not isinstance(p.currency, str) or len(p.currency) != 3 or not p.currency.isalpha():
        err("currency", "must be a three-letter ISO 4217 code")
    enums: tuple[tuple[str, type[StrEnum]], ...] = (
        ("interest_method", InterestMethod),
        ("amortization", Amortization),
        ("repayment_frequency", RepaymentFrequency),
        ("days_in_year", DaysInYear),
        ("allocation_strategy", AllocationStrategy),
        ("prepayment_strategy", PrepaymentStrategy),
    )
    for name, enum in enums:
        if not isinstance(getattr(p, name), enum):
            err(name, f"must be one of {', '.join(e.value for e in enum)}")
    if p.min_score_band is not None and not isinstance(p.min_score_band, ScoreBand):
        err("min_score_band", "must be one of AA, A, B, C, D")

    decimals_ok = _is_int(p.currency_decimals) and 0 <= p.currency_decimals <= 4
    if not decimals_ok:
        err("currency_decimals", "must be an integer between 0 and 4")
    minor = ONE.scaleb(-p.currency_decimals) if decimals_ok else None

    def money(name: str, value: object, *, positive: bool) -> bool:
        if not _is_decimal(value):
            err(name, "must be a Decimal amount")
            return False
        assert isinstance(value, Decimal)
        if value < 0 or (positive and value == 0):
            err(name, "must be greater than zero" if positive else "must not be negative")
            return False
        if minor is not None and value % minor != 0:
            err(name, f"must have at most {p.currency_decimals} decimals")
            return False
        return True

    if not _is_decimal(p.annual_interest_rate):
        err("annual_interest_rate", "must be a Decimal percent per year")
    elif not ZERO <= p.annual_interest_rate <= MAX_ANNUAL_RATE:
        err("annual_interest_rate", f"must be between 0 and {MAX_ANNUAL_RATE} percent per year")

    lo_ok = money("min_principal", p.min_principal, positive=True)
    hi_ok = money("max_principal", p.max_principal, positive=True)
    if lo_ok and hi_ok and p.min_principal > p.max_principal:
        err("min_principal", "must not exceed max_principal")

    terms_ok = True
    for name in ("min_term", "max_term"):
        value = getattr(p, name)
        if not _is_int(value) or value < 1:
            err(name, "must be an integer of at least 1 installment")
            terms_ok = False
    if terms_ok and p.min_term > p.max_term:
        err("min_term", "must not exceed max_term")

    for name in ("grace_on_principal", "grace_on_interest"):
        value = getattr(p, name)
        if not _is_int(value) or value < 0:
            err(name, "must be a non-negative integer number of periods")
        elif terms_ok and value >= p.min_term:
            err(name, f"must be fewer periods than min_term ({p.min_term})")
    if not isinstance(p.recover_grace_interest, bool):
        err("recover_grace_interest", "must be true or false")

    if p.rounding_multiple is not None and money(
        "rounding_multiple", p.rounding_multiple, positive=True
    ):
        pass
    money("installment_fee", p.installment_fee, positive=False)
    unit = p.rounding_multiple if p.rounding_multiple is not None else minor
    if (
        unit is not None
        and _is_decimal(p.installment_fee)
        and _is_decimal(unit)
        and unit > 0  # a zero or negative rounding_multiple is refused above
        and p.installment_fee % unit != 0
    ):
        err("installment_fee", f"must be a multiple of the rounding unit {unit}")

    fee = p.upfront_fee
    if fee is not None:
        if not isinstance(fee, UpfrontFee):
            err("upfront_fee", "must be an UpfrontFee")
        else:
            _charge(err, "upfront_fee", fee.calculation, fee.amount, minor)
            if (
                fee.calculation is ChargeCalculation.PERCENT
                and _is_decimal(fee.amount)
                and fee.amount >= HUNDRED
            ):
                err("upfront_fee.amount", "a percent fee must be below 100")
            if not isinstance(fee.treatment, FeeTreatment):
                err("upfront_fee.treatment", "must be deducted or financed")
            elif (
                fee.treatment is FeeTreatment.DEDUCTED
                and fee.calculation is ChargeCalculation.FLAT
                and lo_ok
                and _is_decimal(fee.amount)
                and fee.amount >= p.min_principal
            ):
                err("upfront_fee.amount", "a deducted fee must be below min_principal")

    penalty = p.late_penalty
    if penalty is not None:
        if not isinstance(penalty, LatePenalty):
            err("late_penalty", "must be a LatePenalty")
        else:
            _charge(err, "late_penalty", penalty.calculation, penalty.amount, minor)
            if not _is_int(penalty.tolerance_days) or penalty.tolerance_days < 0:
                err("late_penalty.tolerance_days", "must be a non-negative integer")
    return errors


def _charge(
    err: Callable[[str, str], None],
    prefix: str,
    calculation: object,
    amount: object,
    minor: Decimal | None,
) -> None:
    if not isinstance(calculation, ChargeCalculation):
        err(f"{prefix}.calculation", "must be flat or percent")
    if not _is_decimal(amount):
        err(f"{prefix}.amount", "must be a Decimal")
        return
    assert isinstance(amount, Decimal)
    if amount <= 0:
        err(f"{prefix}.amount", "must be greater than zero")
    elif calculation is ChargeCalculation.PERCENT and amount > MAX_ANNUAL_RATE:
        err(f"{prefix}.amount", f"must not exceed {MAX_ANNUAL_RATE} percent")
    elif calculation is ChargeCalculation.FLAT and minor is not None and amount % minor != 0:
        err(f"{prefix}.amount", "has more decimals than the currency")


# --- parsing from API strings -------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def parse_product(data: Mapping[str, object]) -> LoanProduct:
    """Build a product from JSON-like data (decimal strings, enum values), naming every bad
    field. Nested fee and penalty fields are flattened as the REST API has them:
    ``upfront_fee_rate`` / ``upfront_fee_amount`` / ``upfront_fee_treatment``,
    ``late_penalty_rate`` / ``late_penalty_amount`` / ``late_penalty_tolerance_days``."""
    errors: list[tuple[str, str]] = []
    out: dict[str, Any] = {}

    def dec(name: str, *, required: bool = True) -> Decimal | None:
        raw = data.get(name)
        if raw is None:
            if required:
                errors.append((name, "is required"))
            return None
        if isinstance(raw, Decimal):
            return raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            return Decimal(raw)
        if isinstance(raw, str):
            try:
                value = Decimal(raw.strip())
            except InvalidOperation:
                value = None
            if value is not None and value.is_finite():
                return value
        errors.append((name, f"must be a decimal string, got {raw!r}"))
        return None

    def integer(name: str, default: int | None = None) -> int | None:
        raw = data.get(name)
        if raw is None:
            if default is None:
                errors.append((name, "is required"))
            return default
        if isinstance(raw, bool):
            errors.append((name, "must be an integer"))
            return None
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            return int(raw)
        errors.append((name, "must be an integer"))
        return None

    def enum(name: str, kind: type[_E], default: _E | None = None) -> _E | None:
        raw = data.get(name)
        if raw is None:
            if default is None:
                errors.append((name, "is required"))
            return default
        try:
            return kind(str(raw))
        except ValueError:
            errors.append((name, f"must be one of {', '.join(e.value for e in kind)}"))
            return None

    out["name"] = data.get("name") if isinstance(data.get("name"), str) else ""
    out["currency"] = str(data.get("currency") or "")
    out["interest_method"] = enum("interest_method", InterestMethod)
    out["amortization"] = enum("amortization", Amortization)
    out["annual_interest_rate"] = dec("annual_interest_rate")
    out["repayment_frequency"] = enum("repayment_frequency", RepaymentFrequency)
    out["min_principal"] = dec("min_principal")
    out["max_principal"] = dec("max_principal")
    out["min_term"] = integer("min_term")
    out["max_term"] = integer("max_term")
    out["days_in_year"] = enum("days_in_year", DaysInYear, DaysInYear.DAYS_360)
    out["grace_on_principal"] = integer("grace_on_principal", 0)
    out["grace_on_interest"] = integer("grace_on_interest", 0)
    out["recover_grace_interest"] = bool(data.get("recover_grace_interest", False))
    out["installment_fee"] = dec("installment_fee", required=False) or ZERO
    out["currency_decimals"] = integer("currency_decimals", 2)
    out["rounding_multiple"] = dec("rounding_multiple", required=False)
    out["allocation_strategy"] = enum(
        "allocation_strategy",
        AllocationStrategy,
        AllocationStrategy.PENALTIES_FEES_INTEREST_PRINCIPAL,
    )
    out["prepayment_strategy"] = enum(
        "prepayment_strategy", PrepaymentStrategy, PrepaymentStrategy.REDUCE_TERM
    )
    band = data.get("min_score_band")
    out["min_score_band"] = None if band is None else enum("min_score_band", ScoreBand)

    fee_rate = dec("upfront_fee_rate", required=False)
    fee_amount = dec("upfront_fee_amount", required=False)
    treatment = enum("upfront_fee_treatment", FeeTreatment, FeeTreatment.DEDUCTED)
    if fee_rate is not None and fee_amount is not None:
        errors.append(("upfront_fee_rate", "give either upfront_fee_rate or upfront_fee_amount"))
    elif (fee_rate or fee_amount) and treatment is not None:
        calc = ChargeCalculation.PERCENT if fee_rate else ChargeCalculation.FLAT
        out["upfront_fee"] = UpfrontFee(calc, fee_rate or fee_amount or ZERO, treatment)

    pen_rate = dec("late_penalty_rate", required=False)
    pen_amount = dec("late_penalty_amount", required=False)
    tolerance = integer("late_penalty_tolerance_days", 0)
    if pen_rate is not None and pen_amount is not None:
        errors.append(("late_penalty_rate", "give either late_penalty_rate or late_penalty_amount"))
    elif (pen_rate or pen_amount) and tolerance is not None:
        calc = ChargeCalculation.PERCENT if pen_rate else ChargeCalculation.FLAT
        out["late_penalty"] = LatePenalty(calc, pen_rate or pen_amount or ZERO, tolerance)

    if errors:
        raise ValidationError(errors)
    # Nested names back to the flat names the caller used.
    names = {
        "upfront_fee.amount": "upfront_fee_rate" if fee_rate else "upfront_fee_amount",
        "upfront_fee.treatment": "upfront_fee_treatment",
        "late_penalty.amount": "late_penalty_rate" if pen_rate else "late_penalty_amount",
        "late_penalty.tolerance_days": "late_penalty_tolerance_days",
    }
    try:
        return LoanProduct(**out)
    except ValidationError as exc:
        raise ValidationError([(names.get(f, f), m) for f, m in exc.field_errors]) from None


__all__ = [
    "MAX_ANNUAL_RATE",
    "ROUNDING_MODE",
    "AllocationStrategy",
    "Amortization",
    "ChargeCalculation",
    "DaysInYear",
    "FeeTreatment",
    "InterestMethod",
    "LatePenalty",
    "LoanProduct",
    "PrepaymentStrategy",
    "RepaymentFrequency",
    "Rounding",
    "ScoreBand",
    "UpfrontFee",
    "parse_product",
]
