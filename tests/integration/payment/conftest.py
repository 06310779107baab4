"""The payment_service world (tests.support.payment_world) for the modules of this folder: one
per module, and no fault left over from one test to the next."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.payment_world import World, payment_world


@pytest.fixture(scope="module")
async def world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    async with payment_world(server_urls) as started:
        yield started


@pytest.fixture(autouse=True)
def _no_faults(world: World) -> Iterator[None]:
    world.loans.delay = 0.0
    world.loans.outage = ""
    world.wiring.core.fault_hook = None
    yield
    world.wiring.core.fault_hook = None
