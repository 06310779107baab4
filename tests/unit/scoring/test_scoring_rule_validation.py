"""The rule language refuses bad conditions at save time, naming the rule and the position."""

from __future__ import annotations

import pytest

from scoring_service.domain.fields import STANDARD_CATALOGUE, FieldSpec, FieldType
from scoring_service.domain.rules import (
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_NODES,
    IssueCode,
    RuleIssue,
    check,
)

pytestmark = pytest.mark.unit


def only_issue(source: str, catalogue: object = STANDARD_CATALOGUE) -> RuleIssue:
    expression, issues = check(source, catalogue, rule="r1")  # type: ignore[arg-type]
    assert expression is None
    assert len(issues) == 1, issues
    return issues[0]


@pytest.mark.parametrize(
    "source",
    [
        "borrower.monthly_income >= 500",
        "borrower.age > 25 and borrower.age < 60",
        "not group.is_member or group.size >= 5",
        "loan.purpose in ['working_capital', \"inventory\"]",
        "borrower.business_type not in ['bar']",
        "loan.installment_amount / borrower.monthly_income < 0.35",
        "loan.principal - 2 * loan.installment_amount > -100",
        "min(borrower.age, 60) >= max(18, abs(-20))",
        "between(borrower.household_size, 1, 6)",
        "history.max_days_past_due == null",
        "null != history.open_loans",
        "group.is_member == true",
        "(borrower.age >= 18)\n  and (history.loans_written_off == 0)",
        "true",
    ],
)
def test_valid_conditions_pass(source: str) -> None:
    expression, issues = check(source)
    assert issues == []
    assert expression is not None


def test_fields_are_reported_in_order_of_first_use() -> None:
    expression, _ = check("loan.term > 3 and borrower.age > 1 and loan.term < 24")
    assert expression is not None
    assert expression.fields == ("loan.term", "borrower.age")


def test_syntax_error_names_rule_line_and_column() -> None:
    issue = only_issue("borrower.age >= 18 and\n    borrower.monthly_income >> 5")
    assert issue.code is IssueCode.SYNTAX_ERROR
    assert (issue.rule, issue.line, issue.column) == ("r1", 2, 30)
    assert issue.message.startswith("unexpected '>'")
    assert issue.describe().startswith("rule 'r1', line 2, column 30:")


def test_unexpected_character() -> None:
    issue = only_issue("borrower.age > 18 && loan.term < 3")
    assert issue.code is IssueCode.SYNTAX_ERROR
    assert (issue.line, issue.column) == (1, 19)
    assert "unexpected character '&'" in issue.message


def test_expression_ending_early_points_at_the_end() -> None:
    issue = only_issue("borrower.age >")
    assert issue.code is IssueCode.SYNTAX_ERROR
    assert (issue.line, issue.column) == (1, 15)
    assert "ends too early" in issue.message
    assert "a number" in issue.message


def test_empty_condition() -> None:
    assert only_issue("   ").code is IssueCode.SYNTAX_ERROR


def test_chained_comparison_is_a_syntax_error() -> None:
    issue = only_issue("1 < borrower.age < 5")
    assert issue.code is IssueCode.SYNTAX_ERROR
    assert issue.column == 18


def test_python_is_not_accepted() -> None:
    for source in ("__import__('os').system('ls')", "borrower.age.__class__ > 1"):
        _, issues = check(source)
        assert issues, source
    issue = only_issue("__import__('os') == 1")
    assert issue.code is IssueCode.UNKNOWN_FUNCTION


def test_unknown_field_with_suggestion() -> None:
    issue = only_issue("borrower.age > 18 and borrower.monthly_incme > 3")
    assert issue.code is IssueCode.UNKNOWN_FIELD
    assert (issue.line, issue.column) == (1, 23)
    assert issue.message == (
        "unknown field 'borrower.monthly_incme'; did you mean 'borrower.monthly_income'?"
    )


def test_unknown_field_without_suggestion() -> None:
    issue = only_issue("weather.rain > 3")
    assert issue.message == "unknown field 'weather.rain'"


def test_catalogue_is_extensible() -> None:
    extended = STANDARD_CATALOGUE.extend([FieldSpec("borrower.savings", FieldType.STRING)])
    expression, issues = check("borrower.savings == 'none'", extended)
    assert issues == [] and expression is not None
    assert only_issue("borrower.savings == 'none'").code is IssueCode.UNKNOWN_FIELD


def test_unknown_function() -> None:
    issue = only_issue("borrower.age > 1 or sqrt(loan.term) > 2")
    assert issue.code is IssueCode.UNKNOWN_FUNCTION
    assert (issue.line, issue.column) == (1, 21)
    assert "available: abs, between, max, min" in issue.message


@pytest.mark.parametrize(
    ("source", "column", "needle"),
    [
        ("abs(1, 2) > 0", 1, "'abs' takes abs(number); got 2"),
        ("between(borrower.age, 1) ", 1, "got 2 argument(s)"),
        ("min(loan.term) > 1", 1, "got 1 argument(s)"),
    ],
)
def test_wrong_number_of_arguments(source: str, column: int, needle: str) -> None:
    issue = only_issue(source)
    assert issue.code is IssueCode.WRONG_ARGUMENTS
    assert issue.column == column
    assert needle in issue.message


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        (
            "borrower.gender > 3",
            17,
            "'>' compares numbers, got string (borrower.gender) and number",
        ),
        ('"a" + 1 > 0', 5, "'+' needs two numbers, got string ('a') and number"),
        (
            "borrower.gender == 1",
            17,
            "cannot compare string (borrower.gender) with number using '=='",
        ),
        ("group.is_member + 1 > 2", 17, "'+' needs two numbers, got bool (group.is_member)"),
        ("-loan.purpose == 'x'", 1, "'-' needs a number, got string (loan.purpose)"),
        ("loan.term and true", 1, "'and' needs true/false operands, got number (loan.term)"),
        ("not loan.term", 1, "'not' needs a true/false operand, got number (loan.term)"),
        ("max(loan.purpose, 1) > 1", 5, "'max' takes numbers, got string (loan.purpose)"),
        ("loan.purpose in ['a', 2]", 23, "the list mixes types: string (loan.purpose)"),
        ("group.is_member in [true]", 1, "'in' needs a number or a string on its left"),
    ],
)
def test_type_mismatch(source: str, column: int, message: str) -> None:
    issue = only_issue(source)
    assert issue.code is IssueCode.TYPE_MISMATCH
    assert issue.column == column
    assert issue.message.startswith(message), issue.message


def test_several_type_errors_are_all_reported() -> None:
    _, issues = check("borrower.gender > 3 and loan.purpose < 'x'")
    assert [(i.code, i.column) for i in issues] == [
        (IssueCode.TYPE_MISMATCH, 17),
        (IssueCode.TYPE_MISMATCH, 38),
    ]


def test_condition_must_be_boolean() -> None:
    issue = only_issue("loan.principal * 2")
    assert issue.code is IssueCode.NOT_BOOLEAN
    assert issue.message == "a rule condition must be true or false, but this is a number"


@pytest.mark.parametrize(
    "source", ["null == 1", "borrower.age > null", "min(borrower.age, 1) == null"]
)
def test_null_only_compares_to_fields(source: str) -> None:
    assert only_issue(source).code is IssueCode.NULL_MISUSE


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("loan.term in []", "the list after 'in' is empty"),
        ("loan.term in [borrower.age]", "items of the list after 'in' must be"),
        ("loan.term not in [1 + 1]", "items of the list after 'not in' must be"),
    ],
)
def test_bad_lists(source: str, message: str) -> None:
    issue = only_issue(source)
    assert issue.code is IssueCode.BAD_LIST
    assert issue.message.startswith(message)


def test_literal_division_by_zero_is_refused() -> None:
    issue = only_issue("loan.principal / 0.00 > 1")
    assert issue.code is IssueCode.DIVISION_BY_ZERO
    assert issue.column == 16


def test_too_long() -> None:
    source = "borrower.age > 1" + " or borrower.age > 1" * 60
    assert len(source) > MAX_EXPRESSION_LENGTH
    issue = only_issue(source)
    assert issue.code is IssueCode.TOO_LONG
    assert issue.column == MAX_EXPRESSION_LENGTH + 1
    assert f"limit is {MAX_EXPRESSION_LENGTH}" in issue.message


def test_too_deep() -> None:
    ok = "abs(" * (MAX_DEPTH // 2 - 2) + "loan.term" + ")" * (MAX_DEPTH // 2 - 2) + " > 1"
    assert check(ok)[1] == []
    deep = "(1 + " * 40 + "loan.term" + ")" * 40 + " > 1"
    issue = only_issue(deep)
    assert issue.code is IssueCode.TOO_DEEP
    assert f"more than {MAX_DEPTH} levels" in issue.message
    nots = only_issue("not " * 30 + "group.is_member")
    assert nots.code is IssueCode.TOO_DEEP
    assert nots.column == 4 * MAX_DEPTH + 1  # the first 'not' past the limit


def test_extremely_deep_input_does_not_crash_the_parser() -> None:
    source = "(" * 480 + "loan.term > 1" + ")" * 480
    assert len(source) < MAX_EXPRESSION_LENGTH
    _, issues = check(source)  # parentheses alone add no level: this one is fine
    assert issues == []
    source = "-" * 900 + "loan.term > 1"
    assert only_issue(source).code is IssueCode.TOO_DEEP


def test_too_many_parts() -> None:
    items = ",".join(str(i) for i in range(MAX_NODES + 10))
    source = f"loan.term in [{items}]"
    assert len(source) <= MAX_EXPRESSION_LENGTH
    issue = only_issue(source)
    assert issue.code is IssueCode.TOO_LARGE
    assert f"more than {MAX_NODES} parts" in issue.message


def test_condition_must_be_text() -> None:
    _, issues = check(42)  # type: ignore[arg-type]
    assert issues[0].code is IssueCode.SYNTAX_ERROR
