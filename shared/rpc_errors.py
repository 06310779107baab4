"""The one mapping of domain errors to gRPC statuses and of gRPC statuses to HTTP.

Servers send a `google.rpc.Status` with an `ErrorInfo` (stable `reason`) and, for validation
errors, a `BadRequest` naming every field. The gateway turns any failed call back into an RFC
9457 problem+json body, so a message written once in the domain reaches the HTTP client intact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from shared.errors import (
    Aborted,
    Conflict,
    DomainError,
    IllegalState,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationError,
)

ERROR_DOMAIN = "kopa.dev"

GRPC_CODE: dict[str, grpc.StatusCode] = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "already_exists": grpc.StatusCode.ALREADY_EXISTS,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "aborted": grpc.StatusCode.ABORTED,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "resource_exhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def grpc_code(error: DomainError) -> grpc.StatusCode:
    return GRPC_CODE.get(error.kind, grpc.StatusCode.FAILED_PRECONDITION)


def to_status(error: DomainError) -> status_pb2.Status:
    """The `google.rpc.Status` for a domain error, with ErrorInfo and BadRequest details."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    details = [_pack(info)]
    if error.field_errors:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=m)
                for f, m in error.field_errors
            ]
        )
        details.append(_pack(bad))
    return status_pb2.Status(code=grpc_code(error).value[0], message=error.message, details=details)


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


async def abort(context: grpc.aio.ServicerContext, error: DomainError) -> None:
    """Ends the RPC with the rich status for `error` (never returns)."""
    status = rpc_status.to_status(to_status(error))
    await context.abort(status.code, status.details, status.trailing_metadata)


@dataclass(frozen=True)
class RpcErrorDetails:
    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    field_errors: list[tuple[str, str]]


def details_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> RpcErrorDetails:
    """Decodes the rich status a peer sent (or a plain one)."""
    code = error.code()
    message = error.details() or code.name
    reason, metadata, fields = code.name, {}, []
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields = [(v.field, v.description) for v in bad.field_violations]
    return RpcErrorDetails(code, message, reason, metadata, fields)


_CLIENT_ERRORS: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ValidationError,
    grpc.StatusCode.OUT_OF_RANGE: ValidationError,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.FAILED_PRECONDITION: IllegalState,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def reraise_as_domain(error: grpc.aio.AioRpcError) -> DomainError | None:
    """A peer's client-caused error as the same domain error, so it passes through unchanged."""
    d = details_of(error)
    if d.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "retry_after" in d.metadata:
        return RateLimited(
            d.message, retry_after_seconds=int(d.metadata["retry_after"]), reason=d.reason
        )
    kind = _CLIENT_ERRORS.get(d.code)
    if kind is None:
        return None
    return kind(d.message, reason=d.reason, field_errors=d.field_errors, metadata=d.metadata)


# --- HTTP (RFC 9457 problem+json) ---------------------------------------------------------

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

#: Reasons whose HTTP status is more precise than their gRPC code's: a file refused for its
#: content or its size is INVALID_ARGUMENT on the wire, and 415 or 413 over HTTP.
HTTP_STATUS_BY_REASON: dict[str, int] = {
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "DOCUMENT_TOO_LARGE": 413,
}

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    504: "Upstream timeout",
}


def problem(
    status: int,
    detail: str,
    *,
    reason: str | None = None,
    field_errors: Sequence[tuple[str, str]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 body. `type` is a stable URI per reason so clients can branch on it."""
    code = (reason or TITLES.get(status, "error")).lower().replace(" ", "-").replace("_", "-")
    body: dict[str, Any] = {
        "type": f"https://{ERROR_DOMAIN}/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if reason:
        body["reason"] = reason
    if field_errors:
        body["errors"] = [{"field": f, "message": m} for f, m in field_errors]
    if extra:
        body.update(extra)
    return body


def problem_from_rpc(error: grpc.aio.AioRpcError | grpc.RpcError) -> tuple[int, dict[str, Any]]:
    """HTTP status and problem+json body for a failed upstream call; internals never leak."""
    d = details_of(error)
    status = HTTP_STATUS.get(d.code, 500)
    if d.code == grpc.StatusCode.INVALID_ARGUMENT:
        status = HTTP_STATUS_BY_REASON.get(d.reason, status)
    if status >= 500:
        detail = {
            503: "a service is unavailable; retry shortly",
            504: "a service did not answer in time; retry shortly",
        }.get(status, "an internal error occurred; it has been logged")
        return status, problem(status, detail, reason=d.code.name)
    extra = {k: v for k, v in d.metadata.items() if k != "retry_after"}
    return status, problem(
        status, d.message, reason=d.reason, field_errors=d.field_errors, extra=extra or None
    )


def domain_error_problem(error: DomainError) -> tuple[int, dict[str, Any]]:
    status = HTTP_STATUS.get(grpc_code(error), 500)
    return status, problem(
        status,
        error.message,
        reason=error.reason,
        field_errors=error.field_errors,
        extra=error.metadata or None,
    )
