"""Binning of characteristics with weight of evidence (WoE) and information value (IV).

Conventions (Siddiqi, *Credit Risk Scorecards*; Thomas, Edelman & Crook):

- ``WoE(bin) = ln(share of goods in the bin / share of bads in the bin)``: positive bins are
  safer than average. Counts are smoothed by 0.5 so an all-good bin has a finite WoE.
- ``IV = sum over bins (share of goods - share of bads) * WoE``; rule of thumb: < 0.02
  useless, 0.02-0.1 weak, 0.1-0.3 medium, > 0.3 strong.

Numeric characteristics start from up to 20 quantile bins whose edges are observed values,
then adjacent bins are merged until every bin holds at least `min_share` of the rows and
some goods and bads, the bad rate moves in one direction across bins (monotonic), and at
most `max_bins` remain (closest bad rates merged first). Bins are ``[lower, upper)``; edges
are exact `Decimal` values so the exported rules (``x >= lower and x < upper``) cut exactly
where the model does. Categorical characteristics are ordered by bad rate and merged the
same way. Rows whose value is missing form their own bin (rule ``x == null``) when there are
enough of them; otherwise a missing value, like a category never seen in training, falls in
no bin and scores the neutral WoE 0.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, cast

from scoring_service.domain.fields import to_number

SMOOTHING: Final = 0.5
PREBINS: Final = 20


class Kind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class NumericBin:
    """``lower <= x < upper``; None means unbounded."""

    lower: Decimal | None
    upper: Decimal | None

    def condition(self, path: str) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{path} >= {_decimal_text(self.lower)}")
        if self.upper is not None:
            parts.append(f"{path} < {_decimal_text(self.upper)}")
        return " and ".join(parts) if parts else f"{path} != null"

    @property
    def label(self) -> str:
        low = "-inf" if self.lower is None else _decimal_text(self.lower)
        high = "+inf" if self.upper is None else _decimal_text(self.upper)
        return f"[{low}, {high})"


@dataclass(frozen=True, slots=True)
class CategoryBin:
    values: tuple[str, ...]

    def condition(self, path: str) -> str:
        if len(self.values) == 1:
            return f"{path} == {quote(self.values[0])}"
        return f"{path} in [{', '.join(quote(v) for v in self.values)}]"

    @property
    def label(self) -> str:
        return " | ".join(self.values)


@dataclass(frozen=True, slots=True)
class MissingBin:
    def condition(self, path: str) -> str:
        return f"{path} == null"

    @property
    def label(self) -> str:
        return "missing"


Bin = NumericBin | CategoryBin | MissingBin


@dataclass(frozen=True, slots=True)
class BinStats:
    bin: Bin
    goods: int
    bads: int
    woe: float
    iv: float

    @property
    def bad_rate(self) -> float:
        return self.bads / (self.goods + self.bads)


@dataclass(frozen=True, slots=True)
class Characteristic:
    """A binned characteristic: which bin a value falls in, and that bin's WoE."""

    path: str
    kind: Kind
    bins: tuple[BinStats, ...]
    iv: float

    def bin_index(self, raw: object) -> int | None:
        """Index of the bin `raw` falls in; None for a value in no bin (WoE 0)."""
        if raw is None:
            return self._missing_index()
        if self.kind is Kind.NUMERIC:
            value = to_number(raw)
            if value is None:
                return None
            for index, stats in enumerate(self.bins):
                b = stats.bin
                if isinstance(b, NumericBin) and (
                    (b.lower is None or value >= b.lower) and (b.upper is None or value < b.upper)
                ):
                    return index
            return None
        if type(raw) is not str:
            return None
        for index, stats in enumerate(self.bins):
            if isinstance(stats.bin, CategoryBin) and raw in stats.bin.values:
                return index
        return None

    def woe(self, raw: object) -> float:
        index = self.bin_index(raw)
        return 0.0 if index is None else self.bins[index].woe

    def _missing_index(self) -> int | None:
        for index, stats in enumerate(self.bins):
            if isinstance(stats.bin, MissingBin):
                return index
        return None


def quote(text: str) -> str:
    """A string literal of the rule language for `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text


@dataclass
class _Group:
    """A run of adjacent pre-bins (numeric) or categories being merged."""

    keys: list[object]
    goods: int
    bads: int

    @property
    def total(self) -> int:
        return self.goods + self.bads

    @property
    def bad_rate(self) -> float:
        return self.bads / self.total if self.total else 0.0


def _merge(groups: list[_Group], index: int) -> None:
    """Merge groups[index] with groups[index + 1]."""
    right = groups.pop(index + 1)
    left = groups[index]
    left.keys.extend(right.keys)
    left.goods += right.goods
    left.bads += right.bads


def _merge_small(groups: list[_Group], min_count: int) -> None:
    while len(groups) > 1:
        weak = [i for i, g in enumerate(groups) if g.total < min_count or not g.goods or not g.bads]
        if not weak:
            return
        i = min(weak, key=lambda j: groups[j].total)
        if i == 0:
            _merge(groups, 0)
        elif i == len(groups) - 1:
            _merge(groups, i - 1)
        else:
            left_gap = abs(groups[i].bad_rate - groups[i - 1].bad_rate)
            right_gap = abs(groups[i].bad_rate - groups[i + 1].bad_rate)
            _merge(groups, i - 1 if left_gap <= right_gap else i)


def _merge_monotonic(groups: list[_Group]) -> None:
    if len(groups) < 3:
        return
    n = sum(g.total for g in groups)
    mean_index = sum(i * g.total for i, g in enumerate(groups)) / n
    mean_rate = sum(g.bads for g in groups) / n
    trend = sum(g.total * (i - mean_index) * (g.bad_rate - mean_rate) for i, g in enumerate(groups))
    sign = 1.0 if trend >= 0 else -1.0
    changed = True
    while changed and len(groups) > 1:
        changed = False
        for i in range(len(groups) - 1):
            if sign * (groups[i + 1].bad_rate - groups[i].bad_rate) <= 0:
                _merge(groups, i)
                changed = True
                break


def _merge_to_limit(groups: list[_Group], max_bins: int) -> None:
    while len(groups) > max_bins:
        i = min(
            range(len(groups) - 1),
            key=lambda j: abs(groups[j + 1].bad_rate - groups[j].bad_rate),
        )
        _merge(groups, i)


def _stats(bins: list[tuple[Bin, int, int]]) -> tuple[tuple[BinStats, ...], float]:
    total_goods = sum(g for _, g, _ in bins)
    total_bads = sum(b for _, _, b in bins)
    k = len(bins)
    out = []
    iv_total = 0.0
    for bin_, goods, bads in bins:
        share_good = (goods + SMOOTHING) / (total_goods + SMOOTHING * k)
        share_bad = (bads + SMOOTHING) / (total_bads + SMOOTHING * k)
        woe = math.log(share_good / share_bad)
        iv = (share_good - share_bad) * woe
        iv_total += iv
        out.append(BinStats(bin_, goods, bads, woe, iv))
    return tuple(out), iv_total


def bin_numeric(
    path: str,
    values: Sequence[object],
    bad: Sequence[int],
    *,
    max_bins: int = 6,
    min_share: float = 0.05,
    monotonic: bool = True,
) -> Characteristic:
    """Bin a numeric characteristic; `bad[i]` is 1 for a bad outcome, 0 for a good one."""
    numbers = [to_number(v) if v is not None else None for v in values]
    present = [(x, y) for x, y in zip(numbers, bad, strict=True) if x is not None]
    missing = [y for x, y in zip(numbers, bad, strict=True) if x is None]
    min_count = max(1, math.ceil(min_share * len(values)))
    ordered = sorted({x for x, _ in present})
    sorted_values = sorted(x for x, _ in present)
    edges: list[Decimal] = []
    for q in range(1, PREBINS):
        candidate = sorted_values[(q * len(sorted_values)) // PREBINS] if sorted_values else None
        if (
            candidate is not None
            and candidate > ordered[0]
            and (not edges or candidate > edges[-1])
        ):
            edges.append(candidate)
    groups = [_Group([i], 0, 0) for i in range(len(edges) + 1)]
    for x, y in present:
        group = groups[bisect_right(edges, x)]
        group.bads += y
        group.goods += 1 - y
    groups = [g for g in groups if g.total]
    _merge_small(groups, min_count)
    if monotonic:
        _merge_monotonic(groups)
    _merge_to_limit(groups, max_bins)
    # Each group covers a run of pre-bins; pre-bin i starts at edges[i - 1]. A group's upper
    # bound is the next group's lower bound, so the bins tile the number line.
    lowers: list[Decimal | None] = [
        None if position == 0 else edges[min(cast(int, k) for k in group.keys) - 1]
        for position, group in enumerate(groups)
    ]
    bins: list[tuple[Bin, int, int]] = [
        (
            NumericBin(
                lowers[position], lowers[position + 1] if position + 1 < len(groups) else None
            ),
            group.goods,
            group.bads,
        )
        for position, group in enumerate(groups)
    ]
    if len(missing) >= min_count and 0 < sum(missing) < len(missing):
        bins.append((MissingBin(), len(missing) - sum(missing), sum(missing)))
    stats, iv = _stats(bins)
    return Characteristic(path, Kind.NUMERIC, stats, iv)


def bin_categorical(
    path: str,
    values: Sequence[object],
    bad: Sequence[int],
    *,
    max_bins: int = 6,
    min_share: float = 0.05,
) -> Characteristic:
    """Bin a categorical characteristic: categories ordered by bad rate, then merged."""
    counts: dict[str, _Group] = {}
    missing: list[int] = []
    for raw, y in zip(values, bad, strict=True):
        if raw is None:
            missing.append(y)
            continue
        key = str(raw)
        group = counts.setdefault(key, _Group([key], 0, 0))
        group.bads += y
        group.goods += 1 - y
    min_count = max(1, math.ceil(min_share * len(values)))
    groups = sorted(counts.values(), key=lambda g: (g.bad_rate, str(g.keys[0])))
    _merge_small(groups, min_count)
    _merge_to_limit(groups, max_bins)
    bins: list[tuple[Bin, int, int]] = [
        (CategoryBin(tuple(sorted(str(k) for k in g.keys))), g.goods, g.bads) for g in groups
    ]
    if len(missing) >= min_count and 0 < sum(missing) < len(missing):
        bins.append((MissingBin(), len(missing) - sum(missing), sum(missing)))
    stats, iv = _stats(bins)
    return Characteristic(path, Kind.CATEGORICAL, stats, iv)
