"""The vocabulary every resource's request and response models share: the strict request base,
the wire formats of the contract (decimal strings, ISO dates, timestamps, bounded integers),
pages, and the problem+json body of every error (../shared/API.md, "Conventions")."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Header, Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)

from shared.errors import ValidationError

# C0 control characters and DEL, except tab, line feed and carriage return (free text such as a
# note may hold lines), and lone UTF-16 surrogates (JSON's `\ud800` escapes, which no UTF-8
# text can hold). NUL is what the databases refuse; the others are never meant as input.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# In ids and query parameters no control character at all is meant.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

CONTROL_MESSAGE = "must be text without control characters (such as NUL)"


def _has_control(value: Any) -> bool:
    if isinstance(value, str):
        return _CONTROL.search(value) is not None
    if isinstance(value, list):
        return any(_has_control(v) for v in value)
    if isinstance(value, dict):
        return any(_has_control(k) or _has_control(v) for k, v in value.items())
    return False


class Strict(BaseModel):
    """A request body: unknown fields are refused, so nothing can be smuggled into a request,
    and no string anywhere in it may hold a control character (a NUL reaching a database was
    a 500)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if _has_control(value):
            raise ValueError(CONTROL_MESSAGE)
        return value


def refuse_control_characters(path_params: dict[str, str], query: list[tuple[str, str]]) -> None:
    """Path ids and query parameters with a control character are 422 naming the parameter."""
    for name, value in [*path_params.items(), *query]:
        if _ANY_CONTROL.search(value):
            raise ValidationError.of(name, CONTROL_MESSAGE)


# --- the contract's wire formats ----------------------------------------------------------

DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$"
DecimalString = Annotated[
    StrictStr,
    Field(
        pattern=DECIMAL_PATTERN,
        description="a decimal string in major units of the institution's currency",
        examples=["1250.50"],
    ),
]
"""An amount in a request: exact, never a JSON number (a float would lose cents)."""

Rate = Annotated[
    StrictStr,
    Field(pattern=DECIMAL_PATTERN, description="percent per year as a decimal string"),
]

Amount = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        description="a decimal string in major units of the institution's currency",
        examples=["1250.50"],
    ),
]
"""An amount in an answer."""


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _date_text(value: Any) -> Any:
    # Pydantic's lax dates also take numbers, and numeric text, as seconds since 1970 ("0" was
    # 1970-01-01); the contract's dates are YYYY-MM-DD text only.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date, YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_date_text), Field(examples=["2026-03-31"])]
"""A calendar date, ISO 8601 (`YYYY-MM-DD`)."""

Timestamp = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        description="RFC 3339, UTC",
        examples=["2026-03-31T09:30:00.123Z"],
    ),
]

Ratio = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        description="a fraction as a decimal string: 0.0376 is 3.76%",
        examples=["0.0376"],
    ),
]
"""PAR ratios, provisioning rates: fractions, never percentages."""

ScoreBand = Literal["AA", "A", "B", "C", "D"]
"""A credit score's band, `AA` (best) to `D`."""

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a retry with the same key and body answers the first response and "
        "applies nothing again; the same key with another body is 409",
    ),
]
"""Required on requests that move money."""

OptionalIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="optional: a retry with the same key and body applies nothing again",
    ),
]

INT32_MAX = 2**31 - 1
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=INT32_MAX)]
"""Any integer the contract carries as a 32-bit int (beyond it the proto refuses it: a 500)."""
Count = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
"""Where the proto field is int64."""

PageSize = Annotated[
    int,
    Query(ge=1, le=1000, description="how many items a page holds at most (1 to 1000)"),
]
PageToken = Annotated[
    str,
    Query(
        max_length=2000,
        description="`next_page_token` of the previous page; empty for the first page",
    ),
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list; ask again with `page_token=next_page_token` until it is empty."""

    items: list[T]
    next_page_token: str = Field(description="empty on the last page")


# --- errors ---------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str = Field(description="the request field, query or path parameter, dotted")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. `reason` is a stable UPPER_SNAKE code to branch on; `errors`
    names every bad field. Some reasons add their own members (e.g. `current_status`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://kopa.dev/problems/illegal-transition"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["the loan is active; only a submitted loan can be approved"])
    reason: str | None = Field(None, examples=["ILLEGAL_TRANSITION"])
    errors: list[FieldError] | None = None
