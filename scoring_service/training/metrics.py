"""Discrimination metrics of a score on labelled data (bad = 1, good = 0).

All take *scores where higher means safer* (as scorecard points are) and the bad flags.

- AUC: probability that a random good scores above a random bad (ties count one half),
  computed from average ranks (Mann-Whitney U).
- Gini (accuracy ratio) = 2 * AUC - 1.
- KS: the largest gap between the cumulative score distributions of bads and goods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    bads: int
    auc: float
    gini: float
    ks: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "bads": self.bads,
            "auc": round(self.auc, 4),
            "gini": round(self.gini, 4),
            "ks": round(self.ks, 4),
        }


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def auc(scores: Sequence[float], bad: Sequence[int]) -> float:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(bad, dtype=np.int64)
    goods = int((y == 0).sum())
    bads = int((y == 1).sum())
    if goods == 0 or bads == 0:
        raise ValueError("AUC needs at least one good and one bad")
    ranks = _average_ranks(s)
    rank_sum_goods = float(ranks[y == 0].sum())
    u = rank_sum_goods - goods * (goods + 1) / 2
    return u / (goods * bads)


def ks(scores: Sequence[float], bad: Sequence[int]) -> float:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(bad, dtype=np.int64)
    goods = int((y == 0).sum())
    bads = int((y == 1).sum())
    if goods == 0 or bads == 0:
        raise ValueError("KS needs at least one good and one bad")
    thresholds = np.unique(s)
    # share of bads / goods scoring at or below each threshold
    cum_bad = np.searchsorted(np.sort(s[y == 1]), thresholds, side="right") / bads
    cum_good = np.searchsorted(np.sort(s[y == 0]), thresholds, side="right") / goods
    return float(np.max(np.abs(cum_bad - cum_good)))


def evaluate_scores(scores: Sequence[float], bad: Sequence[int]) -> Metrics:
    area = auc(scores, bad)
    return Metrics(
        n=len(scores),
        bads=int(sum(bad)),
        auc=area,
        gini=2 * area - 1,
        ks=ks(scores, bad),
    )
