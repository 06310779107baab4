"""The auth_service fleet (tests.support.auth_fleet) for the modules of this folder: one per
module, with one institution set up in it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.auth_fleet import Fleet, Institution, new_institution, running_fleet


@pytest.fixture(scope="module")
async def fleet(server_urls: dict[str, str]) -> AsyncIterator[Fleet]:
    async with running_fleet(server_urls) as started:
        yield started


@pytest.fixture(scope="module")
async def inst(fleet: Fleet) -> Institution:
    return await new_institution(fleet)
