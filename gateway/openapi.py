"""The OpenAPI document, completed from what the routes really do: every error an operation
can answer declared as problem+json with its reason codes, the bearer scheme on every
operation that needs a token, and the permission it checks written into its description.

Each of these is read off the route (its dependencies, parameters and body), so a new route
is documented by being written, not by remembering to annotate it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.deps import CurrentPrincipal
from gateway.schema import Problem
from shared.permissions import ROLE_PERMISSIONS, Permission, Role

PROBLEM_JSON = "application/problem+json"
BEARER = "bearer"

# The reason codes a client can branch on, per status. The detail always says what to do next.
REASONS: dict[int, dict[str, str]] = {
    400: {"MALFORMED_JSON": "the body is not JSON"},
    401: {
        "TOKEN_MISSING": "no `Authorization: Bearer` header",
        "TOKEN_EXPIRED": "the access token expired: refresh it",
        "TOKEN_REVOKED": "the session ended (logout, password change, disabled user)",
        "TOKEN_MALFORMED": "not a Kopa access token",
        "INVALID_CREDENTIALS": "wrong email or password",
        "MFA_REQUIRED": "send the `otp` of your authenticator",
        "MFA_INVALID": "the code is wrong or expired",
        "REFRESH_TOKEN_INVALID": "the refresh token is unknown, used or expired",
        "SIGNATURE_INVALID": "a provider callback's signature does not match",
        "REPLAYED": "a provider callback's timestamp is too old",
    },
    403: {
        "PERMISSION_DENIED": "your role does not allow this",
        "OUTSIDE_BRANCH": "the resource belongs to another branch",
        "MFA_ENROLMENT_REQUIRED": "enrol a second factor first (POST /v1/me/mfa/enroll)",
        "MAKER_CHECKER_VIOLATION": "the approver must not be the loan's creator",
        "APPROVAL_LIMIT_EXCEEDED": "the principal is above your role's approval limit",
        "ACCOUNT_DISABLED": "the account is disabled",
        "ACCOUNT_LOCKED": "too many failed sign-ins; wait",
        "OVERRIDE_NOT_PERMITTED": "your role may not override an eligibility rule",
    },
    404: {
        "NOT_FOUND": "unknown id, or another institution's",
        "LOAN_NOT_FOUND": "",
        "BORROWER_NOT_FOUND": "",
        "PRODUCT_NOT_FOUND": "",
        "PAYMENT_NOT_FOUND": "",
        "INSTITUTION_NOT_FOUND": "",
        "BRANCH_NOT_FOUND": "",
        "SCORECARD_NOT_FOUND": "",
        "USER_NOT_FOUND": "",
        "JOB_NOT_FOUND": "",
        "DOCUMENT_NOT_FOUND": "",
        "MOBILE_MONEY_NOT_CONFIGURED": "no mobile-money callback is set up for the institution",
    },
    409: {
        "ILLEGAL_TRANSITION": "the resource is not in a state that allows this "
        "(`current_status` says which it is in)",
        "ALREADY_EXISTS": "a duplicate (e.g. a national ID already registered)",
        "IDEMPOTENCY_KEY_REUSED": "the Idempotency-Key was used with another body",
        "CONCURRENT_MODIFICATION": "someone changed it meanwhile: read it and retry",
        "NOT_ELIGIBLE": "an eligibility rule failed",
        "LOAN_NOT_ACTIVE": "only an active loan allows this (`current_status` says which it is)",
        "ALREADY_REVERSED": "",
        "CREDIT_ALREADY_REFUNDED": "",
        "REFUND_NOT_REVERSIBLE": "record money coming back as a repayment",
        "NOTHING_TO_RESCHEDULE": "",
        "IDEMPOTENCY_REQUEST_IN_PROGRESS": "the first request with this key is still running",
        "PAYMENT_NOT_IN_SUSPENSE": "",
        "PAYMENT_NOT_POSTED": "",
        "BOOKS_NOT_OPEN": "the books open with the institution's first loan",
        "DUPLICATE_NATIONAL_ID": "a borrower of the institution has this national ID",
        "DUPLICATE_PHONE": "a borrower of the institution has this phone number",
        "EMAIL_TAKEN": "a user has this email",
        "ACCOUNT_CODE_TAKEN": "",
        "USER_ALREADY_DISABLED": "",
        "USER_ALREADY_ACTIVE": "",
        "KYC_SELF_REVIEW": "a borrower's KYC is reviewed by someone other than its registrar",
    },
    413: {
        "BODY_TOO_LARGE": "the body is over the size limit",
        "DOCUMENT_TOO_LARGE": "the uploaded file is over the document size limit",
    },
    415: {
        "UNSUPPORTED_MEDIA_TYPE": "send `Content-Type: application/json` (`multipart/form-data` "
        "to upload a document); an uploaded file that is not a JPEG, PNG or PDF"
    },
    422: {
        "INVALID_ARGUMENT": "`errors` names every bad field, query or path parameter",
        "CREDIT_EXCEEDED": "a refund above the credit balance",
        "RULE_INVALID": "a scorecard rule does not parse (position in the message)",
        "PASSWORD_POLICY": "the new password is too short, too common or contains your email",
        "CALLBACK_INVALID": "a provider callback's body is not as documented",
    },
    429: {
        "RATE_LIMITED": "too many requests: wait `Retry-After` seconds",
        "ADDRESS_THROTTLED": "too many sign-ins from this address",
    },
    503: {"UNAVAILABLE": "a service is briefly unavailable: retry shortly (nothing was lost)"},
    504: {"DEADLINE_EXCEEDED": "a service did not answer in time: retry shortly"},
}

TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the resource's state",
    413: "Body too large",
    415: "Unsupported content type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
    504: "Upstream timeout",
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_RATE_LIMITED = {"/v1/auth/login", "/v1/auth/refresh"}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every operation with its full path (FastAPI includes routers lazily, so `app.routes`
    holds the routers, not their routes)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path_format:
            yield context.path_format, route


def needs_token(route: APIRoute) -> bool:
    verify = get_args(CurrentPrincipal)[1].dependency  # the dependency verifying the token
    return any(call is verify for call in _calls(route.dependant))


def permissions_of(route: APIRoute) -> tuple[Permission, ...]:
    """The permissions `gateway.deps.allowed` checks (any one of them allows the route)."""
    for call in _calls(route.dependant):
        found = getattr(call, "permissions", None)
        if found is not None:
            return tuple(Permission(p) for p in found)
    return ()


def statuses(route: APIRoute, method: str) -> list[int]:
    """The error statuses an operation can answer, read off the route."""
    d = route.dependant
    # A route that reads its raw body (a signed callback) declares it through openapi_extra.
    has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    has_params = bool(d.path_params or d.query_params or d.header_params or has_body)
    token = needs_token(route)
    found = {503, 504}
    if token or route.path in PUBLIC_RATE_LIMITED:
        found |= {401, 403, 429}
    if d.path_params or (method in WRITE_METHODS and has_body):
        found.add(404)
    if method in WRITE_METHODS and token:
        found.add(409)
    if has_body:
        found |= {400, 413, 415}
    if has_params:
        found.add(422)
    if route.path.startswith("/v1/mobile-money/"):
        found |= {401, 404, 409}
    return sorted(found)


def _error_response(status: int, described: str | None = None) -> dict[str, Any]:
    reasons = "; ".join(
        f"`{code}`: {meaning}" if meaning else f"`{code}`"
        for code, meaning in REASONS[status].items()
    )
    return {
        "description": described or f"{TITLES[status]}. Reasons: {reasons}.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _permission_text(permissions: tuple[Permission, ...]) -> str:
    roles = [
        r.value
        for r, held in ROLE_PERMISSIONS.items()
        if held & set(permissions) and r != Role.SERVICE
    ]
    named = " or ".join(f"`{p.value}`" for p in permissions)
    return f"**Permission:** {named} (roles: {', '.join(roles)})."


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)

    _restore_null_examples(app, schemas)
    for path, route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"][path][method.lower()]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            # A route may declare an error the rules below cannot see (a read refused by the
            # resource's state): it is a problem+json like every other.
            declared = [int(s) for s in responses if s.isdigit() and int(s) in REASONS]
            for status in sorted({*statuses(route, method), *declared}):
                described = responses.get(str(status), {}).get("description")
                responses[str(status)] = _error_response(status, described)
            if needs_token(route):
                operation["security"] = [{BEARER: []}]
                permissions = permissions_of(route)
                text = operation.get("description", "")
                extra = _permission_text(permissions) if permissions else "**Any signed-in user.**"
                operation["description"] = f"{text}\n\n{extra}".strip()
            for parameter in operation.get("parameters", []):
                _text_only(parameter.get("schema", {}), ID_TEXT)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                _text_only_in_body(body["schema"], schemas, set())
    return schema


# What gateway.schema refuses, said in the document: no control character in a path id or a
# query parameter; in a body, none but tab, line feed and carriage return.
ID_TEXT = "^[^\\u0000-\\u001f\\u007f]*$"
BODY_TEXT = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


def _text_only(shape: dict[str, Any], pattern: str) -> None:
    for choice in shape.get("anyOf", []):
        _text_only(choice, pattern)
    if shape.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(shape):
        shape["pattern"] = pattern


def _text_only_in_body(shape: dict[str, Any], schemas: dict[str, Any], seen: set[str]) -> None:
    ref = shape.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _text_only_in_body(schemas[name], schemas, seen)
        return
    _text_only(shape, BODY_TEXT)
    nested = [*shape.get("anyOf", []), *shape.get("properties", {}).values()]
    for key in ("items", "additionalProperties"):
        if isinstance(shape.get(key), dict):
            nested.append(shape[key])
    for inner in nested:
        _text_only_in_body(inner, schemas, seen)


def _restore_null_examples(app: FastAPI, schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the document, also from the models' examples (a bucket's
    open-ended `max_days: null`); the examples are put back as the models give them."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for _, route in api_routes(app):
        if isinstance(route.response_model, type) and issubclass(route.response_model, BaseModel):
            models.append((route.response_model, "serialization"))
        if route.body_field is not None:
            body = route.body_field.field_info.annotation
            for kind in (body, *get_args(body)):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    models.append((kind, "validation"))
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    for name, definition in top.get("$defs", {}).items():
        if "examples" in definition and name in schemas:
            schemas[name]["examples"] = definition["examples"]


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
