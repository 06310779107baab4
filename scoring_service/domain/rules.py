"""A small, safe expression language for scorecard rules.

Nothing here calls ``eval``: a rule's condition is parsed by lark (LALR(1), grammar in
``rule_grammar.lark``) into a small typed syntax tree, checked against a field catalogue,
then compiled into nested closures. There are no loops, variables or user-defined
functions, and both the source length and the tree size and depth are capped, so the cost of
evaluating a rule is bounded by a small constant.

Semantics, in short:

- Numbers are exact ``Decimal``; ``+ - * /`` use `ARITHMETIC` (28 significant digits,
  ROUND_HALF_EVEN). Strings compare by equality only; ordering (``< <= > >=``) is for numbers.
- ``and``/``or`` short-circuit left to right; comparisons do not chain.
- ``x in [...]``/``x not in [...]`` take a list of literals of x's type.
- ``field == null``/``field != null`` test whether a value is missing.
- Functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``, ``between(x, lo, hi)``
  (inclusive at both ends).
- Reading a field whose value is missing or of the wrong type stops the rule: it is
  *skipped*, scores 0, and says which field (``skipped: borrower.monthly_income missing``).
  So does an arithmetic failure on the applicant's data (``skipped: division by zero``).
  Evaluation never raises because of data.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from scoring_service.domain.fields import (
    STANDARD_CATALOGUE,
    FieldSpec,
    FieldType,
    Unusable,
    lookup,
    to_number,
)

MAX_EXPRESSION_LENGTH: Final = 1000
"""Characters in one rule condition."""
MAX_DEPTH: Final = 16
"""Nesting levels (operators, function calls, ``not``) in one rule condition."""
MAX_NODES: Final = 200
"""Syntax-tree nodes (literals, fields, operators, calls) in one rule condition."""
MAX_ARGUMENTS: Final = 8

ARITHMETIC: Final = Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[DivisionByZero, InvalidOperation, Overflow],
)
"""The named decimal context of rule arithmetic: 28 significant digits, banker's rounding."""


class IssueCode(StrEnum):
    SYNTAX_ERROR = "SYNTAX_ERROR"
    TOO_LONG = "TOO_LONG"
    TOO_DEEP = "TOO_DEEP"
    TOO_LARGE = "TOO_LARGE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNKNOWN_FUNCTION = "UNKNOWN_FUNCTION"
    WRONG_ARGUMENTS = "WRONG_ARGUMENTS"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    NOT_BOOLEAN = "NOT_BOOLEAN"
    NULL_MISUSE = "NULL_MISUSE"
    BAD_LIST = "BAD_LIST"
    DIVISION_BY_ZERO = "DIVISION_BY_ZERO"


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """One problem in a rule's condition, at a 1-based line and column of its source."""

    rule: str
    line: int
    column: int
    code: IssueCode
    message: str

    def describe(self) -> str:
        return f"rule '{self.rule}', line {self.line}, column {self.column}: {self.message}"


class ValueType(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    NULL = "null"


_FIELD_TO_VALUE = {
    FieldType.NUMBER: ValueType.NUMBER,
    FieldType.STRING: ValueType.STRING,
    FieldType.BOOL: ValueType.BOOL,
}

# --- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Literal:
    pos: Pos
    value: Decimal | str | bool | None
    type: ValueType


@dataclass(frozen=True, slots=True)
class FieldRef:
    pos: Pos
    path: str


@dataclass(frozen=True, slots=True)
class Negate:
    pos: Pos
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith:
    pos: Pos
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare:
    pos: Pos
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Membership:
    pos: Pos
    operand: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class BoolOp:
    pos: Pos
    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    pos: Pos
    operand: Node


@dataclass(frozen=True, slots=True)
class Call:
    pos: Pos
    name: str
    args: tuple[Node, ...]


Node = Literal | FieldRef | Negate | Arith | Compare | Membership | BoolOp | Not | Call


# --- parsing --------------------------------------------------------------------------------


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("rule_grammar.lark")).read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "STRING": "a string",
    "NAME": "a field or function name",
    "CMP_OP": "a comparison (< <= > >= == !=)",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "IN": "'in'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "NULL": "'null'",
    "$END": "the end of the expression",
}


def _position_of_index(source: str, index: int) -> Pos:
    line = source.count("\n", 0, index) + 1
    start = source.rfind("\n", 0, index) + 1
    return Pos(line, index - start + 1)


def _syntax_issue(rule: str, source: str, error: UnexpectedInput) -> RuleIssue:
    if isinstance(error, UnexpectedCharacters):
        pos = Pos(error.line, error.column)
        index = error.pos_in_stream
        char = source[index] if index is not None and index < len(source) else "?"
        message = f"unexpected character {char!r}"
    elif isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            pos = _position_of_index(source, len(source))
            message = "the expression ends too early"
        else:
            pos = Pos(token.line or 1, token.column or 1)
            message = f"unexpected {token.value!r}"
        expected = sorted({_TERMINAL_NAMES.get(t, t) for t in error.expected})
        if expected:
            message += "; expected " + ", ".join(expected[:12])
    elif isinstance(error, UnexpectedEOF):
        pos = _position_of_index(source, len(source))
        message = "the expression ends too early"
    else:  # pragma: no cover - lark has no other UnexpectedInput subclasses
        pos = Pos(getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1)
        message = "syntax error"
    return RuleIssue(rule, pos.line, pos.column, IssueCode.SYNTAX_ERROR, message)


def _tree_pos(tree: Tree[Token]) -> Pos:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return Pos(1, 1)
    return Pos(meta.line, meta.column)


def _token_pos(token: Token) -> Pos:
    return Pos(token.line or 1, token.column or 1)


def _check_shape(rule: str, tree: Tree[Token]) -> list[RuleIssue]:
    """Depth and size caps, checked without recursion (the tree may be arbitrarily deep)."""
    uncounted = {"arguments", "list", "path"}
    nodes = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        current, depth = stack.pop()
        if current.data not in uncounted:
            nodes += 1
            if depth > MAX_DEPTH:
                pos = _tree_pos(current)
                return [
                    RuleIssue(
                        rule,
                        pos.line,
                        pos.column,
                        IssueCode.TOO_DEEP,
                        f"the expression is nested more than {MAX_DEPTH} levels deep; "
                        "split it into several rules",
                    )
                ]
            if nodes > MAX_NODES:
                pos = _tree_pos(current)
                return [
                    RuleIssue(
                        rule,
                        pos.line,
                        pos.column,
                        IssueCode.TOO_LARGE,
                        f"the expression has more than {MAX_NODES} parts; "
                        "split it into several rules",
                    )
                ]
        child_depth = depth if current.data in uncounted else depth + 1
        for child in current.children:
            if isinstance(child, Tree):
                stack.append((child, child_depth))
    return []


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(body[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _to_node(tree: Tree[Token] | Token) -> Node:
    if isinstance(tree, Token):  # pragma: no cover - every token is wrapped by the grammar
        raise TypeError(f"unexpected token {tree!r}")
    kind = tree.data
    children = tree.children
    pos = _tree_pos(tree)
    if kind == "number":
        return Literal(pos, Decimal(str(children[0])), ValueType.NUMBER)
    if kind == "string":
        token = children[0]
        assert isinstance(token, Token)
        return Literal(pos, _unquote(token), ValueType.STRING)
    if kind == "true":
        return Literal(pos, True, ValueType.BOOL)
    if kind == "false":
        return Literal(pos, False, ValueType.BOOL)
    if kind == "null":
        return Literal(pos, None, ValueType.NULL)
    if kind == "path":
        return FieldRef(pos, ".".join(str(c) for c in children))
    if kind == "neg":
        op, operand = children
        assert isinstance(op, Token)
        return Negate(_token_pos(op), str(op), _to_node(operand))
    if kind in ("sum", "product"):
        node = _to_node(children[0])
        for index in range(1, len(children), 2):
            op = children[index]
            assert isinstance(op, Token)
            node = Arith(_token_pos(op), str(op), node, _to_node(children[index + 1]))
        return node
    if kind == "compare":
        left, op, right = children
        assert isinstance(op, Token)
        return Compare(_token_pos(op), str(op), _to_node(left), _to_node(right))
    if kind in ("in_", "not_in"):
        operand, *_keywords, items = children
        assert isinstance(items, Tree)
        elements = tuple(_to_node(c) for c in items.children if isinstance(c, Tree))
        return Membership(pos, _to_node(operand), elements, kind == "not_in")
    if kind in ("and_expr", "or_expr"):
        operands = tuple(_to_node(c) for c in children if isinstance(c, Tree))
        return BoolOp(pos, "and" if kind == "and_expr" else "or", operands)
    if kind == "not_":
        return Not(pos, _to_node(children[-1]))
    if kind == "call":
        name = children[0]
        assert isinstance(name, Token)
        args: tuple[Node, ...] = ()
        if len(children) > 1:
            arguments = children[1]
            assert isinstance(arguments, Tree)
            args = tuple(_to_node(c) for c in arguments.children if isinstance(c, Tree))
        return Call(_token_pos(name), str(name), args)
    raise TypeError(f"unknown syntax node {kind!r}")  # pragma: no cover


def parse(source: str, rule: str = "expression") -> tuple[Node | None, list[RuleIssue]]:
    """Parse a condition; returns the syntax tree, or None and the issues found."""
    if not isinstance(source, str):
        return None, [RuleIssue(rule, 1, 1, IssueCode.SYNTAX_ERROR, "the condition must be text")]
    if len(source) > MAX_EXPRESSION_LENGTH:
        pos = _position_of_index(source, MAX_EXPRESSION_LENGTH)
        return None, [
            RuleIssue(
                rule,
                pos.line,
                pos.column,
                IssueCode.TOO_LONG,
                f"the expression is {len(source)} characters long; the limit is "
                f"{MAX_EXPRESSION_LENGTH}",
            )
        ]
    if not source.strip():
        return None, [RuleIssue(rule, 1, 1, IssueCode.SYNTAX_ERROR, "the condition is empty")]
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as error:
        return None, [_syntax_issue(rule, source, error)]
    if not isinstance(tree, Tree):  # pragma: no cover - the start rule always yields a tree
        return None, [RuleIssue(rule, 1, 1, IssueCode.SYNTAX_ERROR, "syntax error")]
    shape = _check_shape(rule, tree)
    if shape:
        return None, shape
    return _to_node(tree), []


# --- type checking --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Function:
    name: str
    min_args: int
    max_args: int
    returns: ValueType
    signature: str


FUNCTIONS: Final[Mapping[str, _Function]] = {
    "min": _Function("min", 2, MAX_ARGUMENTS, ValueType.NUMBER, "min(number, number, ...)"),
    "max": _Function("max", 2, MAX_ARGUMENTS, ValueType.NUMBER, "max(number, number, ...)"),
    "abs": _Function("abs", 1, 1, ValueType.NUMBER, "abs(number)"),
    "between": _Function(
        "between", 3, 3, ValueType.BOOL, "between(number, low, high), both ends included"
    ),
}


def _describe(node: Node) -> str:
    if isinstance(node, FieldRef):
        return f" ({node.path})"
    if isinstance(node, Literal) and node.type is ValueType.STRING:
        return f" ({node.value!r})"
    return ""


class _Checker:
    def __init__(self, rule: str, catalogue: Mapping[str, FieldSpec]) -> None:
        self.rule = rule
        self.catalogue = catalogue
        self.issues: list[RuleIssue] = []
        self.fields: dict[str, None] = {}

    def issue(self, pos: Pos, code: IssueCode, message: str) -> None:
        self.issues.append(RuleIssue(self.rule, pos.line, pos.column, code, message))

    def check(self, node: Node) -> ValueType | None:
        if isinstance(node, Literal):
            return node.type
        if isinstance(node, FieldRef):
            spec = self.catalogue.get(node.path)
            if spec is None:
                message = f"unknown field '{node.path}'"
                close = _suggest(node.path, self.catalogue)
                if close:
                    message += f"; did you mean '{close}'?"
                self.issue(node.pos, IssueCode.UNKNOWN_FIELD, message)
                return None
            self.fields[node.path] = None
            return _FIELD_TO_VALUE[spec.type]
        if isinstance(node, Negate):
            operand = self.check(node.operand)
            if operand is not None and operand is not ValueType.NUMBER:
                self.issue(
                    node.pos,
                    IssueCode.TYPE_MISMATCH,
                    f"'{node.op}' needs a number, got {operand}{_describe(node.operand)}",
                )
                return None
            return ValueType.NUMBER if operand is not None else None
        if isinstance(node, Arith):
            left = self.check(node.left)
            right = self.check(node.right)
            if left is None or right is None:
                return None
            if left is not ValueType.NUMBER or right is not ValueType.NUMBER:
                self.issue(
                    node.pos,
                    IssueCode.TYPE_MISMATCH,
                    f"'{node.op}' needs two numbers, got {left}{_describe(node.left)} "
                    f"and {right}{_describe(node.right)}",
                )
                return None
            if (
                node.op == "/"
                and isinstance(node.right, Literal)
                and node.right.value == Decimal(0)
            ):
                self.issue(node.pos, IssueCode.DIVISION_BY_ZERO, "division by zero")
                return None
            return ValueType.NUMBER
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Membership):
            return self._membership(node)
        if isinstance(node, BoolOp):
            ok = True
            for part in node.operands:
                found = self.check(part)
                if found is not None and found is not ValueType.BOOL:
                    pos = _node_pos(part)
                    self.issue(
                        pos,
                        IssueCode.TYPE_MISMATCH,
                        f"'{node.op}' needs true/false operands, got {found}{_describe(part)}",
                    )
                    ok = False
                elif found is None:
                    ok = False
            return ValueType.BOOL if ok else None
        if isinstance(node, Not):
            found = self.check(node.operand)
            if found is not None and found is not ValueType.BOOL:
                self.issue(
                    node.pos,
                    IssueCode.TYPE_MISMATCH,
                    f"'not' needs a true/false operand, got {found}{_describe(node.operand)}",
                )
                return None
            return ValueType.BOOL if found is not None else None
        return self._call(node)

    def _compare(self, node: Compare) -> ValueType | None:
        if _is_null(node.left) or _is_null(node.right):
            other = node.right if _is_null(node.left) else node.left
            if node.op not in ("==", "!=") or not isinstance(other, FieldRef):
                self.issue(
                    node.pos,
                    IssueCode.NULL_MISUSE,
                    "null may only be compared to a field, with == or != "
                    "(e.g. 'borrower.age == null')",
                )
                if not _is_null(other):
                    self.check(other)
                return None
            return ValueType.BOOL if self.check(other) is not None else None
        left = self.check(node.left)
        right = self.check(node.right)
        if left is None or right is None:
            return None
        if node.op in ("<", "<=", ">", ">="):
            if left is not ValueType.NUMBER or right is not ValueType.NUMBER:
                self.issue(
                    node.pos,
                    IssueCode.TYPE_MISMATCH,
                    f"'{node.op}' compares numbers, got {left}{_describe(node.left)} "
                    f"and {right}{_describe(node.right)}",
                )
                return None
        elif left is not right:
            self.issue(
                node.pos,
                IssueCode.TYPE_MISMATCH,
                f"cannot compare {left}{_describe(node.left)} with "
                f"{right}{_describe(node.right)} using '{node.op}'",
            )
            return None
        return ValueType.BOOL

    def _membership(self, node: Membership) -> ValueType | None:
        operand = self.check(node.operand)
        keyword = "not in" if node.negated else "in"
        if operand is not None and operand not in (ValueType.NUMBER, ValueType.STRING):
            self.issue(
                node.pos,
                IssueCode.TYPE_MISMATCH,
                f"'{keyword}' needs a number or a string on its left, got {operand}",
            )
            return None
        if not node.items:
            self.issue(node.pos, IssueCode.BAD_LIST, f"the list after '{keyword}' is empty")
            return None
        ok = operand is not None
        for item in node.items:
            literal = _literal_value(item)
            if literal is None:
                self.issue(
                    _node_pos(item),
                    IssueCode.BAD_LIST,
                    f"items of the list after '{keyword}' must be numbers or strings "
                    "written out (no fields, operators or null)",
                )
                ok = False
            elif operand is not None and literal.type is not operand:
                self.issue(
                    _node_pos(item),
                    IssueCode.TYPE_MISMATCH,
                    f"the list mixes types: {operand}{_describe(node.operand)} "
                    f"checked against {literal.type}{_describe(literal)}",
                )
                ok = False
        return ValueType.BOOL if ok else None

    def _call(self, node: Call) -> ValueType | None:
        function = FUNCTIONS.get(node.name)
        if function is None:
            self.issue(
                node.pos,
                IssueCode.UNKNOWN_FUNCTION,
                f"unknown function '{node.name}'; available: {', '.join(sorted(FUNCTIONS))}",
            )
            for arg in node.args:
                self.check(arg)
            return None
        ok = True
        if not function.min_args <= len(node.args) <= function.max_args:
            self.issue(
                node.pos,
                IssueCode.WRONG_ARGUMENTS,
                f"'{node.name}' takes {function.signature}; got {len(node.args)} argument(s)",
            )
            ok = False
        for arg in node.args:
            found = self.check(arg)
            if found is None:
                ok = False
            elif found is not ValueType.NUMBER:
                self.issue(
                    _node_pos(arg),
                    IssueCode.TYPE_MISMATCH,
                    f"'{node.name}' takes numbers, got {found}{_describe(arg)}",
                )
                ok = False
        return function.returns if ok else None


def _suggest(path: str, catalogue: Mapping[str, FieldSpec]) -> str | None:
    """The catalogue field the author most likely meant, if any is close enough."""
    namespace, _, name = path.rpartition(".")
    best: tuple[float, str] | None = None
    for candidate in catalogue:
        cand_namespace, _, cand_name = candidate.rpartition(".")
        parts = cand_name.split("_")
        tails = ["_".join(parts[i:]) for i in range(len(parts))]
        ratio = max(difflib.SequenceMatcher(None, name, tail).ratio() for tail in tails)
        if cand_namespace != namespace:
            ratio -= 0.1
        if ratio >= 0.75 and (best is None or ratio > best[0]):
            best = (ratio, candidate)
    if best is not None:
        return best[1]
    close = difflib.get_close_matches(path, list(catalogue), n=1)
    return close[0] if close else None


def _is_null(node: Node) -> bool:
    return isinstance(node, Literal) and node.type is ValueType.NULL


def _literal_value(node: Node) -> Literal | None:
    """A written-out number or string (a leading minus folded in), else None."""
    if isinstance(node, Literal) and node.type in (ValueType.NUMBER, ValueType.STRING):
        return node
    if (
        isinstance(node, Negate)
        and isinstance(node.operand, Literal)
        and node.operand.type is ValueType.NUMBER
        and isinstance(node.operand.value, Decimal)
    ):
        value = node.operand.value
        signed = ARITHMETIC.minus(value) if node.op == "-" else value
        return Literal(node.pos, signed, ValueType.NUMBER)
    return None


def _node_pos(node: Node) -> Pos:
    return node.pos


@dataclass(frozen=True, slots=True)
class CheckedExpression:
    """A condition that parsed and type-checked: its tree, type and the fields it reads."""

    source: str
    node: Node
    type: ValueType
    fields: tuple[str, ...]


def check(
    source: str,
    catalogue: Mapping[str, FieldSpec] = STANDARD_CATALOGUE,
    *,
    rule: str = "expression",
    expect: ValueType | None = ValueType.BOOL,
) -> tuple[CheckedExpression | None, list[RuleIssue]]:
    """Parse and type-check `source`; the expression, or None and every issue found."""
    node, issues = parse(source, rule)
    if node is None:
        return None, issues
    checker = _Checker(rule, catalogue)
    found = checker.check(node)
    if checker.issues or found is None:
        return None, checker.issues
    if expect is not None and found is not expect:
        pos = node.pos
        return None, [
            RuleIssue(
                rule,
                pos.line,
                pos.column,
                IssueCode.NOT_BOOLEAN,
                f"a rule condition must be true or false, but this is a {found}",
            )
        ]
    return CheckedExpression(source, node, found, tuple(checker.fields)), []


# --- compilation ----------------------------------------------------------------------------


class Skip(Exception):
    """Raised inside a compiled condition when the applicant's data cannot answer it."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


Values = list[object]
Evaluator = Callable[[Values], Any]

_COMPARE: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _divide(dividend: Decimal, divisor: Decimal) -> Decimal:
    if not divisor:
        raise Skip("division by zero")
    return ARITHMETIC.divide(dividend, divisor)


_ARITH: Final[Mapping[str, Callable[[Decimal, Decimal], Decimal]]] = {
    "+": ARITHMETIC.add,
    "-": ARITHMETIC.subtract,
    "*": ARITHMETIC.multiply,
    "/": _divide,
}


def arithmetic_note(error: ArithmeticError) -> str:
    """The explanation of an arithmetic failure on an applicant's data."""
    if isinstance(error, DivisionByZero):
        return "division by zero"
    if isinstance(error, Overflow):
        return "number too large"
    return "arithmetic error"


def _constant(value: object) -> Evaluator:
    def constant(values: Values) -> object:
        return value

    return constant


def _compile(node: Node, slots: Mapping[str, int]) -> Evaluator:
    if isinstance(node, Literal):
        return _constant(node.value)
    if isinstance(node, FieldRef):
        return _field_reader(slots[node.path])
    if isinstance(node, Negate):
        inner = _compile(node.operand, slots)
        unary = ARITHMETIC.minus if node.op == "-" else ARITHMETIC.plus
        return lambda values: unary(inner(values))
    if isinstance(node, Arith):
        return _binary(_ARITH[node.op], node.left, node.right, slots)
    if isinstance(node, Compare):
        if _is_null(node.left) or _is_null(node.right):
            other = node.right if _is_null(node.left) else node.left
            assert isinstance(other, FieldRef)
            return _null_test(slots[other.path], negated=node.op == "!=")
        return _binary(_COMPARE[node.op], node.left, node.right, slots)
    if isinstance(node, Membership):
        members = frozenset(
            lit.value for item in node.items if (lit := _literal_value(item)) is not None
        )
        operand = _compile(node.operand, slots)
        if node.negated:
            return lambda values: operand(values) not in members
        return lambda values: operand(values) in members
    if isinstance(node, BoolOp):
        parts = [_compile(operand, slots) for operand in node.operands]
        return _all_of(parts) if node.op == "and" else _any_of(parts)
    if isinstance(node, Not):
        inner = _compile(node.operand, slots)
        return lambda values: not inner(values)
    return _call(node, slots)


def _field_reader(slot: int) -> Evaluator:
    def read(values: Values) -> object:
        value = values[slot]
        if value.__class__ is Unusable:
            assert isinstance(value, Unusable)
            raise Skip(value.note)
        return value

    return read


def _null_test(slot: int, *, negated: bool) -> Evaluator:
    def is_null(values: Values) -> bool:
        value = values[slot]
        return value.__class__ is Unusable and value.missing  # type: ignore[attr-defined]

    if negated:
        return lambda values: not is_null(values)
    return is_null


def _binary(
    function: Callable[[Any, Any], Any], left: Node, right: Node, slots: Mapping[str, int]
) -> Evaluator:
    lhs = _compile(left, slots)
    if isinstance(right, Literal):
        constant = right.value
        return lambda values: function(lhs(values), constant)
    rhs = _compile(right, slots)
    return lambda values: function(lhs(values), rhs(values))


def _all_of(parts: list[Evaluator]) -> Evaluator:
    """Short-circuit conjunction of two or more type-checked boolean parts."""
    if len(parts) == 2:
        first, second = parts
        return lambda values: first(values) and second(values)
    if len(parts) == 3:
        first, second, third = parts
        return lambda values: first(values) and second(values) and third(values)
    return _all_of([_all_of(parts[:3]), *parts[3:]])


def _any_of(parts: list[Evaluator]) -> Evaluator:
    """Short-circuit disjunction of two or more type-checked boolean parts."""
    if len(parts) == 2:
        first, second = parts
        return lambda values: first(values) or second(values)
    if len(parts) == 3:
        first, second, third = parts
        return lambda values: first(values) or second(values) or third(values)
    return _any_of([_any_of(parts[:3]), *parts[3:]])


def _call(node: Call, slots: Mapping[str, int]) -> Evaluator:
    args = [_compile(arg, slots) for arg in node.args]
    if node.name == "abs":
        (only,) = args
        return lambda values: ARITHMETIC.abs(only(values))
    if node.name == "between":
        subject, low, high = args
        return lambda values: low(values) <= subject(values) <= high(values)
    pick: Callable[..., Decimal] = min if node.name == "min" else max
    if len(args) == 2:
        first, second = args
        return lambda values: pick(first(values), second(values))
    return lambda values: pick(*[arg(values) for arg in args])


def compile_condition(expression: CheckedExpression, slots: Mapping[str, int]) -> Evaluator:
    """Closures for `expression`; `slots` maps each field path it reads to its index in the
    values vector built by `FieldReader`."""
    return _compile(expression.node, slots)


# --- reading applicant values ---------------------------------------------------------------


class FieldReader:
    """Pulls the fields a scorecard reads out of an applicant document, coerced and marked."""

    __slots__ = ("_plan", "paths", "slots")

    def __init__(self, specs: Sequence[FieldSpec]) -> None:
        self.paths: tuple[str, ...] = tuple(spec.path for spec in specs)
        self.slots: dict[str, int] = {path: index for index, path in enumerate(self.paths)}
        self._plan = [
            (
                tuple(spec.path.split(".")),
                spec.type,
                Unusable(f"{spec.path} missing", missing=True),
                Unusable(f"{spec.path} invalid (expected {spec.type})", missing=False),
            )
            for spec in specs
        ]

    def read(self, applicant: object) -> Values:
        values: Values = []
        append = values.append
        for segments, field_type, missing, invalid in self._plan:
            raw = lookup(applicant, segments)
            if raw is None:
                append(missing)
            elif field_type is FieldType.NUMBER:
                number = to_number(raw)
                append(invalid if number is None else number)
            elif field_type is FieldType.STRING:
                append(raw if type(raw) is str else invalid)
            else:
                append(raw if type(raw) is bool else invalid)
        return values


@dataclass(frozen=True, slots=True)
class Skipped:
    """The result of evaluating an expression the applicant's data could not answer."""

    note: str


def evaluate_expression(
    expression: CheckedExpression,
    applicant: object,
    catalogue: Mapping[str, FieldSpec] = STANDARD_CATALOGUE,
) -> object:
    """Evaluate one checked expression (slow path, for tests and previews): the value, or
    `Skipped` with the reason."""
    reader = FieldReader([catalogue[path] for path in expression.fields])
    evaluator = compile_condition(expression, reader.slots)
    try:
        return evaluator(reader.read(applicant))
    except Skip as skip:
        return Skipped(skip.note)
    except ArithmeticError as error:
        return Skipped(arithmetic_note(error))
