"""Proto messages to the JSON shapes of the public contract (../shared/API.md)."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message


def to_json(message: Message, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    data = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _int64_as_numbers(message, data)
    for key in drop:
        data.pop(key, None)
    return data


_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def _int64_as_numbers(message: Message, data: dict[str, Any]) -> None:
    """Proto3's JSON mapping writes 64-bit integers as strings (JavaScript's doubles lose
    precision past 2^53); the contract's counts and versions are JSON numbers, and none of
    ours comes near that. Well-known types keep their own JSON forms."""
    for field in message.DESCRIPTOR.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        repeated = field.is_repeated
        if field.type in _INT64_TYPES:
            data[field.name] = [int(v) for v in value] if repeated else int(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            kind = field.message_type
            if kind.full_name.startswith("google.protobuf.") or kind.GetOptions().map_entry:
                continue  # their own JSON forms; none of the contract's maps holds int64
            inner = getattr(message, field.name)
            if repeated:
                for item, item_data in zip(inner, value, strict=True):
                    _int64_as_numbers(item, item_data)
            else:
                _int64_as_numbers(inner, value)


def enum_value(name: str, prefix: str) -> str:
    """`LOAN_STATUS_ACTIVE` -> `active`."""
    return name.removeprefix(prefix).lower()


def page(items: list[Any], next_token: str) -> dict[str, Any]:
    return {"items": items, "next_page_token": next_token}
