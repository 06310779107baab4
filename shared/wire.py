"""Typed requests read once at a service's edge, for every contract with `google.type.Money`,
`google.type.Date` and enums (kopa.loan.v2, kopa.reporting.v2, kopa.user.v2...): the fields as
the plain values the use cases take (decimal text, ISO text, words), every malformed one
refused at once naming its field. Both versions of a contract thus reach the same use case
with the same values, judged by the same rules."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf.descriptor import EnumDescriptor
from google.type import money_pb2

from shared.dates import from_proto_date
from shared.errors import ValidationError
from shared.money import from_money, minor_units


@cache
def enum_prefix(enum: str) -> str:
    """`InterestMethod` -> `INTEREST_METHOD_` (buf's rule: each value starts with it)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum).upper() + "_"


@dataclass(frozen=True)
class RequestFields:
    """A request's fields as plain values, the same for both versions: text for amounts and
    dates (as the use cases read them, so that both versions are judged by the same rules),
    words for enums; and the currency each amount names (v2 amounts may name one)."""

    values: dict[str, Any]
    currencies: tuple[tuple[str, str], ...]

    def command(self, cls: type[Any], **given: Any) -> Any:
        """The command `cls` of the fields it has (those in `given` win)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in self.values.items() if k in names}
        if "currencies" in names:
            values["currencies"] = self.currencies
        return cls(**(values | given))


def request_fields(message: Any, names: Mapping[str, str] | None = None) -> RequestFields:
    """The fields of `message` as plain values: a `google.type.Money` as the exact decimal
    text of its amount ("" when unset), a `google.type.Date` as ISO text ("" when unset), an
    enum as its word ("" for the zero value); a value none of them can be is refused naming
    its field (by `names`, else its own), every such field at once."""
    names = names or {}
    values: dict[str, Any] = {}
    currencies: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    for field in message.DESCRIPTOR.fields:
        name = field.name
        label = names.get(name, name)
        value = getattr(message, name)
        kind = field.message_type.full_name if field.message_type is not None else ""
        try:
            if field.enum_type is not None:
                values[name] = enum_word(field.enum_type, value, label)
            elif kind == "google.type.Money":
                values[name] = amount_text(value, label) if message.HasField(name) else ""
                if value.currency_code:
                    minor_units(value.currency_code, field=label)
                    currencies.append((label, value.currency_code))
            elif kind == "google.type.Date":
                day = from_proto_date(value, label)
                values[name] = day.isoformat() if day else ""
            else:
                values[name] = value
        except ValidationError as exc:
            errors.extend(exc.field_errors)
    if errors:
        raise ValidationError("the request is invalid", field_errors=errors)
    return RequestFields(values, tuple(currencies))


def enum_word(enum: EnumDescriptor, number: int, field: str = "") -> str:
    """`LOAN_STATUS_WRITTEN_OFF` -> `written_off` (the contract's words); "" for the zero
    value; a number the enum lacks is refused naming `field` (its enum when none is given)."""
    if number == 0:
        return ""
    value = enum.values_by_number.get(number)
    if value is None:
        raise ValidationError.of(field or enum.name, f"{number} is not a value of {enum.full_name}")
    return value.name.removeprefix(enum_prefix(enum.name)).lower()


def amount_text(value: money_pb2.Money, field: str) -> str:
    """The amount as plain decimal text without trailing zeros (google.type.Money carries
    nine decimals): whether it has too many for the currency is the use case's to say."""
    text = f"{from_money(value, field=field):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
