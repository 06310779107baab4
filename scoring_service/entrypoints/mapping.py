"""Stored documents to proto messages and back, for both versions of the contract.

kopa.scoring.v1 and kopa.scoring.v2 answer the same messages by the same field names; they
differ only in how a scorecard's state is written (a `Wire`): v1 as its word (`published`),
v2 as the ScorecardState enum."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kopa.scoring.v1 import scoring_pb2
from kopa.scoring.v2 import scoring_pb2 as scoring_v2
from shared.protos import timestamp as ts
from shared.wire import enum_prefix


@dataclass(frozen=True)
class Wire:
    """How one version of the contract writes values."""

    #: The module of its messages.
    pb: ModuleType
    #: A scorecard's state (`draft`, `published`, `retired`).
    state: Callable[[str], Any]


def _state_enum(word: str) -> int:
    value: int = scoring_v2.ScorecardState.Value(enum_prefix("ScorecardState") + word.upper())
    return value


V1 = Wire(pb=scoring_pb2, state=str)
V2 = Wire(pb=scoring_v2, state=_state_enum)

BANDS_WITH_MINIMUM = ("AA", "A", "B", "C")


def cutoffs_to_proto(cutoffs: Mapping[str, int], wire: Wire = V1) -> list[Any]:
    """AA, A, B, C with their minimums, then D at 0 (D is every score below C)."""
    items = [wire.pb.Cutoff(band=band, min_score=int(cutoffs[band])) for band in BANDS_WITH_MINIMUM]
    items.append(wire.pb.Cutoff(band="D", min_score=0))
    return items


def scorecard_to_proto(doc: Mapping[str, Any], wire: Wire = V1) -> Any:
    version = doc["version"]
    return wire.pb.Scorecard(
        id=doc["_id"],
        scorecard_key=doc["scorecard_key"],
        institution_id=doc["institution_id"],
        name=doc["name"],
        version=doc["number"],
        state=wire.state(doc["state"]),
        base_score=version["base_score"],
        rules=[
            wire.pb.Rule(name=r["name"], when=r["when"], points=r["points"])
            for r in version["rules"]
        ],
        cutoffs=cutoffs_to_proto(version["cutoffs"], wire),
        create_time=ts(doc.get("create_time")),
        publish_time=ts(doc.get("publish_time")),
    )


def scorecard_from_proto(message: Any) -> dict[str, Any]:
    """What a client may set when creating a version, as plain data for the use case."""
    return {
        "name": message.name,
        "scorecard_key": message.scorecard_key,
        "base_score": message.base_score,
        "rules": [{"name": r.name, "when": r.when, "points": r.points} for r in message.rules],
        "cutoffs": [{"band": c.band, "min_score": c.min_score} for c in message.cutoffs],
    }


def score_to_proto(doc: Mapping[str, Any], wire: Wire = V1) -> Any:
    return wire.pb.ScoreResponse(
        score=doc["score"],
        band=doc["band"],
        scorecard_id=doc["scorecard_id"],
        scorecard_version=doc["scorecard_version"],
        contributions=[
            wire.pb.Contribution(
                rule=c["rule"], points=c["points"], matched=c["matched"], note=c["note"]
            )
            for c in doc["contributions"]
        ],
        score_id=doc["_id"],
    )


def band_counts(counts: Mapping[str, int], wire: Wire = V1) -> list[Any]:
    return [wire.pb.BandCount(band=band, count=count) for band, count in counts.items()]
