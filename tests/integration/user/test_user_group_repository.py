"""user_service's group storage on the real MongoDB-wire server: the members' open loans kept
from events in any order, and a group's optimistic concurrency with its history."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.errors import Aborted
from user_service.adapters.groups import GroupRepository
from user_service.domain.groups import form

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


@pytest.fixture
async def repo(server_urls: dict[str, str]) -> AsyncIterator[GroupRepository]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    name = f"it{secrets.token_hex(4)}_groups"
    try:
        repository = GroupRepository(client[name])
        await repository.ensure_indexes()
        yield repository
    finally:
        await client.drop_database(name)
        await client.close()


async def _record(repo: GroupRepository, status: str, version: int, loan: str = "loan_1") -> None:
    await repo.record_loan(
        loan_id=loan, institution_id="inst_1", borrower_id="b1", status=status, version=version
    )


async def test_the_latest_loan_event_wins_whatever_the_order(repo: GroupRepository) -> None:
    await _record(repo, "active", 3)
    await _record(repo, "submitted", 1)  # late
    await _record(repo, "active", 3)  # replayed
    assert await repo.open_loans("inst_1", ["b1", "b2"]) == {"b1": ["loan_1"], "b2": []}
    await _record(repo, "closed", 9)
    await _record(repo, "approved", 2)  # late again
    assert await repo.open_loans("inst_1", ["b1"]) == {"b1": []}
    # Another institution's borrower with the same id is not mixed in.
    assert await repo.open_loans("inst_2", ["b1"]) == {"b1": []}


async def test_concurrent_changes_of_a_group_have_one_winner(repo: GroupRepository) -> None:
    group = form(
        group_id="grp_1",
        institution_id="inst_1",
        branch_id="br_1",
        data={"name": "Tumaini", "member_ids": ["b1", "b2"]},
        today=date(2026, 12, 7),
        create_time=NOW,
    )
    await repo.add(group, "usr_1", NOW)
    copies = [await repo.get("grp_1") for _ in range(5)]
    for n, copy in enumerate(copies):
        assert copy is not None
        copy.add_member(f"c{n}", date(2026, 12, 7), "", date(2026, 12, 7))
    results = await asyncio.gather(
        *(repo.save(c, 1, "usr_1", NOW) for c in copies if c), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Aborted) for r in results if r is not None)
    stored = await repo.get("grp_1")
    assert stored is not None and stored.version == 2 and len(stored.member_ids) == 3
    history = await repo.history("grp_1")
    assert [(h["version"], h["action"]) for h in history] == [(1, "created"), (2, "member_added")]
