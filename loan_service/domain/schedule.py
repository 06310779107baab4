"""Repayment schedules: due dates, interest per period, amortization, rounding.

Conventions (following Apache Fineract unless stated):

* **Due dates.** Period *k* ends *k* periods after disbursement, or *k-1* periods after
  ``first_repayment_date`` when one is given. Monthly dates keep the anchor's day of month
  and fall back to the month's last day when it is shorter (Jan 31 -> Feb 28 -> Mar 31).
* **Declining-balance interest per period** = outstanding principal x annual rate x year
  fraction of the period (Fineract ``ProgressiveEMICalculator.calculateRateFactorPerPeriod``):

  - ``360`` (30/360): a monthly period is 30 days, so a regular month is exactly rate/12;
    an irregular first monthly period counts 30 days per whole month plus the actual days
    of the stub. Weekly, biweekly and daily periods count their actual days (7, 14, 1)
    over 360, as Fineract's weekly rate factor does (``7 * every / daysInYear``).
  - ``365`` (actual/365): actual days between the period's dates / 365.
  - ``actual`` (actual/actual): actual days / the length of the year they fall in; a period
    spanning New Year is split at Dec 31/Jan 1 and each part divided by its own year's
    length (Fineract ``calculatePeriodFractions``).

* **Equal installments (annuity).** The level installment is the one that brings the balance
  to exactly zero under each period's own rate: ``E = B * prod(1+r_k) / fn`` (Fineract's
  progressive EMI, ``calculateEMIValue``). With equal periods (30/360 monthly, any weekly,
  biweekly or daily loan) that is the textbook ``pmt``; with actual-day months it is the
  level payment for those months. Interest is computed per period on the balance with that
  period's own rate, principal = installment - interest, and the last installment takes
  whatever principal remains.
* **Equal principal**: principal / amortizing periods each, the last takes the remainder.
* **Flat**: interest each period = original principal x rate / periods per year (an
  irregular first period is prorated by its length in periods); principal as equal
  principal. Flat installments are level whichever amortization is chosen.
* **Rounding.** Every computed component is rounded (half-even, Fineract's default) to the
  product's unit: the currency's minor unit, or ``rounding_multiple``. The last installment
  absorbs the residue so principal sums exactly to the amortized amount. If rounding the
  level installment up would pay the loan off early, the installment is rounded down
  instead (the last installment is then slightly larger), so no installment ever has zero
  or negative principal outside grace.
* **Grace.** ``grace_on_principal`` = N first periods pay interest only; the principal is
  amortized over the remaining periods. ``grace_on_interest`` = N first periods charge no
  interest; the principal schedule is unchanged. With ``recover_grace_interest`` the
  interest of those periods is deferred and collected with the first installment after the
  grace (Fineract "interest payment grace"), otherwise it is waived (Fineract "interest
  charging grace").
* **Fees.** The upfront fee (percent of the requested principal, or flat) is deducted from
  the cash disbursed or financed into the amortized principal. The per-installment fee is
  added to every installment.

Totals: ``total_interest`` and ``total_repayment`` sum the installments; ``total_fees`` adds
the upfront fee to the installment fees (it is a cost to the borrower either way).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal, getcontext, localcontext
from typing import NamedTuple

from .errors import ValidationError
from .products import (
    HUNDRED,
    ONE,
    ROUNDING_MODE,
    ZERO,
    Amortization,
    ChargeCalculation,
    DaysInYear,
    FeeTreatment,
    InterestMethod,
    LoanProduct,
    RepaymentFrequency,
)

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_STEP_DAYS = {
    RepaymentFrequency.DAILY: 1,
    RepaymentFrequency.WEEKLY: 7,
    RepaymentFrequency.BIWEEKLY: 14,
}
_D360 = Decimal(360)
_D365 = Decimal(365)
_D366 = Decimal(366)
_D30 = Decimal(30)
_MIN_PRECISION = 28


class Installment(NamedTuple):
    """One row of a schedule. ``balance`` is the principal outstanding after it is paid.

    ``interest`` is what falls due on ``due_date``; ``interest_earned`` is the interest that
    accrues over the period (they differ only in interest-grace periods and in the
    installment that recovers deferred grace interest)."""

    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    total: Decimal
    balance: Decimal
    start_date: date
    interest_earned: Decimal


class Schedule(NamedTuple):
    """A loan's repayment schedule and what it costs.

    ``principal`` is the amount amortized (the requested principal plus a financed upfront
    fee); ``disbursed_amount`` is the cash the borrower receives (the requested principal
    less a deducted upfront fee)."""

    installments: tuple[Installment, ...]
    principal: Decimal
    disbursement_date: date
    disbursed_amount: Decimal
    upfront_fee: Decimal
    total_interest: Decimal
    total_fees: Decimal
    total_repayment: Decimal
    currency: str
    periods_per_year: int

    @property
    def term(self) -> int:
        return len(self.installments)

    @property
    def maturity_date(self) -> date:
        return self.installments[-1].due_date


# --- dates --------------------------------------------------------------------------------


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_length(year: int, month: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _MONTH_DAYS[month - 1]


def add_months(anchor: date, months: int, anchor_day: int | None = None) -> date:
    """``anchor`` moved by ``months``, keeping ``anchor_day`` (default: the anchor's day) and
    falling back to the last day of shorter months."""
    day = anchor_day or anchor.day
    index = anchor.month - 1 + months
    year = anchor.year + index // 12
    month = index % 12 + 1
    length = _month_length(year, month)
    return date(year, month, day if day <= length else length)


def due_dates(
    frequency: RepaymentFrequency,
    disbursement_date: date,
    term: int,
    first_repayment_date: date | None = None,
) -> list[date]:
    """The ``term`` due dates of a schedule."""
    if frequency is RepaymentFrequency.MONTHLY:
        if first_repayment_date is None or first_repayment_date == add_months(disbursement_date, 1):
            # A first date that is the regular one keeps the disbursement day as anchor, so
            # Jan 31 with a first repayment on Feb 29 still comes back to Mar 31.
            anchor, offset = disbursement_date, 1
        else:
            anchor, offset = first_repayment_date, 0
        # add_months inlined: this runs for every quote.
        day = anchor.day
        year = anchor.year
        base = anchor.month - 1 + offset
        out: list[date] = []
        for k in range(base, base + term):
            y = year + k // 12
            m = k % 12 + 1
            if day <= 28:
                out.append(date(y, m, day))
            else:
                length = _month_length(y, m)
                out.append(date(y, m, day if day <= length else length))
        return out
    step = timedelta(days=_STEP_DAYS[frequency])
    first = first_repayment_date or disbursement_date + step
    return [first + step * k for k in range(term)]


def _months_and_stub(start: date, end: date) -> tuple[int, int]:
    """Whole months counted back from ``end`` (keeping its day) while not before ``start``,
    and the actual days of the stub left over."""
    months = 0
    while add_months(end, -(months + 1)) >= start:
        months += 1
    return months, (add_months(end, -months) - start).days


# --- rates --------------------------------------------------------------------------------


def _actual_actual_fraction(start: date, end: date) -> Decimal:
    """Year fraction of a period spanning New Year: each year's days over its length."""
    total = ZERO
    cursor = start
    while cursor.year < end.year:
        year_end = date(cursor.year + 1, 1, 1)
        total += Decimal((year_end - cursor).days) / (_D366 if _is_leap(cursor.year) else _D365)
        cursor = year_end
    return total + Decimal((end - cursor).days) / (_D366 if _is_leap(end.year) else _D365)


def period_rate(product: LoanProduct, start: date, end: date, *, regular: bool = False) -> Decimal:
    """The declining-balance rate (a fraction) for the period ``start``..``end``.

    ``regular`` says the period is exactly one repayment period long, which lets 30/360
    monthly loans skip the month count."""
    basis = product.days_in_year
    cache = product._cache
    if basis is DaysInYear.DAYS_365:
        days = (end - start).days
        rate = cache.get(days)
        if rate is None:
            rate = cache[days] = product.rate * Decimal(days) / _D365
        return rate
    if basis is DaysInYear.ACTUAL:
        if start.year != end.year:
            return product.rate * _actual_actual_fraction(start, end)
        days = (end - start).days
        key = (days, _is_leap(start.year))
        rate = cache.get(key)
        if rate is None:
            year_days = _D366 if key[1] else _D365
            rate = cache[key] = product.rate * Decimal(days) / year_days
        return rate
    # 30/360
    if product.repayment_frequency is RepaymentFrequency.MONTHLY:
        if regular:
            months, stub = 1, 0
        else:
            months, stub = _months_and_stub(start, end)
        days = 30 * months + stub
    else:
        days = (end - start).days
    rate = cache.get(days)
    if rate is None:
        rate = cache[days] = product.rate * Decimal(days) / _D360
    return rate


def _period_rates(product: LoanProduct, starts: list[date], dues: list[date]) -> list[Decimal]:
    """`period_rate` for consecutive periods, with the cache look-up inlined."""
    cache = product._cache
    basis = product.days_in_year
    out: list[Decimal] = []
    append = out.append
    if basis is DaysInYear.DAYS_365:
        for start, end in zip(starts, dues, strict=True):
            rate = cache.get((end - start).days)
            append(period_rate(product, start, end) if rate is None else rate)
        return out
    if basis is DaysInYear.ACTUAL:
        for start, end in zip(starts, dues, strict=True):
            key = (
                ((end - start).days, _is_leap(start.year))
                if start.year == end.year
                else (start, end)
            )
            rate = cache.get(key)
            if rate is None:
                rate = cache[key] = period_rate(product, start, end)
            append(rate)
        return out
    return [period_rate(product, s, e) for s, e in zip(starts, dues, strict=True)]


def _period_fraction(product: LoanProduct, start: date, end: date) -> Decimal:
    """Length of ``start``..``end`` in repayment periods (1 for a regular period)."""
    if product.repayment_frequency is RepaymentFrequency.MONTHLY:
        months, stub = _months_and_stub(start, end)
        return Decimal(months) + Decimal(stub) / _D30
    return Decimal((end - start).days) / Decimal(_STEP_DAYS[product.repayment_frequency])


def _is_regular(product: LoanProduct, start: date, end: date) -> bool:
    freq = product.repayment_frequency
    if freq is RepaymentFrequency.MONTHLY:
        return add_months(start, 1) == end
    return (end - start).days == _STEP_DAYS[freq]


# --- amortization -------------------------------------------------------------------------


def _level_payment(grown_balance: Decimal, rest_rates: Sequence[Decimal]) -> Decimal:
    """The level installment for a balance already grown through the first amortizing period
    (balance + that period's interest) and the rates of the periods after it."""
    growth = ONE
    annuity = ONE
    for rate in rest_rates:
        factor = ONE + rate
        growth *= factor
        annuity = annuity * factor + ONE
    return grown_balance * growth / annuity


class _Rows(NamedTuple):
    principals: list[Decimal]
    interests: list[Decimal]


def amortize(
    product: LoanProduct,
    balance: Decimal,
    rates: Sequence[Decimal],
    *,
    principal_grace: int = 0,
    flat_interest: Sequence[Decimal] | None = None,
    first_interest: Decimal | None = None,
    level: Decimal | None = None,
    principal_each: Decimal | None = None,
    shorten: bool = False,
) -> _Rows:
    """Split ``balance`` over ``len(rates)`` periods into (principal, interest) rows.

    ``rates`` are declining-balance period rates; ``flat_interest`` replaces the computed
    interest (flat loans); ``first_interest`` fixes the first period's interest (a period
    already under way when a prepayment re-amortizes). ``level``/``principal_each`` keep the
    installment or principal size of an existing schedule, and with ``shorten`` the rows
    stop as soon as the balance is repaid (reduce-term prepayment)."""
    rnd = product.rounding
    unit = rnd.unit
    n = len(rates)
    equal_installments = (
        product.interest_method is InterestMethod.DECLINING_BALANCE
        and product.amortization is Amortization.EQUAL_INSTALLMENTS
    )
    amortizing = n - principal_grace

    exact_level: Decimal | None = None
    if equal_installments and level is None:
        exact_level = _exact_level(balance, rates, principal_grace, first_interest)
        level = rnd.round(exact_level)
    if not equal_installments and principal_each is None:
        principal_each = rnd.round(balance / amortizing)
        if balance - principal_each * (amortizing - 1) < rnd.minor:
            principal_each = rnd.floor(balance / amortizing)

    capped = False
    while True:
        principals: list[Decimal] = []
        interests: list[Decimal] = []
        remaining = balance
        exhausted = False
        lvl = level
        for k in range(n):
            if k == 0 and first_interest is not None:
                interest = first_interest
            elif flat_interest is not None:
                interest = flat_interest[k]
            else:
                interest = rnd.round(remaining * rates[k])
            if k < principal_grace:
                principal = ZERO
            elif k == n - 1:
                principal = remaining
            else:
                if lvl is not None:
                    principal = lvl - interest
                    if principal < unit:
                        # Interest of a long period exceeds the installment (only at extreme
                        # rates): repay one unit and re-level the remaining periods.
                        principal = unit
                        if not shorten:
                            lvl = rnd.round(_exact_level(remaining - unit, rates[k + 1 :], 0, None))
                else:
                    assert principal_each is not None
                    principal = principal_each
                if capped:
                    # Floored to the unit so a non-multiple residue stays with the last.
                    principal = min(principal, rnd.floor(remaining - unit * (n - 1 - k)))
                if principal >= remaining:
                    if shorten:
                        principals.append(remaining)
                        interests.append(interest)
                        break
                    exhausted = True
                    break
            principals.append(principal)
            interests.append(interest)
            remaining -= principal
        if not exhausted:
            return _Rows(principals, interests)
        # The rounded-up level installment repays the loan before its term: round down and
        # keep a unit of principal for every later installment.
        capped = True
        if exact_level is not None:
            level = rnd.floor(exact_level)
        elif level is not None:
            level = rnd.floor(level)


def _exact_level(
    balance: Decimal,
    rates: Sequence[Decimal],
    principal_grace: int,
    first_interest: Decimal | None,
) -> Decimal:
    first = principal_grace
    if first >= len(rates):
        return balance
    if first == 0 and first_interest is not None:
        grown = balance + first_interest
    else:
        grown = balance * (ONE + rates[first])
    return _level_payment(grown, rates[first + 1 :])


# --- schedule -----------------------------------------------------------------------------


def upfront_fee_amount(product: LoanProduct, principal: Decimal) -> Decimal:
    fee = product.upfront_fee
    if fee is None:
        return product.rounding.zero
    if fee.calculation is ChargeCalculation.PERCENT:
        return product.rounding.round(principal * fee.amount / HUNDRED)
    return product.rounding.minor_round(fee.amount)


def generate_schedule(
    product: LoanProduct,
    principal: Decimal,
    term: int,
    disbursement_date: date,
    first_repayment_date: date | None = None,
) -> Schedule:
    """The repayment schedule of ``principal`` over ``term`` installments.

    Raises `ValidationError` naming ``principal``, ``term`` or ``first_repayment_date``.
    Product limits (min/max principal and term) are not enforced here: see
    `LoanProduct.check_request`, which eligibility overrides can bypass."""
    if getcontext().prec < _MIN_PRECISION:
        with localcontext() as ctx:
            ctx.prec = 34
            return _generate(product, principal, term, disbursement_date, first_repayment_date)
    return _generate(product, principal, term, disbursement_date, first_repayment_date)


def _check_inputs(
    product: LoanProduct,
    principal: Decimal,
    term: int,
    disbursement_date: date,
    first_repayment_date: date | None,
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not isinstance(principal, Decimal) or not principal.is_finite():
        errors.append(("principal", "must be a Decimal amount"))
    elif principal <= 0:
        errors.append(("principal", "must be greater than zero"))
    elif not product.rounding.is_minor(principal):
        errors.append(("principal", f"must have at most {product.currency_decimals} decimals"))
    if not isinstance(term, int) or isinstance(term, bool) or term < 1:
        errors.append(("term", "must be an integer of at least 1 installment"))
    else:
        grace = max(product.grace_on_principal, product.grace_on_interest)
        if grace >= term:
            errors.append(("term", f"must be longer than the product's grace ({grace} periods)"))
    if not isinstance(disbursement_date, date):
        errors.append(("disbursement_date", "must be a date"))
    if first_repayment_date is not None and (
        not isinstance(first_repayment_date, date)
        or (isinstance(disbursement_date, date) and first_repayment_date <= disbursement_date)
    ):
        errors.append(("first_repayment_date", "must be a date after the disbursement date"))
    return errors


def _generate(
    product: LoanProduct,
    principal: Decimal,
    term: int,
    disbursement_date: date,
    first_repayment_date: date | None,
) -> Schedule:
    errors = _check_inputs(product, principal, term, disbursement_date, first_repayment_date)
    if errors:
        raise ValidationError(errors)
    rnd = product.rounding
    fee = upfront_fee_amount(product, principal)
    fee_spec = product.upfront_fee
    if fee_spec is not None and fee_spec.treatment is FeeTreatment.FINANCED:
        amortized, disbursed = principal + fee, principal
    else:
        amortized, disbursed = principal, principal - fee
        if disbursed <= 0:
            raise ValidationError.of("principal", "must exceed the upfront fee deducted from it")
    amortizing = term - product.grace_on_principal
    if amortized < rnd.unit * amortizing:
        raise ValidationError.of(
            "principal",
            f"is too small to repay over {amortizing} installments "
            f"in units of {rnd.unit} {product.currency}",
        )

    dues = due_dates(product.repayment_frequency, disbursement_date, term, first_repayment_date)
    starts = [disbursement_date, *dues[:-1]]
    first_regular = first_repayment_date is None or _is_regular(product, disbursement_date, dues[0])

    flat_interest: list[Decimal] | None = None
    rates: list[Decimal]
    if product.interest_method is InterestMethod.FLAT:
        per_period = rnd.round(amortized * product.rate / Decimal(product.periods_per_year))
        flat_interest = [per_period] * term
        if not first_regular:
            fraction = _period_fraction(product, disbursement_date, dues[0])
            flat_interest[0] = rnd.round(
                amortized * product.rate * fraction / Decimal(product.periods_per_year)
            )
        rates = [rnd.zero] * term
    else:
        monthly_360 = (
            product.days_in_year is DaysInYear.DAYS_360
            and product.repayment_frequency is RepaymentFrequency.MONTHLY
        )
        if monthly_360:
            regular_rate = period_rate(product, disbursement_date, dues[0], regular=True)
            rates = [regular_rate] * term
            if not first_regular:
                rates[0] = period_rate(product, disbursement_date, dues[0])
        else:
            rates = _period_rates(product, starts, dues)

    if not product.grace_on_principal and not product.grace_on_interest:
        fast = _fast_no_grace(product, amortized, rates, flat_interest, starts, dues)
        if fast is not None:
            return _schedule(product, fast, amortized, disbursement_date, disbursed, fee)

    rows = amortize(
        product,
        amortized,
        rates,
        principal_grace=product.grace_on_principal,
        flat_interest=flat_interest,
    )
    installments = _assemble(
        product, rows, starts, dues, amortized, first_number=1, deferred_before=ZERO
    )
    return _schedule(product, installments, amortized, disbursement_date, disbursed, fee)


_new_installment = tuple.__new__
_CACHE_LIMIT = 4096


def _level_terms(product: LoanProduct, rates: list[Decimal]) -> tuple[Decimal, Decimal]:
    """(growth, annuity) such that the level installment is ``balance * growth / annuity``,
    memoised per product: the same month-length patterns recur for every loan of a product.
    Kept as a pair, dividing last, so exact ties (37.49 / 46 = 0.815) still round exactly."""
    cache = product._cache
    key = ("level", *rates)
    terms = cache.get(key)
    if terms is None:
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        growth = ONE + rates[0]
        annuity = ONE
        for rate in rates[1:]:
            factor = ONE + rate
            growth *= factor
            annuity = annuity * factor + ONE
        terms = cache[key] = (growth, annuity)
    return terms


def _fast_no_grace(
    product: LoanProduct,
    balance: Decimal,
    rates: list[Decimal],
    flat_interest: list[Decimal] | None,
    starts: Sequence[date],
    dues: Sequence[date],
) -> list[Installment] | None:
    """Any schedule without grace, in one pass; None when the rounded installment would
    repay the loan early or a period's interest exceeds it (`amortize` handles those)."""
    rnd = product.rounding
    minor = rnd.minor
    unit = rnd.unit
    mode = ROUNDING_MODE
    plain = rnd.multiple is None
    fee = rnd.minor_round(product.installment_fee)
    n = len(rates)
    last = n - 1
    annuity = flat_interest is None and product.amortization is Amortization.EQUAL_INSTALLMENTS
    level = each = ZERO
    if annuity:
        growth, annuity_factor = _level_terms(product, rates)
        exact = balance * growth / annuity_factor
        level = exact.quantize(minor, mode) if plain else rnd.round(exact)
    else:
        each = rnd.round(balance / n)
        if balance - each * last < minor:
            each = rnd.floor(balance / n)
    remaining = balance
    out: list[Installment] = []
    append = out.append
    for k in range(n):
        if flat_interest is not None:
            interest = flat_interest[k]
        elif plain:
            interest = (remaining * rates[k]).quantize(minor, mode)
        else:
            interest = rnd.round(remaining * rates[k])
        if k == last:
            principal = remaining
        else:
            principal = level - interest if annuity else each
            if principal < unit or principal >= remaining:
                return None
        remaining -= principal
        append(
            _new_installment(
                Installment,
                (
                    k + 1,
                    dues[k],
                    principal,
                    interest,
                    fee,
                    principal + interest + fee,
                    remaining,
                    starts[k],
                    interest,
                ),
            )
        )
    return out


def _assemble(
    product: LoanProduct,
    rows: _Rows,
    starts: Sequence[date],
    dues: Sequence[date],
    balance: Decimal,
    *,
    first_number: int,
    deferred_before: Decimal,
    keep_first: tuple[Decimal, Decimal] | None = None,
) -> list[Installment]:
    """Turn amortization rows into installments: interest grace, fees, totals, balances.

    ``deferred_before`` is grace interest already deferred by earlier installments (when
    re-amortizing mid-loan); ``keep_first`` pins the first row's (payable, earned) interest."""
    zero = product.rounding.zero
    fee = product.rounding.minor_round(product.installment_fee)
    grace = product.grace_on_interest
    recover = product.recover_grace_interest
    deferred = deferred_before
    out: list[Installment] = []
    remaining = balance
    append = out.append
    for k, (principal, interest) in enumerate(zip(rows.principals, rows.interests, strict=False)):
        number = first_number + k
        remaining -= principal
        if k == 0 and keep_first is not None:
            payable, earned = keep_first
            if number <= grace and recover:
                deferred += earned
        elif number <= grace:
            payable = zero
            if recover:
                earned = interest
                deferred += interest
            else:
                earned = zero
        else:
            earned = interest
            payable = interest
            if number == grace + 1 and deferred:
                payable = interest + deferred
        append(
            _new_installment(
                Installment,
                (
                    number,
                    dues[k],
                    principal,
                    payable,
                    fee,
                    principal + payable + fee,
                    remaining,
                    starts[k],
                    earned,
                ),
            )
        )
    return out


def _schedule(
    product: LoanProduct,
    installments: list[Installment],
    amortized: Decimal,
    disbursement_date: date,
    disbursed: Decimal,
    upfront_fee: Decimal,
) -> Schedule:
    total_interest = total = product.rounding.zero
    total_fees = upfront_fee
    for inst in installments:
        total_interest += inst.interest
        total_fees += inst.fees
        total += inst.total
    return Schedule(
        tuple(installments),
        amortized,
        disbursement_date,
        disbursed,
        upfront_fee,
        total_interest,
        total_fees,
        total,
        product.currency,
        product.periods_per_year,
    )


__all__ = [
    "Installment",
    "Schedule",
    "add_months",
    "amortize",
    "due_dates",
    "generate_schedule",
    "period_rate",
    "upfront_fee_amount",
]
