"""Bounded waiting for what arrives asynchronously (events, indexes, a restarted process):
poll a condition until it holds, and fail when it does not in time. Never a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], limit: float = 60.0, every: float = 0.2) -> Any:
    """Calls `check` every `every` seconds until it returns something truthy, and returns
    that; fails after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not observed in time")
        time.sleep(every)
    return result


async def wait_until(predicate: Callable[[], Any], limit: float = 15.0) -> None:
    """Polls `predicate` (a plain or an async function) on the running loop until it holds;
    fails after `limit` seconds."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        held = predicate()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
