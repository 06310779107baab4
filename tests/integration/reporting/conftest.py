"""loan_service's world with reporting_service beside it (tests.support.reporting_env), for
the modules of this folder: one per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.loan_world import World, loan_world
from tests.support.reporting_env import reporting_beside


@pytest.fixture(scope="module")
async def world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    async with loan_world(server_urls) as started:
        yield started


@pytest.fixture(scope="module")
async def reporting(world: World, server_urls: dict[str, str]) -> AsyncIterator[Any]:
    async with reporting_beside(world, server_urls) as channel:
        yield channel
