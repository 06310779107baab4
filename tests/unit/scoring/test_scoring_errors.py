"""Scoring's domain errors are shared error kinds, so they map to rich gRPC statuses."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from scoring_service.domain.errors import (
    CUTOFFS_INVALID,
    ILLEGAL_TRANSITION,
    NO_PUBLISHED_VERSION,
    RULE_INVALID,
    SCORECARD_EMPTY,
    VERSION_NOT_FOUND,
    DomainError,
)
from scoring_service.domain.scorecard import RuleInvalid, Scorecard, build_version
from shared import errors as shared
from shared.rpc_errors import grpc_code, to_status

pytestmark = pytest.mark.unit

CUTOFFS = {"AA": 800, "A": 650, "B": 550, "C": 450}


def _bad_request(error: DomainError) -> list[tuple[str, str]]:
    status = to_status(error)
    found = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found = [(v.field, v.description) for v in bad.field_violations]
    return found


def test_a_bad_rule_is_a_validation_error_naming_rule_and_position() -> None:
    rules = [
        {"name": "ok", "when": "borrower.age > 18", "points": 1},
        {"name": "broken", "when": "borrower.age >", "points": 1},
    ]
    with pytest.raises(RuleInvalid) as caught:
        build_version(scorecard_id="k", number=1, base_score=500, rules=rules, cutoffs=CUTOFFS)
    error = caught.value
    assert isinstance(error, shared.ValidationError) and isinstance(error, DomainError)
    assert error.reason == RULE_INVALID
    assert grpc_code(error) is grpc.StatusCode.INVALID_ARGUMENT
    (violation,) = _bad_request(error)
    assert violation[0] == "rules[1].when"
    assert violation[1].startswith(
        "rule 'broken', line 1, column 15: the expression ends too early"
    )
    assert error.field_errors == error.details
    assert "rules[1].when" in error.message


def test_cutoffs_are_a_validation_error() -> None:
    with pytest.raises(DomainError) as caught:
        build_version(
            scorecard_id="k", number=1, base_score=500, rules=[], cutoffs={"AA": 1, "A": 2}
        )
    assert caught.value.reason == CUTOFFS_INVALID
    assert grpc_code(caught.value) is grpc.StatusCode.INVALID_ARGUMENT


def test_life_cycle_errors_are_failed_precondition_or_not_found() -> None:
    card = Scorecard("k", "inst", "Retail")
    card.create_draft(base_score=500, rules=[], cutoffs=CUTOFFS)
    with pytest.raises(shared.IllegalState) as empty:
        card.publish(1)
    assert empty.value.reason == SCORECARD_EMPTY
    assert grpc_code(empty.value) is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(shared.IllegalState) as none:
        card.score({})
    assert none.value.reason == NO_PUBLISHED_VERSION
    with pytest.raises(shared.IllegalState) as illegal:
        card.retire(1)
    assert illegal.value.reason == ILLEGAL_TRANSITION
    assert illegal.value.metadata == {"state": "draft"}
    with pytest.raises(shared.NotFound) as missing:
        card.version(9)
    assert missing.value.reason == VERSION_NOT_FOUND
    assert grpc_code(missing.value) is grpc.StatusCode.NOT_FOUND
