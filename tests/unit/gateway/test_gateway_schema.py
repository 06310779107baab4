"""The request vocabulary refuses what crashed the API under fuzzing, and errors name fields
as the services do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticError

from gateway.problems import _field_name
from gateway.schema import DecimalString, Int32, IsoDate, Strict, refuse_control_characters
from kopa.loan.v1 import loan_pb2
from kopa.scoring.v2 import scoring_pb2
from shared.errors import ValidationError
from shared.protos import field_with_nul

pytestmark = pytest.mark.unit


class Body(Strict):
    name: str
    tags: list[str] = []
    limits: dict[str, str | None] = {}
    term: Int32 = 1
    amount: DecimalString = "1"
    on: IsoDate | None = None


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "A\x00B"},
        {"name": "ok", "tags": ["fine", "bad\x1b"]},
        {"name": "ok", "limits": {"admin\x00": "1"}},
        {"name": "\ud90d lone surrogate"},
    ],
)
def test_control_characters_anywhere_in_a_body_are_refused_naming_the_field(payload) -> None:
    with pytest.raises(PydanticError) as refused:
        Body.model_validate(payload)
    [error] = refused.value.errors()
    assert error["loc"][0] in payload
    assert "control characters" in error["msg"]


def test_free_text_keeps_its_lines_and_tabs() -> None:
    assert Body.model_validate({"name": "line 1\nline 2\ttab\r\n"}).name.count("\n") == 2


@pytest.mark.parametrize("term", [2**31, -(2**31) - 1, 10**30])
def test_integers_beyond_the_proto_width_are_refused(term: int) -> None:
    with pytest.raises(PydanticError):
        Body.model_validate({"name": "x", "term": term})


@pytest.mark.parametrize("amount", ["1e3", "1,000.00", " 1", "0x10", "", "1.", "NaN"])
def test_amounts_must_be_plain_decimal_strings(amount: str) -> None:
    with pytest.raises(PydanticError):
        Body.model_validate({"name": "x", "amount": amount})


@pytest.mark.parametrize("on", [20260331, 1.5, "0", "1700000000", "31/03/2026", "2026-02-30"])
def test_dates_are_iso_text_only(on: object) -> None:
    with pytest.raises(PydanticError):
        Body.model_validate({"name": "x", "on": on})


def test_path_and_query_values_with_a_control_character_are_422_naming_them() -> None:
    refuse_control_characters({"loan_id": "L1"}, [("q", "ok")])
    with pytest.raises(ValidationError) as refused:
        refuse_control_characters({"loan_id": "a\x00b"}, [])
    assert refused.value.field_errors[0][0] == "loan_id"
    with pytest.raises(ValidationError) as refused:
        refuse_control_characters({}, [("page_token", "x\ty")])
    assert refused.value.field_errors[0][0] == "page_token"


def test_validation_errors_name_fields_as_the_services_do() -> None:
    assert _field_name(("body", "delinquency_buckets", 0, "max_days")) == (
        "delinquency_buckets[0].max_days"
    )
    assert _field_name(("query", "page_size")) == "page_size"
    assert _field_name(("body",)) == "body"


@given(st.text())
def test_a_nul_anywhere_in_a_grpc_request_is_found_with_its_path(text: str) -> None:
    request = scoring_pb2.CreateScorecardRequest(
        scorecard=scoring_pb2.Scorecard(
            name="card", rules=[scoring_pb2.Rule(name="r0"), scoring_pb2.Rule(when=text)]
        )
    )
    expected = "scorecard.rules[1].when" if "\x00" in text else None
    assert field_with_nul(request) == expected
    assert field_with_nul(loan_pb2.CreateLoanRequest(borrower_id="b\x00")) == "borrower_id"


def test_the_document_says_which_text_is_refused() -> None:
    """The patterns gateway.openapi writes into the document match what gateway.schema
    refuses, so a client (or a fuzzer) validating against the document agrees with the API."""
    import re

    from gateway.openapi import BODY_TEXT, ID_TEXT

    for pattern, allowed in ((ID_TEXT, "loan_01a2"), (BODY_TEXT, "line 1\nline 2\tend")):
        assert re.match(pattern, allowed)
        assert not re.match(pattern, "a\x00b") and not re.match(pattern, "esc\x1b")
    assert not re.match(ID_TEXT, "tab\there")


def test_no_two_models_share_a_name() -> None:
    """Two models of one name in the document are renamed after their modules by FastAPI
    (`gateway__suspense__schemas__AssignBody`), which silently renames the console's types of
    the one that was there first."""
    from tests.support.gateway_app import gateway_app

    names = gateway_app().openapi()["components"]["schemas"]
    assert [n for n in names if n.startswith("gateway__")] == []
