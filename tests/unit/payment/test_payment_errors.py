"""The payment domain's errors are shared.errors classes: one mapping to gRPC and HTTP."""

from __future__ import annotations

import pytest

from payment_service.domain.errors import (
    IDEMPOTENCY_KEY_REUSED,
    ConflictError,
    NotFoundError,
    UnauthenticatedError,
    ValidationError,
)
from payment_service.domain.ledger import LedgerError
from shared import errors as shared_errors
from shared.rpc_errors import domain_error_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cls", "base", "status"),
    [
        (ValidationError, shared_errors.ValidationError, 422),
        (LedgerError, shared_errors.ValidationError, 422),
        (ConflictError, shared_errors.Conflict, 409),
        (NotFoundError, shared_errors.NotFound, 404),
        (UnauthenticatedError, shared_errors.Unauthenticated, 401),
    ],
)
def test_each_payment_error_is_its_shared_counterpart(
    cls: type[Exception], base: type[Exception], status: int
) -> None:
    err = cls("nope", reason="SOME_REASON", field_errors=[("amount", "bad")])  # type: ignore[call-arg]
    assert isinstance(err, base)
    assert isinstance(err, shared_errors.DomainError)
    code, body = domain_error_problem(err)  # type: ignore[arg-type]
    assert code == status
    assert body["reason"] == "SOME_REASON"
    assert body["errors"] == [{"field": "amount", "message": "bad"}]


def test_default_reasons_are_kept() -> None:
    assert ValidationError("x").reason == "VALIDATION_FAILED"
    assert ConflictError("x").reason == "CONFLICT"
    assert LedgerError("x").reason == "LEDGER_ENTRY_INVALID"


def test_a_reused_idempotency_key_is_a_409() -> None:
    code, body = domain_error_problem(ConflictError("reused", reason=IDEMPOTENCY_KEY_REUSED))
    assert code == 409 and body["reason"] == IDEMPOTENCY_KEY_REUSED
