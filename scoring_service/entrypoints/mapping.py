"""Stored documents to proto messages and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kopa.scoring.v1 import scoring_pb2
from shared.protos import timestamp as ts

BANDS_WITH_MINIMUM = ("AA", "A", "B", "C")


def cutoffs_to_proto(cutoffs: Mapping[str, int]) -> list[scoring_pb2.Cutoff]:
    """AA, A, B, C with their minimums, then D at 0 (D is every score below C)."""
    items = [
        scoring_pb2.Cutoff(band=band, min_score=int(cutoffs[band])) for band in BANDS_WITH_MINIMUM
    ]
    items.append(scoring_pb2.Cutoff(band="D", min_score=0))
    return items


def scorecard_to_proto(doc: Mapping[str, Any]) -> scoring_pb2.Scorecard:
    version = doc["version"]
    return scoring_pb2.Scorecard(
        id=doc["_id"],
        scorecard_key=doc["scorecard_key"],
        institution_id=doc["institution_id"],
        name=doc["name"],
        version=doc["number"],
        state=doc["state"],
        base_score=version["base_score"],
        rules=[
            scoring_pb2.Rule(name=r["name"], when=r["when"], points=r["points"])
            for r in version["rules"]
        ],
        cutoffs=cutoffs_to_proto(version["cutoffs"]),
        create_time=ts(doc.get("create_time")),
        publish_time=ts(doc.get("publish_time")),
    )


def scorecard_from_proto(message: scoring_pb2.Scorecard) -> dict[str, Any]:
    """What a client may set when creating a version, as plain data for the use case."""
    return {
        "name": message.name,
        "scorecard_key": message.scorecard_key,
        "base_score": message.base_score,
        "rules": [{"name": r.name, "when": r.when, "points": r.points} for r in message.rules],
        "cutoffs": [{"band": c.band, "min_score": c.min_score} for c in message.cutoffs],
    }


def score_to_proto(doc: Mapping[str, Any]) -> scoring_pb2.ScoreResponse:
    return scoring_pb2.ScoreResponse(
        score=doc["score"],
        band=doc["band"],
        scorecard_id=doc["scorecard_id"],
        scorecard_version=doc["scorecard_version"],
        contributions=[
            scoring_pb2.Contribution(
                rule=c["rule"], points=c["points"], matched=c["matched"], note=c["note"]
            )
            for c in doc["contributions"]
        ],
        score_id=doc["_id"],
    )


def band_counts(counts: Mapping[str, int]) -> list[scoring_pb2.BandCount]:
    return [scoring_pb2.BandCount(band=band, count=count) for band, count in counts.items()]
