"""REST <-> gRPC, driven by the proto descriptors: a response model names the fields it shows,
the message's descriptor says how each one travels, so no route copies fields one by one.

Rules (../shared/API.md): enums are lower-case words without their type's prefix
(`LOAN_STATUS_ACTIVE` -> `active`, the zero value -> null); an empty string or an unset
message shown as optional (`X | None` in the model) is null; timestamps are RFC 3339 text;
64-bit integers are JSON numbers (proto3's JSON mapping writes them as strings);
`google.type.Money` is a decimal string with its currency's decimals and `google.type.Date`
an ISO date, both ways."""

from __future__ import annotations

import types
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar, Union, get_args, get_origin

from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.type import money_pb2
from pydantic import BaseModel

from shared.dates import from_proto_date
from shared.money import check_amount_text, fmt, from_money, to_money
from shared.wire import enum_prefix as type_prefix

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=Message)


def enum_prefix(enum: EnumDescriptor) -> str:
    """`LoanStatus` -> `LOAN_STATUS_` (buf's rule: every value starts with its type's name)."""
    return type_prefix(enum.name)


def enum_word(enum: EnumDescriptor, number: int) -> str | None:
    value = enum.values_by_number.get(number)
    if value is None or number == 0:
        return None
    return value.name.removeprefix(enum_prefix(enum)).lower()


def enum_words(enum: EnumDescriptor) -> list[str]:
    """The words a request may use for an enum (its values but the zero one)."""
    return [w for v in enum.values if (w := enum_word(enum, v.number)) is not None]


def _optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _strip_optional(annotation: Any) -> Any:
    if _optional(annotation):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    inner = _strip_optional(annotation)
    origin = get_origin(inner)
    if origin in (list, dict):
        inner = get_args(inner)[-1]
    inner = _strip_optional(inner)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        return enum_word(field.enum_type, value)
    if field.message_type is not None:
        kind = field.message_type.full_name
        if kind == "google.protobuf.Timestamp":
            return value.ToJsonString() if value.ByteSize() else None
        if kind == "google.type.Money":
            return money_text(value)
        if kind == "google.type.Date":
            return from_proto_date(value)
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    return value


def money_text(value: money_pb2.Money) -> str:
    """An amount as the contract writes it: a decimal string with exactly its currency's
    decimals ("" when unset, as an unset string field: null where the model is optional)."""
    if not value.currency_code:
        return ""
    return fmt(from_money(value), value.currency_code)


def money_of(text: str, field: str) -> money_pb2.Money:
    """An amount a person typed (a decimal string) as `google.type.Money` without a currency
    (the amount's owner knows it and checks the decimals); malformed text is refused naming
    `field`, as the service would have refused it."""
    check_amount_text(text, field)
    return to_money(Decimal(text), field=field)


def _value(field: Any, annotation: Any, value: Any, present: bool) -> Any:
    nested = _model_of(annotation)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {k: _value(value_field, annotation, v, True) for k, v in value.items()}
    if field.is_repeated:
        if nested is not None:
            return [from_proto(nested, v) for v in value]
        return [_scalar(field, v) for v in value]
    if nested is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
        if not present and _optional(annotation):
            return None
        return from_proto(nested, value)
    converted = _scalar(field, value)
    if converted == "" and _optional(annotation):
        return None
    return converted


def from_proto(model: type[M], message: Message, **values: Any) -> M:
    """The model's fields taken by name from the message (those given in `values` win; a field
    the message lacks keeps the model's default)."""
    descriptor = message.DESCRIPTOR
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in values:
            data[name] = values[name]
            continue
        field = descriptor.fields_by_name.get(name)
        if field is None:
            continue
        present = (
            message.HasField(name)
            if field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated
            else True
        )
        data[name] = _value(field, info.annotation, getattr(message, name), present)
    return model.model_validate(data)


def to_proto(
    message_type: type[P], body: BaseModel | Mapping[str, Any] | None = None, **values: Any
) -> P:
    """A request message from a request model (None and unset fields left at the proto's
    defaults) plus `values` (ids from the path, query parameters, headers). Enum fields take
    the contract's words; dates travel as ISO text."""
    given = body.model_dump(exclude_none=True) if isinstance(body, BaseModel) else body or {}
    data = dict(given) | {k: v for k, v in values.items() if v is not None}
    return json_format.ParseDict(_proto_json(message_type.DESCRIPTOR, data), message_type())


def _proto_json(descriptor: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        field = descriptor.fields_by_name[name]
        out[name] = _proto_value(field, value)
    return out


def _proto_value(field: FieldDescriptor, value: Any) -> Any:
    if field.is_repeated and isinstance(value, list):
        return [_proto_value_one(field, v) for v in value]
    return _proto_value_one(field, value)


def _proto_value_one(field: FieldDescriptor, value: Any) -> Any:
    kind = field.message_type.full_name if field.message_type is not None else ""
    if kind == "google.type.Date" and isinstance(value, date):
        return {"year": value.year, "month": value.month, "day": value.day}
    if kind == "google.type.Money" and isinstance(value, str):
        # Exact and without a currency: the amount's owner knows it and checks the decimals.
        money = to_money(Decimal(value), field=field.name)
        return {"units": str(money.units), "nanos": money.nanos}
    if isinstance(value, date):
        return value.isoformat()
    if field.enum_type is not None and isinstance(value, str):
        return enum_prefix(field.enum_type) + value.upper()
    if field.message_type is not None and isinstance(value, Mapping):
        if field.message_type.GetOptions().map_entry:
            return dict(value)
        return _proto_json(field.message_type, value)
    return value
