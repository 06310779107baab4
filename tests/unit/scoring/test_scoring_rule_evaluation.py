"""Evaluation semantics: exact decimals, short-circuits, and the missing-data policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from scoring_service.domain.rules import Skipped, check, evaluate_expression

pytestmark = pytest.mark.unit


def value(source: str, applicant: Any) -> object:
    expression, issues = check(source, expect=None)
    assert not issues, issues
    assert expression is not None
    return evaluate_expression(expression, applicant)


def test_decimal_arithmetic_is_exact() -> None:
    applicant = {"loan": {"principal": 0.1, "installment_amount": "0.2"}}
    # With binary floats 0.1 + 0.2 == 0.30000000000000004, so this would be False.
    assert value("loan.principal + loan.installment_amount == 0.3", applicant) is True
    assert value("loan.principal * 3 == 0.3", applicant) is True


def test_numbers_come_back_as_decimal() -> None:
    applicant = {"loan": {"principal": 1000, "term": 12}}
    assert value("loan.principal / loan.term", applicant) == Decimal(
        "83.33333333333333333333333333"
    )
    assert value("loan.principal - loan.term * 2.5", applicant) == Decimal("970.0")
    assert value("-loan.term", applicant) == Decimal(-12)
    assert value("abs(10 - loan.term)", applicant) == Decimal(2)
    assert value("max(loan.term, 3, 40)", applicant) == Decimal(40)
    assert value("min(loan.term, 3, 40)", applicant) == Decimal(3)


def test_division_rounds_half_even_to_28_digits() -> None:
    applicant = {"loan": {"principal": 2, "term": 3}}
    assert value("loan.principal / loan.term", applicant) == Decimal(
        "0.6666666666666666666666666667"
    )


def test_precedence() -> None:
    applicant = {"loan": {"term": 2}}
    assert value("1 + loan.term * 3", applicant) == Decimal(7)
    assert value("(1 + loan.term) * 3", applicant) == Decimal(9)
    assert value("10 - loan.term - 3", applicant) == Decimal(5)  # left associative
    assert value("12 / loan.term / 2", applicant) == Decimal(3)
    assert value("not loan.term > 1 or true", applicant) is True  # (not (a > 1)) or true
    assert value("false and true or true", applicant) is True  # (false and true) or true


def test_comparisons_and_membership() -> None:
    applicant = {
        "borrower": {"gender": "female", "age": "30", "business_type": "retail"},
        "loan": {"term": 12},
    }
    assert value("borrower.gender == 'female'", applicant) is True
    assert value('borrower.gender != "female"', applicant) is False
    assert value("borrower.age >= 30 and borrower.age <= 30.00", applicant) is True
    assert value("loan.term in [6, 12.0, 24]", applicant) is True
    assert value("loan.term not in [6, 24]", applicant) is True
    assert value("borrower.business_type in ['bar', 'retail']", applicant) is True
    assert value("between(borrower.age, 30, 31)", applicant) is True
    assert value("between(borrower.age, 18, 29.99)", applicant) is False
    assert value("loan.term in [-12, 12]", applicant) is True


def test_string_escapes() -> None:
    applicant = {"loan": {"purpose": 'it\'s "new"'}}
    assert value("loan.purpose == 'it\\'s \"new\"'", applicant) is True


def test_missing_field_skips_with_its_name() -> None:
    result = value("borrower.monthly_income > 100", {"borrower": {}})
    assert result == Skipped("borrower.monthly_income missing")
    result = value("borrower.monthly_income > 100", {"borrower": {"monthly_income": None}})
    assert result == Skipped("borrower.monthly_income missing")
    assert value("borrower.monthly_income > 100", {}) == Skipped("borrower.monthly_income missing")


def test_wrong_type_skips_as_invalid() -> None:
    expected = Skipped("borrower.age invalid (expected number)")
    for bad in (True, "thirty", [30], {"years": 30}, float("nan"), "Infinity"):
        assert value("borrower.age > 18", {"borrower": {"age": bad}}) == expected, bad
    assert value("group.is_member", {"group": {"is_member": "yes"}}) == Skipped(
        "group.is_member invalid (expected bool)"
    )
    assert value("loan.purpose == 'x'", {"loan": {"purpose": 7}}) == Skipped(
        "loan.purpose invalid (expected string)"
    )


def test_non_mapping_levels_count_as_missing() -> None:
    applicants: list[Any] = [None, 5, "x", [], {"borrower": 3}, {"borrower": ["age"]}]
    for applicant in applicants:
        assert value("borrower.age > 18", applicant) == Skipped("borrower.age missing")


def test_division_by_zero_in_data_skips() -> None:
    applicant = {"loan": {"installment_amount": 50}, "borrower": {"monthly_income": "0.00"}}
    source = "loan.installment_amount / borrower.monthly_income < 0.3"
    assert value(source, applicant) == Skipped("division by zero")
    applicant = {"loan": {"installment_amount": 0}, "borrower": {"monthly_income": 0}}
    assert value(source, applicant) == Skipped("division by zero")


def test_overflow_in_data_skips() -> None:
    applicant = {"loan": {"principal": "9e999990"}}
    assert value("loan.principal * loan.principal > 1", applicant) == Skipped("number too large")


def test_short_circuit_spares_missing_fields() -> None:
    source = "group.is_member and group.size >= 5"
    assert value(source, {"group": {"is_member": False}}) is False
    assert value(source, {"group": {"is_member": True}}) == Skipped("group.size missing")


def test_null_tests() -> None:
    source = "borrower.monthly_income == null or borrower.monthly_income < 100"
    assert value(source, {}) is True
    assert value(source, {"borrower": {"monthly_income": 50}}) is True
    assert value(source, {"borrower": {"monthly_income": 500}}) is False
    assert value("borrower.age != null", {"borrower": {"age": 3}}) is True
    assert value("borrower.age != null", {"borrower": {}}) is False
    # A value of the wrong type is present, not null.
    assert value("borrower.age == null", {"borrower": {"age": "x"}}) is False


def test_float_inputs_use_their_shortest_repr() -> None:
    assert value("borrower.monthly_income == 1234.56", {"borrower": {"monthly_income": 1234.56}})
