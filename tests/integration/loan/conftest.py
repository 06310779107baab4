"""The loan_service world (tests.support.loan_world) for the modules of this folder: one per
module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.loan_world import World, loan_world


@pytest.fixture(scope="module")
async def world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    async with loan_world(server_urls) as started:
        yield started
