"""Small conversions between stored values and proto well-known types."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(value: datetime | None) -> Timestamp | None:
    """A proto Timestamp (None stays unset); a naive datetime is taken as UTC."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return out


def field_with_nul(message: Message, prefix: str = "") -> str | None:
    """The first string field (dotted, `[i]` for list items) holding a NUL character, or None.
    MongoDB-wire servers backed by PostgreSQL refuse NUL in text, so a request carrying one
    is refused as bad input instead of failing in the database. Only set fields are visited."""
    for field, value in message.ListFields():
        name = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING:
            items = value if field.is_repeated else [value]
            for i, item in enumerate(items):
                if "\x00" in item:
                    return f"{name}[{i}]" if field.is_repeated else name
        elif field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    if isinstance(item, Message):
                        found = field_with_nul(item, f"{name}.{key}.")
                    else:
                        found = f"{name}.{key}" if "\x00" in f"{key}{item}" else None
                    if found:
                        return found
            elif field.is_repeated:
                for i, item in enumerate(value):
                    if found := field_with_nul(item, f"{name}[{i}]."):
                        return found
            elif found := field_with_nul(value, f"{name}."):
                return found
    return None
