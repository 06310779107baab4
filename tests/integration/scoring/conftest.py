"""The scoring_service environment (tests.support.scoring_env) for the modules of this folder:
one per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.scoring_env import Env, scoring_env


@pytest.fixture(scope="module")
async def env(server_urls: dict[str, str]) -> AsyncIterator[Env]:
    async with scoring_env(server_urls) as started:
        yield started
