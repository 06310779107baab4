"""The API's JSON is the same whichever version of kopa.user.*.UserService the gateway reads:
the gateway's response models fed v1's text and v2's Date, Money and Gender give the same
JSON for borrowers the real user_service registered, edited, moved and read (one at a time,
by page and in a batch), institutions and branches; and v2 refuses a malformed Date, Money or
Gender naming each field, as v1 refuses the same values in text."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2, money_pb2

from gateway.borrowers.router import borrower
from gateway.branches.schemas import Branch
from gateway.convert import from_proto
from gateway.institutions.schemas import Institution as InstitutionModel
from kopa.user.v1 import user_pb2 as v1
from kopa.user.v2 import user_pb2 as v2
from tests.support.auth_fleet import Fleet, Institution, new_institution, running_fleet
from tests.support.rpc import md, rpc_error

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def fleet(server_urls: dict[str, str]) -> AsyncIterator[Fleet]:
    async with running_fleet(server_urls) as started:
        yield started


@pytest.fixture(scope="module")
async def inst(fleet: Fleet) -> Institution:
    return await new_institution(fleet)


def shown(model: Any) -> Any:
    return model.model_dump(mode="json")


def identity() -> dict[str, str]:
    return {
        "national_id": f"K{secrets.randbelow(10**9):09d}",
        "phone": f"+25471{secrets.randbelow(10**7):07d}",
    }


async def both(fleet: Fleet, inst: Institution, borrower_id: str) -> dict[str, Any]:
    """The borrower's JSON from v1 and v2, which must agree."""
    who = md(inst.admin_token)
    old = await fleet.users.GetBorrower(
        v1.GetBorrowerRequest(borrower_id=borrower_id), metadata=who
    )
    new = await fleet.users_v2.GetBorrower(
        v2.GetBorrowerRequest(borrower_id=borrower_id), metadata=who
    )
    assert shown(borrower(new.borrower)) == shown(borrower(old.borrower))
    json_of: dict[str, Any] = shown(borrower(new.borrower))
    return json_of


async def test_borrowers_show_the_same_json_from_v1_and_v2(fleet: Fleet, inst: Institution) -> None:
    who = md(inst.admin_token)
    typed = (
        await fleet.users_v2.CreateBorrower(
            v2.CreateBorrowerRequest(
                borrower=v2.Borrower(
                    first_name="Achieng",
                    last_name="Otieno",
                    **identity(),
                    date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
                    gender=v2.GENDER_FEMALE,
                    monthly_income=money_pb2.Money(
                        currency_code="KES", units=25000, nanos=5 * 10**8
                    ),
                    household_size=4,
                    business_type="retail",
                    address=v1.Address(line1="Stall 14", city="Nairobi", country="KE"),
                    branch_id=inst.branch_id,
                )
            ),
            metadata=who,
        )
    ).borrower
    assert typed.monthly_income == money_pb2.Money(
        currency_code="KES", units=25000, nanos=5 * 10**8
    )
    first = await both(fleet, inst, typed.id)
    assert (first["date_of_birth"], first["gender"], first["monthly_income"]) == (
        "1988-04-30",
        "female",
        "25000.50",
    )
    assert (first["household_size"], first["address"]["city"]) == (4, "Nairobi")

    # v1's text, with fewer decimals than the currency has, is stored and shown with its
    # decimals: both versions say "18000.00"; an unset gender and income are null in both.
    plain = (
        await fleet.users.CreateBorrower(
            v1.CreateBorrowerRequest(
                borrower=v1.Borrower(
                    first_name="Wanjiru",
                    last_name="Kamau",
                    **identity(),
                    date_of_birth="1975-12-01",
                    monthly_income="18000",
                    branch_id=inst.branch_id,
                )
            ),
            metadata=who,
        )
    ).borrower
    assert plain.monthly_income == "18000.00"
    second = await both(fleet, inst, plain.id)
    assert (second["monthly_income"], second["gender"], second["household_size"]) == (
        "18000.00",
        None,
        None,
    )
    bare = (
        await fleet.users_v2.CreateBorrower(
            v2.CreateBorrowerRequest(
                borrower=v2.Borrower(
                    first_name="Kip",
                    last_name="Rono",
                    **identity(),
                    date_of_birth=date_pb2.Date(year=1990, month=1, day=2),
                    branch_id=inst.branch_id,
                )
            ),
            metadata=who,
        )
    ).borrower
    assert (await both(fleet, inst, bare.id))["monthly_income"] is None

    # A typed edit of the fields a mask names (gender named but unset: not changed, as v1's
    # null), then a consent and a transfer: each answer the same in both versions.
    edited = (
        await fleet.users_v2.UpdateBorrower(
            v2.UpdateBorrowerRequest(
                borrower_id=typed.id,
                borrower=v2.Borrower(
                    monthly_income=money_pb2.Money(units=31000),
                    date_of_birth=date_pb2.Date(year=1988, month=5, day=1),
                    first_name="Ignored",
                ),
                update_mask=FieldMask(paths=["monthly_income", "date_of_birth", "gender"]),
                expected_version=typed.version,
            ),
            metadata=who,
        )
    ).borrower
    assert (edited.version, edited.first_name) == (typed.version + 1, "Achieng")
    after = await both(fleet, inst, typed.id)
    assert (after["monthly_income"], after["date_of_birth"], after["gender"]) == (
        "31000.00",
        "1988-05-01",
        "female",
    )
    versions = (
        await fleet.users_v2.ListBorrowerVersions(
            v2.ListBorrowerVersionsRequest(borrower_id=typed.id), metadata=who
        )
    ).versions
    assert json.loads(versions[-1].changes_json) == {
        "date_of_birth": ["1988-04-30", "1988-05-01"],
        "monthly_income": ["25000.50", "31000.00"],
    }
    consented = await fleet.users_v2.RecordConsent(
        v2.RecordConsentRequest(borrower_id=typed.id, kind="credit_check", text_version="2026-01"),
        metadata=who,
    )
    moved = await fleet.users_v2.TransferBorrower(
        v2.TransferBorrowerRequest(borrower_id=typed.id, agent_id="usr_x", reason="rota"),
        metadata=who,
    )
    assert [c.kind for c in consented.borrower.consents] == ["credit_check"]
    assert shown(borrower(moved.borrower)) == await both(fleet, inst, typed.id)

    ids = [typed.id, plain.id, bare.id]
    old_batch = await fleet.users.BatchGetBorrowers(
        v1.BatchGetBorrowersRequest(borrower_ids=ids), metadata=who
    )
    new_batch = await fleet.users_v2.BatchGetBorrowers(
        v2.BatchGetBorrowersRequest(borrower_ids=ids), metadata=who
    )
    assert [shown(borrower(b)) for b in new_batch.borrowers] == [
        shown(borrower(b)) for b in old_batch.borrowers
    ]
    assert len(new_batch.borrowers) == 3
    old_page = await fleet.users.ListBorrowers(v1.ListBorrowersRequest(page_size=10), metadata=who)
    new_page = await fleet.users_v2.ListBorrowers(
        v2.ListBorrowersRequest(page_size=10), metadata=who
    )
    assert [shown(borrower(b)) for b in new_page.borrowers] == [
        shown(borrower(b)) for b in old_page.borrowers
    ]
    assert {b.id for b in new_page.borrowers} == set(ids)


async def test_institutions_and_branches_are_the_same_from_v1_and_v2(
    fleet: Fleet, inst: Institution
) -> None:
    who = md(inst.admin_token)
    old = await fleet.users.GetInstitution(
        v1.GetInstitutionRequest(institution_id=inst.id), metadata=who
    )
    new = await fleet.users_v2.GetInstitution(
        v2.GetInstitutionRequest(institution_id=inst.id), metadata=who
    )
    assert shown(from_proto(InstitutionModel, new.institution)) == shown(
        from_proto(InstitutionModel, old.institution)
    )
    made = await fleet.users_v2.CreateBranch(v2.CreateBranchRequest(name="Market"), metadata=who)
    old_branch = await fleet.users.GetBranch(
        v1.GetBranchRequest(branch_id=made.branch.id), metadata=who
    )
    assert shown(from_proto(Branch, made.branch)) == shown(from_proto(Branch, old_branch.branch))
    branches = await fleet.users_v2.ListBranches(v2.ListBranchesRequest(), metadata=who)
    assert {b.id for b in branches.branches} == {inst.branch_id, made.branch.id}


async def test_v2_names_each_bad_typed_field(fleet: Fleet, inst: Institution) -> None:
    who = md(inst.admin_token)
    bad = v2.Borrower(
        first_name="Achieng",
        last_name="Otieno",
        **identity(),
        date_of_birth=date_pb2.Date(year=1988, month=13, day=1),
        gender=9,  # type: ignore[arg-type]
        monthly_income=money_pb2.Money(units=5, nanos=-1),
        branch_id=inst.branch_id,
    )
    refused = await rpc_error(
        fleet.users_v2.CreateBorrower(v2.CreateBorrowerRequest(borrower=bad), metadata=who),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert sorted(f for f, _ in refused.field_errors) == [
        "date_of_birth",
        "gender",
        "monthly_income",
    ]

    # An income in another currency, or with more decimals than the institution's has, is
    # refused naming it (v1's text with too many decimals too), the other fields judged with it.
    for income in (
        money_pb2.Money(currency_code="UGX", units=25000),
        money_pb2.Money(currency_code="KES", units=25000, nanos=125 * 10**6),
    ):
        refused = await rpc_error(
            fleet.users_v2.CreateBorrower(
                v2.CreateBorrowerRequest(
                    borrower=v2.Borrower(
                        first_name="Achieng",
                        last_name="Otieno",
                        **identity(),
                        date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
                        monthly_income=income,
                        branch_id=inst.branch_id,
                    )
                ),
                metadata=who,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert [f for f, _ in refused.field_errors] == ["monthly_income"], refused
    refused = await rpc_error(
        fleet.users.CreateBorrower(
            v1.CreateBorrowerRequest(
                borrower=v1.Borrower(
                    first_name="Achieng",
                    last_name="Otieno",
                    **identity(),
                    date_of_birth="1988-04-30",
                    monthly_income="25000.125",
                    branch_id=inst.branch_id,
                )
            ),
            metadata=who,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [f for f, _ in refused.field_errors] == ["monthly_income"]

    # A mask naming what no edit changes is refused naming each such path; nothing changes.
    made = (
        await fleet.users_v2.CreateBorrower(
            v2.CreateBorrowerRequest(
                borrower=v2.Borrower(
                    first_name="Achieng",
                    last_name="Otieno",
                    **identity(),
                    date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
                    branch_id=inst.branch_id,
                )
            ),
            metadata=who,
        )
    ).borrower
    refused = await rpc_error(
        fleet.users_v2.UpdateBorrower(
            v2.UpdateBorrowerRequest(
                borrower_id=made.id,
                borrower=v2.Borrower(branch_id="br_other", first_name="Akinyi"),
                update_mask=FieldMask(paths=["branch_id", "first_name", "kyc_status"]),
            ),
            metadata=who,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert sorted(f for f, _ in refused.field_errors) == ["branch_id", "kyc_status"]
    assert (await both(fleet, inst, made.id))["first_name"] == "Achieng"
