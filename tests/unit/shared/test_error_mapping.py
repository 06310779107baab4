"""Domain errors survive the trip domain → gRPC status → HTTP problem+json intact."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from shared.errors import Conflict, IllegalState, NotFound, RateLimited, ValidationError
from shared.rpc_errors import problem_from_rpc, reraise_as_domain, to_status

pytestmark = pytest.mark.unit


class FakeCall(grpc.RpcError):
    """What a client sees: code, details and trailing metadata of a finished call."""

    def __init__(self, error: Exception) -> None:
        status = rpc_status.to_status(to_status(error))  # type: ignore[arg-type]
        self._code, self._details, self._trailers = (
            status.code,
            status.details,
            status.trailing_metadata,
        )

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._trailers


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError.of("principal", "must be at least 1000"), 422),
        (NotFound("loan x not found"), 404),
        (Conflict("duplicate national id"), 409),
        (IllegalState("loan is rejected", reason="ILLEGAL_TRANSITION"), 409),
        (RateLimited("slow down", retry_after_seconds=30), 429),
        # A file refused for what it is or how big it is: INVALID_ARGUMENT on the wire.
        (ValidationError.of("file", "not a PDF", reason="UNSUPPORTED_MEDIA_TYPE"), 415),
        (ValidationError.of("file", "too large", reason="DOCUMENT_TOO_LARGE"), 413),
        (IllegalState("not that kind of conflict", reason="UNSUPPORTED_MEDIA_TYPE"), 409),
    ],
)
def test_statuses(error: Exception, status: int) -> None:
    got, body = problem_from_rpc(FakeCall(error))
    assert got == status
    assert body["status"] == status
    assert body["detail"] == str(error)


def test_validation_errors_name_every_field() -> None:
    error = ValidationError(
        "two fields are bad",
        field_errors=[("principal", "must be at least 1000"), ("term", "must be at most 24")],
    )
    _, body = problem_from_rpc(FakeCall(error))
    assert body["errors"] == [
        {"field": "principal", "message": "must be at least 1000"},
        {"field": "term", "message": "must be at most 24"},
    ]
    assert body["type"].endswith("/invalid-argument")


def test_metadata_reaches_the_client_and_peers_pass_errors_through() -> None:
    error = IllegalState(
        "loan is closed", reason="ILLEGAL_TRANSITION", metadata={"current_status": "closed"}
    )
    _, body = problem_from_rpc(FakeCall(error))
    assert body["current_status"] == "closed" and body["reason"] == "ILLEGAL_TRANSITION"
    again = reraise_as_domain(FakeCall(error))  # type: ignore[arg-type]
    assert isinstance(again, IllegalState)
    assert again.metadata == {"current_status": "closed"} and again.reason == "ILLEGAL_TRANSITION"


def test_internal_errors_do_not_leak() -> None:
    class Internal(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.INTERNAL

        def details(self) -> str:
            return "KeyError: 'secret_column' at adapters/repository.py:42"

        def trailing_metadata(self) -> tuple[()]:
            return ()

    status, body = problem_from_rpc(Internal())
    assert status == 500
    assert "secret_column" not in body["detail"]
