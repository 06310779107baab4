"""Group loans through their use cases on the fakes: one application for a group, a loan per
member, approved and disbursed together, repayments split at the meeting, and joint
liability blocking a group in arrears."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from loan_service.service_layer.group_loans import (
    CreateGroupLoan,
    GroupLoans,
    MemberRequest,
    PlanGroupRepayment,
    RepaymentPart,
)
from shared.errors import Conflict, IllegalState, NotFound, ValidationError
from shared.permissions import Role
from tests.support.loan_fakes import BRANCH, INSTITUTION, FakeGroupLoanRepository, World, act_as

pytestmark = pytest.mark.unit

MEMBERS = ("bor_1", "bor_2", "bor_3")


async def _world(joint: bool = True, status: str = "active") -> tuple[World, GroupLoans]:
    world = World()
    for b in MEMBERS[1:]:
        world.users.add_borrower(b, INSTITUTION, BRANCH)
    world.users.add_borrower("bor_9", INSTITUTION, BRANCH)
    world.users.add_group("grp_1", MEMBERS, status)
    world.product_id = await world.product()
    world.repo.products[world.product_id]["group_lending"] = {
        "enabled": True,
        "min_members": 2,
        "max_members": 10,
        "joint_liability": joint,
    }
    return world, GroupLoans(FakeGroupLoanRepository(), world.uow, world.users)


def _apply(world: World, *principals: str, request_id: str = "") -> CreateGroupLoan:
    return CreateGroupLoan(
        group_id="grp_1",
        product_id=world.product_id,
        term=6,
        members=tuple(MemberRequest(b, p) for b, p in zip(MEMBERS, principals, strict=False)),
        disbursement_date="2024-01-15",
        request_id=request_id,
    )


async def test_one_application_makes_a_loan_per_member_tied_together() -> None:
    world, group_loans = await _world()
    act_as(Role.AGENT)
    view = await group_loans.create(_apply(world, "10000", "20000", "5000", request_id="r1"))
    assert view.doc["status"] == "submitted"
    assert [m["borrower_id"] for m in view.doc["members"]] == list(MEMBERS)
    loans = {d["borrower_id"]: d for d in view.loans}
    assert {b: D(loans[b]["principal"]) for b in MEMBERS} == {
        "bor_1": D(10000), "bor_2": D(20000), "bor_3": D(5000),
    }  # fmt: skip
    assert {d["group_loan_id"] for d in view.loans} == {view.doc["_id"]}
    again = await group_loans.create(_apply(world, "10000", "20000", "5000.00", request_id="r1"))
    assert again.doc["_id"] == view.doc["_id"]
    assert len(world.repo.loans) == 3  # the retry made nothing new
    with pytest.raises(Conflict) as reused:
        await group_loans.create(_apply(world, "10000", "20000", "6000", request_id="r1"))
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert len(world.repo.loans) == 3


async def test_the_application_names_every_bad_member_before_any_loan_is_made() -> None:
    world, group_loans = await _world()
    act_as(Role.AGENT)
    bad = CreateGroupLoan(
        group_id="grp_1",
        product_id=world.product_id,
        term=6,
        members=(MemberRequest("bor_1", "10000"), MemberRequest("bor_9", "10000")),
    )
    with pytest.raises(ValidationError) as exc:
        await group_loans.create(bad)
    assert [f for f, _ in exc.value.field_errors] == ["members[1].borrower_id"]
    with pytest.raises(ValidationError) as too_big:
        await group_loans.create(_apply(world, "10000", "900000"))
    assert [f for f, _ in too_big.value.field_errors] == ["members[1].principal"]
    with pytest.raises(ValidationError) as bad_amount:
        await group_loans.create(_apply(world, "10000", "12.345"))
    assert [f for f, _ in bad_amount.value.field_errors] == ["members[1].principal"]
    assert world.repo.loans == {}


async def test_only_an_active_group_under_a_group_product_borrows() -> None:
    world, group_loans = await _world(status="forming")
    act_as(Role.AGENT)
    with pytest.raises(IllegalState) as exc:
        await group_loans.create(_apply(world, "10000", "10000"))
    assert exc.value.reason == "GROUP_NOT_ACTIVE"
    world.users.add_group("grp_1", MEMBERS)
    world.repo.products[world.product_id]["group_lending"] = {}
    with pytest.raises(ValidationError) as product:
        await group_loans.create(_apply(world, "10000", "10000"))
    assert product.value.field_errors[0][0] == "product_id"
    act_as(Role.AGENT, institution="inst_other")
    with pytest.raises(NotFound):
        await group_loans.create(_apply(world, "10000", "10000"))


async def test_approved_and_disbursed_together() -> None:
    world, group_loans = await _world()
    act_as(Role.AGENT)
    view = await group_loans.create(_apply(world, "10000", "20000"))
    act_as(Role.BRANCH_MANAGER)
    approved = await group_loans.approve(view.doc["_id"], "group checked", "")
    assert approved.doc["status"] == "approved"
    assert {d["status"] for d in approved.loans} == {"approved"}
    active = await group_loans.disburse(view.doc["_id"], "2024-01-15", "", "cash", "d1")
    assert active.doc["status"] == "active"
    assert {d["status"] for d in active.loans} == {"active"}
    assert active.outstanding > D(30000)  # principal plus the interest scheduled
    again = await group_loans.disburse(view.doc["_id"], "2024-01-15", "", "cash", "d1")
    assert again.doc["version"] == active.doc["version"]  # nothing moved twice


async def test_a_repayment_at_the_meeting_is_split_pro_rata_to_what_is_due() -> None:
    world, group_loans = await _world()
    act_as(Role.AGENT)
    view = await group_loans.create(_apply(world, "10000", "30000"))
    act_as(Role.BRANCH_MANAGER)
    await group_loans.approve(view.doc["_id"], "", "")
    await group_loans.disburse(view.doc["_id"], "2024-01-15", "", "cash", "")
    act_as(Role.AGENT)
    plan, _ = await group_loans.plan_repayment(
        PlanGroupRepayment(view.doc["_id"], "k1", date(2024, 2, 15), amount="4000")
    )
    parts = {p["loan_id"]: D(p["amount"]) for p in plan["parts"]}
    assert sum(parts.values()) == D(4000)
    by_borrower = {m["borrower_id"]: parts[m["loan_id"]] for m in view.doc["members"]}
    # The 30,000 loan owes three times the 10,000 one's installment, to the cent or so.
    assert abs(by_borrower["bor_2"] - 3 * by_borrower["bor_1"]) <= D("0.03")
    same, _ = await group_loans.plan_repayment(
        PlanGroupRepayment(view.doc["_id"], "k1", date(2024, 2, 15), amount="4000")
    )
    assert same["parts"] == plan["parts"] and same["id"] == plan["id"]
    with pytest.raises(Conflict):
        await group_loans.plan_repayment(
            PlanGroupRepayment(view.doc["_id"], "k1", date(2024, 2, 15), amount="5000")
        )
    first = view.doc["members"][0]["loan_id"]
    entered, _ = await group_loans.plan_repayment(
        PlanGroupRepayment(
            view.doc["_id"], "k2", date(2024, 2, 15), parts=(RepaymentPart(first, "1500"),)
        )
    )
    assert entered["parts"] == [{"loan_id": first, "amount": "1500.00"}]
    with pytest.raises(ValidationError) as stranger:
        await group_loans.plan_repayment(
            PlanGroupRepayment(
                view.doc["_id"], "k3", date(2024, 2, 15), parts=(RepaymentPart("loan_x", "1"),)
            )
        )
    assert stranger.value.field_errors[0][0] == "parts[0].loan_id"


async def test_a_jointly_liable_group_in_arrears_borrows_no_more() -> None:
    world, group_loans = await _world(joint=True)
    act_as(Role.AGENT)
    view = await group_loans.create(_apply(world, "10000", "10000"))
    act_as(Role.BRANCH_MANAGER)
    await group_loans.approve(view.doc["_id"], "", "")
    await group_loans.disburse(view.doc["_id"], "2024-01-15", "", "cash", "")
    # Months later, nothing paid: the first installments are well past due.
    await world.repo.update_settings(INSTITUTION, {"business_date": "2024-05-01"})
    assert (await group_loans.get(view.doc["_id"])).days_past_due > 0
    act_as(Role.AGENT)
    with pytest.raises(IllegalState) as exc:
        await group_loans.create(_apply(world, "10000", "10000"))
    assert exc.value.reason == "GROUP_IN_ARREARS"


async def test_a_member_at_the_products_limit_of_open_loans_is_named() -> None:
    world, group_loans = await _world()
    world.repo.products[world.product_id]["max_open_loans"] = 1
    await world.application()  # bor_1 has one open loan already
    act_as(Role.AGENT)
    with pytest.raises(ValidationError) as exc:
        await group_loans.create(_apply(world, "10000", "10000"))
    assert exc.value.reason == "MAX_OPEN_LOANS"
    assert [f for f, _ in exc.value.field_errors] == ["members[0].borrower_id"]


async def test_parts_and_an_amount_must_add_up() -> None:
    world, group_loans = await _world()
    act_as(Role.AGENT)
    view = await group_loans.create(_apply(world, "10000", "30000"))
    act_as(Role.BRANCH_MANAGER)
    await group_loans.approve(view.doc["_id"], "", "")
    await group_loans.disburse(view.doc["_id"], "2024-01-15", "", "cash", "")
    first, second = (m["loan_id"] for m in view.doc["members"])
    act_as(Role.AGENT)
    with pytest.raises(ValidationError) as exc:
        await group_loans.plan_repayment(
            PlanGroupRepayment(
                view.doc["_id"],
                "k1",
                date(2024, 2, 15),
                amount="3000",
                parts=(RepaymentPart(first, "1000"), RepaymentPart(second, "1500")),
            )
        )
    assert exc.value.reason == "PARTS_DO_NOT_ADD_UP"
    assert exc.value.field_errors == [
        ("parts", "the parts add up to 2500.00, 500.00 less than the amount of 3000.00")
    ]
    plan, _ = await group_loans.plan_repayment(
        PlanGroupRepayment(
            view.doc["_id"],
            "k2",
            date(2024, 2, 15),
            amount="2500",
            parts=(RepaymentPart(first, "1000"), RepaymentPart(second, "1500")),
        )
    )
    assert [p["amount"] for p in plan["parts"]] == ["1000.00", "1500.00"]
