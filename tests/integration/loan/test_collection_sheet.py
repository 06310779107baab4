"""GetCollectionSheet against real servers, over real gRPC: the loan_service world of
tests.support.loan_world (its own `bootstrap.setup` on a connected `Runtime`, a namespace of
its own), whose FAKE user_service answers BatchGetBorrowers as user_service does (the caller's
scope, the borrowers' groups)."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import date
from decimal import Decimal

import pytest

from kopa.loan.v1 import loan_pb2
from kopa.user.v1 import user_pb2
from loan_service.adapters.repository import LOAN_TOP_FIELDS, MIGRATIONS, PACKED_LOANS, Repository
from shared.ids import new_id
from shared.mongo import PackedDocuments
from shared.permissions import Role
from tests.support.loan_world import Institution, World, create_product, institution
from tests.support.rpc import Code, fails

pytestmark = pytest.mark.integration

Metadata = list[tuple[str, str]]
DISBURSED = "2025-01-15"  # monthly installments fall due on the 15th from February


def borrower(
    inst: Institution,
    name: str,
    *,
    branch: str = "",
    agent: str = "",
    group: str = "",
    borrower_id: str = "",
) -> str:
    """Registers (or, given `borrower_id`, changes) a borrower of the fake user_service."""
    users = inst.world.users
    b = users.borrowers.get(borrower_id) or user_pb2.Borrower(
        id=new_id("bor"), institution_id=inst.id, branch_id=branch or inst.branch
    )
    first, last = name.split(" ", 1)
    b.first_name, b.last_name = first, last
    b.phone = f"+2547{secrets.randbelow(10**8):08d}"
    b.agent_id, b.group_id = agent, ""
    if group:
        found = next((g for g in users.groups.values() if g.name == group), None)
        if found is None:
            found = user_pb2.Group(id=new_id("grp"), institution_id=inst.id, name=group)
            users.groups[found.id] = found
        b.group_id = found.id
    users.borrowers[b.id] = b
    return b.id


async def active_loan(
    inst: Institution,
    product_id: str,
    borrower_id: str,
    *,
    maker: Metadata,
    checker: Metadata,
    principal: str = "12000.00",
) -> loan_pb2.Loan:
    w = inst.world.loans
    loan = (
        await w.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=borrower_id, product_id=product_id, principal=principal, term=6
            ),
            metadata=maker,
        )
    ).loan
    await w.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=checker)
    reply = await w.DisburseLoan(
        loan_pb2.DisburseLoanRequest(loan_id=loan.id, disbursement_date=DISBURSED),
        metadata=checker,
    )
    return reply.loan


async def sheet(
    inst: Institution, who: Metadata, on: str, **filters: str
) -> loan_pb2.GetCollectionSheetResponse:
    return await inst.world.loans.GetCollectionSheet(
        loan_pb2.GetCollectionSheetRequest(date=on, **filters), metadata=who
    )


def lines(reply: loan_pb2.GetCollectionSheetResponse) -> list[tuple[str, int]]:
    return [(i.borrower_name, i.installment_number) for i in reply.items]


async def test_each_unpaid_installment_due_by_the_date_with_what_is_left_and_the_arrears(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    bor = borrower(inst, "Achieng Odhiambo", agent=agent_id(inst), group="Tumaini")
    loan = await active_loan(inst, product.id, bor, maker=inst.agent, checker=inst.manager)
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id=new_id("pay"), amount="1000.00", paid_on="2025-02-20"
        ),
        metadata=inst.agent,
    )
    schedule = (
        await world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)
    ).loan.schedule
    left = [Decimal(i.total) - Decimal(i.total_paid) for i in schedule]
    assert Decimal(schedule[0].total_paid) == Decimal("1000.00")

    reply = await sheet(inst, inst.agent, "2025-04-15")
    assert reply.date == "2025-04-15" and reply.currency == "KES"
    b = world.users.borrowers[bor]
    expected = [
        loan_pb2.CollectionSheetItem(
            loan_id=loan.id,
            borrower_id=bor,
            borrower_name="Achieng Odhiambo",
            group_id=b.group_id,
            group_name="Tumaini",
            phone=b.phone,
            installment_number=n,
            due_date=f"2025-0{n + 1}-15",
            amount_due=str(left[n - 1]),
            # Due before the sheet's date: the first two (the third falls due on it).
            arrears=str(left[0] + left[1]),
            days_past_due=(date(2025, 4, 15) - date(2025, 2, 15)).days,
        )
        for n in (1, 2, 3)
    ]
    assert list(reply.items) == expected

    # Nothing is due before the first due date; on it, nothing is late yet.
    assert list((await sheet(inst, inst.agent, "2025-02-14")).items) == []
    first_day = await sheet(inst, inst.agent, "2025-02-15")
    assert [(i.installment_number, i.arrears, i.days_past_due) for i in first_day.items] == [
        (1, "0.00", 0)
    ]

    # An installment paid in full leaves the sheet.
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id=new_id("pay"), amount=str(left[0]), paid_on="2025-03-01"
        ),
        metadata=inst.agent,
    )
    after = await sheet(inst, inst.agent, "2025-04-15")
    assert [i.installment_number for i in after.items] == [2, 3]
    assert after.items[0].arrears == str(left[1])
    assert after.items[0].days_past_due == (date(2025, 4, 15) - date(2025, 3, 15)).days

    err = await fails(sheet(inst, inst.agent, "15/04/2025"))
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["date"]


def agent_id(inst: Institution, name: str = "") -> str:
    return f"usr_{name or 'agent'}_{inst.id[-6:]}"


async def test_an_agent_sees_their_portfolio_and_managers_every_agents(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    me, colleague = agent_id(inst), agent_id(inst, "colleague")
    as_colleague = world.who(Role.AGENT, inst.id, inst.branch, user=colleague)
    in_my_care = borrower(inst, "Wanjiru Kamau", agent=me, group="Zawadi")
    unassigned_mine = borrower(inst, "Baraka Mwangi", group="Amani")
    in_their_care = borrower(inst, "Amina Otieno", agent=colleague, group="Zawadi")
    unassigned_theirs = borrower(inst, "Juma Hassan")
    elsewhere = borrower(
        inst, "Neema Mushi", borrower_id=inst.other_borrower, agent=agent_id(inst, "far")
    )
    far_agent = world.who(Role.AGENT, inst.id, inst.other_branch, user=agent_id(inst, "far"))
    far_manager = world.who(Role.BRANCH_MANAGER, inst.id, inst.other_branch)
    for bor, maker in [
        (in_my_care, inst.agent),
        (unassigned_mine, inst.agent),
        # Submitted by me, but the borrower is in my colleague's care: theirs.
        (in_their_care, inst.agent),
        (unassigned_theirs, as_colleague),
    ]:
        await active_loan(inst, product.id, bor, maker=maker, checker=inst.manager)
    await active_loan(inst, product.id, elsewhere, maker=far_agent, checker=far_manager)

    def people(reply: loan_pb2.GetCollectionSheetResponse) -> list[str]:
        return list(dict.fromkeys(i.borrower_name for i in reply.items))

    on = "2025-03-15"
    # By group name (individuals last), then by borrower name; each loan's two installments
    # by due date.
    everyone = await sheet(inst, inst.manager, on)
    assert people(everyone) == ["Baraka Mwangi", "Amina Otieno", "Wanjiru Kamau", "Juma Hassan"]
    assert lines(everyone)[:2] == [("Baraka Mwangi", 1), ("Baraka Mwangi", 2)]
    assert [i.group_name for i in everyone.items] == ["Amani"] * 2 + ["Zawadi"] * 4 + [""] * 2

    assert people(await sheet(inst, inst.agent, on)) == ["Baraka Mwangi", "Wanjiru Kamau"]
    assert people(await sheet(inst, as_colleague, on)) == ["Amina Otieno", "Juma Hassan"]
    assert people(await sheet(inst, inst.manager, on, agent_id=colleague)) == [
        "Amina Otieno",
        "Juma Hassan",
    ]
    # Outside the caller's scope, a filter gives nothing (another agent's portfolio for an
    # agent, another branch for branch staff).
    assert people(await sheet(inst, inst.agent, on, agent_id=colleague)) == []
    assert people(await sheet(inst, inst.manager, on, branch_id=inst.other_branch)) == []
    assert len(people(await sheet(inst, inst.admin, on))) == 5
    assert people(await sheet(inst, inst.admin, on, branch_id=inst.other_branch)) == ["Neema Mushi"]
    assert people(await sheet(inst, far_agent, on)) == ["Neema Mushi"]
    stranger = institution(world)
    assert people(await sheet(stranger, stranger.admin, on)) == []

    # A borrower handed over to a colleague moves to their sheet.
    borrower(inst, "Wanjiru Kamau", borrower_id=in_my_care, agent=colleague, group="Zawadi")
    assert people(await sheet(inst, inst.agent, on)) == ["Baraka Mwangi"]


async def test_three_hundred_installments_come_back_well_under_a_second(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    me = agent_id(inst)
    borrowers = [borrower(inst, f"Borrower {n:03d}", agent=me) for n in range(100)]
    for start in range(0, len(borrowers), 10):
        await asyncio.gather(
            *(
                active_loan(inst, product.id, b, maker=inst.agent, checker=inst.manager)
                for b in borrowers[start : start + 10]
            )
        )
    await sheet(inst, inst.agent, "2025-04-15")  # connections and caches warm
    started = time.perf_counter()
    reply = await sheet(inst, inst.agent, "2025-04-15")
    elapsed = time.perf_counter() - started
    assert len(reply.items) == 300
    assert elapsed < 0.5, f"{elapsed:.3f} s for 300 installments"


async def test_loans_stored_before_the_field_was_top_level_are_found_after_the_backfill(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    bor = borrower(inst, "Halima Said", agent=agent_id(inst))
    loan = await active_loan(inst, product.id, bor, maker=inst.agent, checker=inst.manager)
    repo = Repository(world.db)
    stored = await repo.get_loan(loan.id)
    assert stored is not None and stored["oldest_unpaid_due_date"] == "2025-02-15"
    before = PackedDocuments(LOAN_TOP_FIELDS - {"oldest_unpaid_due_date"})
    await world.db.loans.replace_one({"_id": loan.id}, before.pack(stored))
    assert list((await sheet(inst, inst.agent, "2025-02-15")).items) == []

    await world.db[MIGRATIONS].delete_many({})
    assert await repo.backfill_top_field("oldest_unpaid_due_date") == 1
    assert lines(await sheet(inst, inst.agent, "2025-02-15")) == [("Halima Said", 1)]
    assert await repo.get_loan(loan.id) == stored
    assert await repo.backfill_top_field("oldest_unpaid_due_date") == 0  # once per database


async def test_a_sheet_past_the_stored_unpaid_installments_reads_the_loans_whole(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    bor = borrower(inst, "Rehema Njeri", agent=agent_id(inst))
    loan = await active_loan(inst, product.id, bor, maker=inst.agent, checker=inst.manager)
    stored = await world.db.loans.find_one({"_id": loan.id})
    assert stored is not None
    # Stated as of its disbursement: the next UNPAID_AHEAD (4) installments are listed.
    assert stored["unpaid_installments"].count("\n") == 3
    assert stored["unpaid_complete_before"] == "2025-06-15"
    schedule = (
        await world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)
    ).loan.schedule
    reply = await sheet(inst, inst.agent, "2025-08-01")
    assert [(i.installment_number, i.amount_due) for i in reply.items] == [
        (n, s.total) for n, s in enumerate(schedule, start=1)
    ]
    assert reply.items[0].arrears == str(sum(Decimal(s.total) for s in schedule))


async def test_loans_stored_before_the_sheet_fields_give_the_same_sheet(world: World) -> None:
    """A loan written before ``unpaid_installments`` (and ``created_by``, ``currency`` as
    top-level fields) is read whole for the sheet, with the same lines; the backfill moves
    ``created_by`` and ``currency`` to the top and the next write stores the rest."""
    inst = institution(world)
    product = await create_product(inst)
    me = agent_id(inst)
    fresh = borrower(inst, "Zuberi Juma", agent=me)
    legacy = borrower(inst, "Amani Kiprop", agent=me)
    unassigned = borrower(inst, "Imani Wekesa")  # in no one's care: the maker's (created_by)
    for b in (fresh, legacy, unassigned):
        await active_loan(inst, product.id, b, maker=inst.agent, checker=inst.manager)
    expected = await sheet(inst, inst.agent, "2025-04-15")
    assert len(expected.items) == 9

    repo = Repository(world.db)
    unpaid = {"unpaid_installments", "unpaid_complete_before", "unpaid_version"}
    old = PackedDocuments(LOAN_TOP_FIELDS - unpaid - {"created_by", "currency"})
    for b in (legacy, unassigned):
        (stored,) = [d async for d in world.db.loans.find({"borrower_id": b})]
        whole = PACKED_LOANS.unpack(stored)
        assert whole["unpaid_installments"].startswith("1|2025-02-15|")
        assert whole["unpaid_version"] == whole["version"]
        whole = {k: v for k, v in whole.items() if k not in unpaid}
        await world.db.loans.replace_one({"_id": whole["_id"]}, old.pack(whole))
    assert await sheet(inst, inst.agent, "2025-04-15") == expected

    await world.db[MIGRATIONS].delete_many(
        {"_id": {"$in": ["top_field:created_by", "top_field:currency"]}}
    )
    assert await repo.backfill_top_field("created_by") >= 2
    assert await repo.backfill_top_field("currency") >= 2
    assert await sheet(inst, inst.agent, "2025-04-15") == expected  # still no unpaid_installments

    loan_id = next(i.loan_id for i in expected.items if i.borrower_id == legacy)
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan_id, payment_id=new_id("pay"), amount="10.00", paid_on="2025-02-20"
        ),
        metadata=inst.agent,
    )
    written = await world.db.loans.find_one({"_id": loan_id})
    assert written is not None and written["unpaid_installments"].startswith("1|2025-02-15|")
    assert written["unpaid_version"] == written["version"]
    after = await sheet(inst, inst.agent, "2025-04-15")
    paid = [i for i in after.items if i.loan_id == loan_id and i.installment_number == 1]
    before = [i for i in expected.items if i.loan_id == loan_id and i.installment_number == 1]
    assert Decimal(before[0].amount_due) - Decimal(paid[0].amount_due) == Decimal("10.00")

    # A writer that does not set them (a release before them, during a rolling deploy)
    # leaves the fields of the version before its write: the sheet reads that loan whole.
    fresh_id = next(i.loan_id for i in expected.items if i.borrower_id == fresh)
    stale = await world.db.loans.find_one({"_id": fresh_id})
    assert stale is not None
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=fresh_id, payment_id=new_id("pay"), amount="10.00", paid_on="2025-02-20"
        ),
        metadata=inst.agent,
    )
    await world.db.loans.update_one(
        {"_id": fresh_id},
        {"$set": {f: stale[f] for f in ("unpaid_installments", "unpaid_version")}},
    )
    now = (await sheet(inst, inst.agent, "2025-04-15")).items
    was = next(i for i in expected.items if i.loan_id == fresh_id and i.installment_number == 1)
    first = next(i for i in now if i.loan_id == fresh_id and i.installment_number == 1)
    assert Decimal(was.amount_due) - Decimal(first.amount_due) == Decimal("10.00")
