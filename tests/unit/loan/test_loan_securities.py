"""Guarantors and collateral through their use cases on the fakes: the product's coverage
rule at approval, a guarantor's borrowing capacity, and changes only before disbursement."""

from __future__ import annotations

import pytest

from loan_service.domain.errors import EligibilityFailed
from loan_service.service_layer import applications, disbursement, securities
from loan_service.service_layer.commands import ApproveLoan, CreateLoan, DisburseLoan
from loan_service.service_layer.securities import AddCollateral, AddGuarantor
from shared.errors import IllegalState, ValidationError
from shared.permissions import Role
from tests.support.loan_fakes import BRANCH, INSTITUTION, World, act_as

pytestmark = pytest.mark.unit


async def _world(coverage: str = "1.2") -> tuple[World, str]:
    world = World()
    world.users.add_borrower("bor_2", INSTITUTION, BRANCH)
    world.product_id = await world.product()
    world.repo.products[world.product_id]["min_security_coverage"] = coverage
    loan_id = str((await world.application())["_id"])  # 100,000 KES for bor_1
    return world, loan_id


async def test_approval_waits_for_enough_security_and_says_what_is_missing() -> None:
    world, loan_id = await _world("1.2")
    act_as(Role.AGENT)
    await securities.add_guarantor(
        world.uow, world.users, AddGuarantor(loan_id, "60000", borrower_id="bor_2")
    )
    await securities.add_collateral(
        world.uow, AddCollateral(loan_id, "vehicle", "Boda boda KMDA 123X", "50000")
    )
    act_as(Role.BRANCH_MANAGER)
    with pytest.raises(IllegalState) as exc:
        await applications.approve(world.uow, ApproveLoan(loan_id))
    assert exc.value.reason == "SECURITY_INSUFFICIENT"
    assert exc.value.metadata == {
        "required": "120000.00",
        "guaranteed": "60000.00",
        "collateral": "50000.00",
        "missing": "10000.00",
    }
    act_as(Role.AGENT)
    await securities.add_guarantor(
        world.uow,
        world.users,
        AddGuarantor(
            loan_id, "10000", full_name="Juma Otieno", national_id="A1234567", phone="+254712345678"
        ),
    )
    act_as(Role.BRANCH_MANAGER)
    approved = await applications.approve(world.uow, ApproveLoan(loan_id))
    assert approved["status"] == "approved"


async def test_a_guarantor_is_someone_else_and_only_once() -> None:
    world, loan_id = await _world()
    act_as(Role.AGENT)
    for borrower, field in (("bor_1", "borrower_id"), ("bor_404", "borrower_id")):
        with pytest.raises(ValidationError) as exc:
            await securities.add_guarantor(
                world.uow, world.users, AddGuarantor(loan_id, "1000", borrower_id=borrower)
            )
        assert exc.value.field_errors[0][0] == field
    await securities.add_guarantor(
        world.uow, world.users, AddGuarantor(loan_id, "1000", borrower_id="bor_2")
    )
    with pytest.raises(ValidationError):
        await securities.add_guarantor(
            world.uow, world.users, AddGuarantor(loan_id, "1000", borrower_id="bor_2")
        )
    with pytest.raises(ValidationError) as amount:
        await securities.add_guarantor(
            world.uow, world.users, AddGuarantor(loan_id, "10.001", borrower_id="bor_2")
        )
    assert amount.value.field_errors[0][0] == "amount"
    with pytest.raises(ValidationError) as currency:
        await securities.add_collateral(
            world.uow, AddCollateral(loan_id, "land", "Plot 7", "1000", currency="UGX")
        )
    assert currency.value.field_errors[0][0] == "currency"


async def test_guarantees_given_count_against_the_guarantors_own_borrowing() -> None:
    world, loan_id = await _world("0")
    act_as(Role.AGENT)
    # bor_2 guarantees 450,000 of bor_1's loan; the product lends at most 500,000.
    await securities.add_guarantor(
        world.uow, world.users, AddGuarantor(loan_id, "450000", borrower_id="bor_2")
    )
    own = await applications.create_loan(
        world.uow,
        world.users,
        CreateLoan(borrower_id="bor_2", product_id=world.product_id, principal="100000", term=12),
    )
    act_as(Role.BRANCH_MANAGER)
    with pytest.raises(EligibilityFailed) as exc:
        await applications.approve(world.uow, ApproveLoan(own["_id"]))
    assert [f for f, _ in exc.value.field_errors] == ["borrowing_capacity"]
    overridden = await applications.approve(
        world.uow, ApproveLoan(own["_id"], override_reason="guaranteed loan nearly repaid")
    )
    assert overridden["status"] == "approved"


async def test_securities_change_only_before_disbursement() -> None:
    world, loan_id = await _world("0")
    act_as(Role.AGENT)
    item = await securities.add_collateral(
        world.uow, AddCollateral(loan_id, "livestock", "Two dairy cows", "80000")
    )
    await securities.remove(world.uow, loan_id, "collateral", item["id"])
    _, _, collateral = await securities.securities(world.uow, loan_id)
    assert collateral == []
    act_as(Role.BRANCH_MANAGER)
    await applications.approve(world.uow, ApproveLoan(loan_id))
    await disbursement.disburse(world.uow, world.users, DisburseLoan(loan_id, "2024-01-15"))
    act_as(Role.AGENT)
    with pytest.raises(IllegalState) as exc:
        await securities.add_collateral(world.uow, AddCollateral(loan_id, "land", "Plot 7", "1000"))
    assert exc.value.reason == "LOAN_NOT_OPEN_FOR_SECURITIES"


async def test_a_product_requiring_kyc_disburses_only_to_verified_borrowers() -> None:
    world, loan_id = await _world("0")
    world.repo.loans[loan_id]["requires_kyc_verified"] = True
    act_as(Role.BRANCH_MANAGER)
    await applications.approve(world.uow, ApproveLoan(loan_id))
    with pytest.raises(IllegalState) as exc:
        await disbursement.disburse(world.uow, world.users, DisburseLoan(loan_id, "2024-01-15"))
    assert exc.value.reason == "KYC_NOT_VERIFIED"
    assert exc.value.metadata["kyc_status"] == "unverified"
    assert world.repo.loans[loan_id]["status"] == "approved"  # nothing written
    world.users.add_borrower("bor_1", INSTITUTION, BRANCH, kyc_status="verified")
    active = await disbursement.disburse(
        world.uow, world.users, DisburseLoan(loan_id, "2024-01-15")
    )
    assert active["status"] == "active"


async def test_an_application_keeps_the_products_rules_as_they_were() -> None:
    world = World()
    world.product_id = await world.product()
    world.repo.products[world.product_id].update(
        min_security_coverage="1.5", requires_kyc_verified=True
    )
    loan = await world.application()
    assert (loan["min_security_coverage"], loan["requires_kyc_verified"]) == ("1.5", True)
