"""Every error leaves the gateway as RFC 9457 problem+json; internals never leak."""

from __future__ import annotations

from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from shared.errors import DomainError
from shared.logging import get_logger
from shared.rpc_errors import domain_error_problem, problem, problem_from_rpc

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "buckets", 0, "max_days")` -> `buckets[0].max_days`, as the services name
    fields."""
    name = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not name:
            continue
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def allowed_methods(request: Request) -> str:
    """Every method the path's routes take (Starlette names only the first route's)."""
    methods = {"OPTIONS"}
    for context in iter_route_contexts(request.app.routes):
        if context.path_format and context.methods:
            pattern, _, _ = compile_path(context.path_format)
            if pattern.match(request.url.path):
                methods |= context.methods
    return ", ".join(sorted(methods))


def _validation_message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not allowed here"
    if kind == "json_invalid":
        return f"malformed JSON: {err.get('ctx', {}).get('error', 'cannot be parsed')}"
    return str(err.get("msg", "is invalid"))


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [(_field_name(tuple(e["loc"])), _validation_message(e)) for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(
                400,
                problem(
                    400,
                    "the request body is not valid JSON",
                    reason="MALFORMED_JSON",
                    field_errors=fields,
                ),
            )
        detail = "; ".join(f"{f} {m}" for f, m in fields)
        return problem_response(
            422, problem(422, detail, reason="INVALID_ARGUMENT", field_errors=fields)
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
            if request.method == "OPTIONS":  # RFC 9110: what this resource takes
                return Response(status_code=204, headers=headers)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return problem_response(exc.status_code, problem(exc.status_code, detail), headers)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(_: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        status, body = problem_from_rpc(exc)
        if status >= 500:
            log.warning("upstream_error", code=exc.code().name, detail=exc.details())
        headers = {}
        if status == 429:
            from shared.rpc_errors import details_of

            headers["Retry-After"] = details_of(exc).metadata.get("retry_after", "60")
        return problem_response(status, body, headers)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status, body = domain_error_problem(exc)
        headers = {}
        if "retry_after" in exc.metadata:
            headers["Retry-After"] = exc.metadata["retry_after"]
        return problem_response(status, body, headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway_crashed")
        return problem_response(500, problem(500, "an internal error occurred; it has been logged"))
