"""Helpers for the domain errors the unit tests provoke."""

from __future__ import annotations

import pytest

from shared.errors import ValidationError


def fields_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    """The fields a ValidationError caught by `pytest.raises` names, in its order."""
    return [f for f, _ in exc.value.field_errors]
