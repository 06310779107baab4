"""shared.lru: bounded, and the entry forgotten first is the one used least recently."""

from __future__ import annotations

import pytest

from shared.lru import Lru

pytestmark = pytest.mark.unit


def test_the_least_recently_used_entry_goes_first() -> None:
    held: Lru[str, int] = Lru(2)
    held.put("a", 1)
    held.put("b", 2)
    assert held.get("a") == 1  # a is now the most recent
    held.put("c", 3)
    assert "b" not in held and held.get("a") == 1 and held.get("c") == 3
    held.put("a", 9)  # writing again also makes it recent
    held.put("d", 4)
    assert len(held) == 2 and held.get("a") == 9 and "c" not in held
    assert held.pop("a") == 9 and held.pop("a") is None and held.get("zz") is None
