"""kopa.scoring.v2's mapping: a scorecard's state as the ScorecardState enum, shown by the
gateway exactly as v1's word; everything else as v1 writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.convert import from_proto
from gateway.scorecards.schemas import Scorecard
from kopa.scoring.v2 import scoring_pb2 as v2
from scoring_service.entrypoints import mapping as m

pytestmark = pytest.mark.unit


def stored(state: str) -> dict[str, Any]:
    return {
        "_id": "scv_1",
        "scorecard_key": "sc_1",
        "institution_id": "inst_1",
        "name": "Retail",
        "number": 2,
        "state": state,
        "version": {
            "base_score": 400,
            "rules": [{"name": "income", "when": "borrower.monthly_income >= 500", "points": 80}],
            "cutoffs": {"AA": 800, "A": 650, "B": 550, "C": 450},
        },
        "create_time": datetime(2026, 3, 31, 9, 30, tzinfo=UTC),
        "publish_time": None,
    }


@pytest.mark.parametrize(
    ("state", "number"),
    [
        ("draft", v2.SCORECARD_STATE_DRAFT),
        ("published", v2.SCORECARD_STATE_PUBLISHED),
        ("retired", v2.SCORECARD_STATE_RETIRED),
    ],
)
def test_the_state_is_an_enum_shown_as_v1_showed_its_word(state: str, number: int) -> None:
    new = m.scorecard_to_proto(stored(state), m.V2)
    old = m.scorecard_to_proto(stored(state), m.V1)
    assert (new.state, old.state) == (number, state)
    json = from_proto(Scorecard, new).model_dump(mode="json")
    assert json == from_proto(Scorecard, old).model_dump(mode="json")
    assert json["state"] == state
    assert [c["band"] for c in json["cutoffs"]] == ["AA", "A", "B", "C", "D"]


def test_a_state_v2_does_not_know_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(ValueError, match="SCORECARD_STATE_ARCHIVED"):
        m.scorecard_to_proto(stored("archived"), m.V2)
