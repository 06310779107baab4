"""Reading loans: one, a page of them, and a field agent's collection sheet.

A loan outside the caller's scope is NOT_FOUND (one) or left out (a page, a sheet). They
read the stored documents and figures (`views`); they never replay a loan.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from loan_service.service_layer.clock import today
from loan_service.service_layer.collection_sheet import CollectionSheet, read_whole
from loan_service.service_layer.collection_sheet import assemble as assemble_sheet
from loan_service.service_layer.ports import BorrowerContact, LoanRepository, UserDirectory
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared import context
from shared.dates import parse_date
from shared.permissions import Permission, Role, require

#: The loans of a collection sheet read at a time (their borrowers asked for while the next
#: batch is read). A sheet of 300 (bench/bench_collection_sheet.py, local FerretDB): 108 ms
#: in batches of 100, 131 ms in one; batches of 50 were no faster and cost more CPU.
SHEET_BATCH = 100


async def get_loan(uow: UnitOfWork, loan_id: str) -> dict[str, Any]:
    p = context.principal()
    require(p, Permission.LOANS_READ)
    return await uow.loan_doc(p, loan_id)


async def list_loans(
    repo: LoanRepository, borrower_id: str, status: str, size: int, token: str
) -> tuple[list[dict[str, Any]], str]:
    p = context.principal()
    require(p, Permission.LOANS_READ)
    query: dict[str, Any] = dict(p.scope_filter())
    if borrower_id:
        query["borrower_id"] = borrower_id
    if status:
        query["status"] = status
    return await repo.page_loans(query, size, token)


async def collection_sheet(
    repo: LoanRepository, users: UserDirectory, on: str, agent_id: str, branch_id: str
) -> CollectionSheet:
    """The installments due by `on` (today when empty) and unpaid, of the active loans
    in the caller's scope: an agent's own portfolio, else everyone's or `agent_id`'s,
    in one branch with `branch_id` (`collection_sheet`). One query for the loans, read
    `SHEET_BATCH` at a time: each batch's borrowers are asked of user_service (one
    BatchGetBorrowers) while the next batch is read, so the two reads overlap."""
    p = context.principal()
    require(p, Permission.REPAYMENTS_READ)
    day = parse_date(on, "date", required=False) or today()
    empty = CollectionSheet(day, "", [])
    scope = dict(p.scope_filter())
    if p.role == Role.AGENT:
        if agent_id and agent_id != p.user_id:
            return empty  # another agent's portfolio is outside an agent's own
        agent_id = p.user_id
    if branch_id:
        if scope.get("branch_id", branch_id) != branch_id:
            return empty  # another branch is outside a branch's staff scope
        scope["branch_id"] = branch_id
    loans: list[dict[str, Any]] = []
    asked: set[str] = set()
    lookups: list[asyncio.Task[dict[str, BorrowerContact]]] = []
    try:
        async for found in repo.due_loans(scope, day.isoformat(), SHEET_BATCH):
            batch = await _whole_if_needed(repo, found, day)
            loans.extend(batch)
            borrowers = sorted({d["borrower_id"] for d in batch} - asked)
            if borrowers:
                asked.update(borrowers)
                lookups.append(asyncio.create_task(users.contacts(borrowers)))
        replies = await asyncio.gather(*lookups)
    except BaseException:
        for lookup in lookups:  # a failed read or lookup: the others are not needed
            lookup.cancel()
        raise
    if not loans:
        return empty
    contacts = {k: v for reply in replies for k, v in reply.items()}
    return assemble_sheet(day, loans, contacts, agent_id)


async def _whole_if_needed(
    repo: LoanRepository, found: list[dict[str, Any]], day: date
) -> list[dict[str, Any]]:
    """`found` (loans of a sheet, their `SHEET_FIELDS` read), with the whole loan instead
    of those the sheet of `day` needs whole (`read_whole`; if still active)."""
    ids = [d["_id"] for d in found if read_whole(d, day)]
    if not ids:
        return found
    whole = {d["_id"]: d for d in await repo.get_loans(ids) if d["status"] == "active"}
    wanted = set(ids)
    return [whole.get(d["_id"], d) for d in found if d["_id"] in whole or d["_id"] not in wanted]
