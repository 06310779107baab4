"""Domain errors carry stable reasons; the domain imports no I/O library."""

import ast
from pathlib import Path

import pytest

import loan_service.domain as domain
from loan_service.domain.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    MakerCheckerViolation,
    NotFound,
    ValidationError,
)

pytestmark = pytest.mark.unit

FORBIDDEN = {"grpc", "pymongo", "fastapi", "aio_pika", "motor", "redis", "elasticsearch", "httpx"}


def test_validation_error_names_every_field() -> None:
    error = ValidationError([("principal", "must be positive"), ("term", "too long")])
    assert error.field_errors == [("principal", "must be positive"), ("term", "too long")]
    assert error.fields == ["principal", "term"]
    assert (error.reason, error.kind) == ("INVALID_ARGUMENT", "invalid_argument")
    assert str(error) == "principal: must be positive; term: too long"
    with pytest.raises(ValueError):
        ValidationError([])


def test_illegal_transition_reasons() -> None:
    one = IllegalTransition("closed", "repaid", ["active"])
    assert str(one) == "loan is closed; only active loans can be repaid"
    assert (one.reason, one.kind, one.current_status) == (
        "LOAN_NOT_ACTIVE",
        "failed_precondition",
        "closed",
    )
    assert one.metadata == {"current_status": "closed", "action": "repaid"}
    two = IllegalTransition("submitted", "reversed", ["active", "closed"])
    assert two.reason == "ILLEGAL_TRANSITION"
    assert str(two) == "loan is submitted; only active or closed loans can be reversed"


def test_every_error_is_a_domain_error_with_a_reason() -> None:
    for error in (
        MakerCheckerViolation("x"),
        NotFound("x"),
        Conflict("x", reason="DUPLICATE_REPAYMENT"),
        DomainError("x"),
    ):
        assert isinstance(error, DomainError)
        assert error.reason.isupper() and error.field_errors == []
    assert Conflict("x", reason="DUPLICATE_REPAYMENT").reason == "DUPLICATE_REPAYMENT"
    assert MakerCheckerViolation("x").kind == "permission_denied"


def test_domain_imports_no_io_library() -> None:
    package = Path(domain.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                continue
            roots = {m.split(".")[0] for m in modules}
            assert not roots & FORBIDDEN, f"{path.name} imports {roots & FORBIDDEN}"
            # Of shared/, only the pure error types (no grpc) may be used by the domain.
            assert all(m.startswith("shared.errors") for m in modules if m.startswith("shared")), (
                f"{path.name} imports {modules}"
            )
