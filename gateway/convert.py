"""Proto messages to the JSON shapes of the public contract (../shared/API.md)."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message


def to_json(message: Message, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    data = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    for key in drop:
        data.pop(key, None)
    return data


def enum_value(name: str, prefix: str) -> str:
    """`LOAN_STATUS_ACTIVE` -> `active`."""
    return name.removeprefix(prefix).lower()


def page(items: list[Any], next_token: str) -> dict[str, Any]:
    return {"items": items, "next_page_token": next_token}
