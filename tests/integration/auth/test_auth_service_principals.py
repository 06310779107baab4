"""A service token from the real auth_service, asked for and presented as notification_service
does (`shared.service_tokens.ServiceTokens`): it reads its institution and its borrowers from
user_service (v2) and its staff from auth_service, and runs its close of business on
loan_service, each verifying the token against auth_service's keys; nothing of another
institution."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from pymongo import AsyncMongoClient

from kopa.auth.v1 import auth_pb2
from kopa.loan.v2 import loans_pb2, loans_pb2_grpc
from kopa.user.v2 import user_pb2 as v2
from loan_service import bootstrap as loan_bootstrap
from shared.dates import to_proto_date
from shared.service_tokens import ServiceTokens
from tests.support.auth_fleet import (
    SERVICE_SECRET,
    Fleet,
    Institution,
    new_institution,
    start_service,
)
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def loans(fleet: Fleet) -> AsyncIterator[loans_pb2_grpc.LoanServiceStub]:
    """loan_service in the fleet's namespace, verifying tokens with auth_service's JWKS."""
    settings = loan_bootstrap.Settings(
        mongodb_url=fleet.urls["MONGODB_URL"],
        redis_url=fleet.urls["REDIS_URL"],
        amqp_url=fleet.urls["AMQP_URL"],
        kopa_namespace=fleet.ns,
        kopa_env="test",
        auth_service_addr=fleet.auth_addr,
        # The close of business calls no peer: a call to one would fail the test.
        user_service_addr="127.0.0.1:9",
        scoring_service_addr="127.0.0.1:9",
    )
    service = await start_service(settings, "loan", loan_bootstrap.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    try:
        yield loans_pb2_grpc.LoanServiceStub(channel)
    finally:
        await channel.close()
        await service.stop()
        async with AsyncMongoClient[Any](fleet.urls["MONGODB_URL"]) as mongo:
            await mongo.drop_database(settings.mongodb_database)


@pytest.fixture(scope="module")
async def other(fleet: Fleet) -> Institution:
    return await new_institution(fleet)


async def notification_token(fleet: Fleet, institution_id: str) -> list[tuple[str, str]]:
    tokens = ServiceTokens(fleet.auth, SERVICE_SECRET, service="notification_service")
    return list(md(await tokens.token(institution_id)))


async def borrower_of(fleet: Fleet, inst: Institution) -> v2.Borrower:
    reply = await fleet.users_v2.CreateBorrower(
        v2.CreateBorrowerRequest(
            borrower=v2.Borrower(
                first_name="Achieng",
                last_name="Otieno",
                national_id=f"K{secrets.randbelow(10**9):09d}",
                phone=f"+25471{secrets.randbelow(10**7):07d}",
                date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
                branch_id=inst.branch_id,
            )
        ),
        metadata=md(inst.admin_token),
    )
    return reply.borrower


async def test_it_reads_its_institution_and_its_borrowers_and_no_others(
    fleet: Fleet, inst: Institution, other: Institution
) -> None:
    mine, theirs = await borrower_of(fleet, inst), await borrower_of(fleet, other)
    service = await notification_token(fleet, inst.id)

    institution = await fleet.users_v2.GetInstitution(
        v2.GetInstitutionRequest(institution_id=inst.id), metadata=service
    )
    assert institution.institution.id == inst.id and institution.institution.name
    await rpc_error(
        fleet.users_v2.GetInstitution(
            v2.GetInstitutionRequest(institution_id=other.id), metadata=service
        ),
        Code.NOT_FOUND,
    )

    read = await fleet.users_v2.GetBorrower(
        v2.GetBorrowerRequest(borrower_id=mine.id), metadata=service
    )
    # With no branch of its own, it reads the borrower whatever their branch.
    assert read.borrower.id == mine.id and read.borrower.branch_id == inst.branch_id
    assert (read.borrower.phone, read.borrower.first_name) == (mine.phone, "Achieng")
    await rpc_error(
        fleet.users_v2.GetBorrower(v2.GetBorrowerRequest(borrower_id=theirs.id), metadata=service),
        Code.NOT_FOUND,
    )


async def test_it_lists_its_institutions_staff_and_no_others(
    fleet: Fleet, inst: Institution, other: Institution
) -> None:
    manager = await fleet.create_user(inst.admin_token, "branch_manager", branch_id=inst.branch_id)
    service = await notification_token(fleet, inst.id)

    listed = (
        await fleet.auth.ListUsers(auth_pb2.ListUsersRequest(page_size=100), metadata=service)
    ).users
    # Every branch's staff and the institution-wide roles, with what an alert needs of them.
    staff = {u.id: (u.email, u.role, u.branch_id) for u in listed}
    assert staff[manager.id] == (manager.email, "branch_manager", inst.branch_id)
    assert staff[inst.admin.id] == (inst.admin.email, "admin", "")
    assert {u.institution_id for u in listed} == {inst.id}
    assert other.admin.id not in staff


async def test_it_runs_its_institutions_close_of_business_and_no_others(
    fleet: Fleet,
    inst: Institution,
    other: Institution,
    loans: loans_pb2_grpc.LoanServiceStub,
) -> None:
    today = to_proto_date(datetime.now(UTC).date())
    service = await notification_token(fleet, inst.id)

    job = (
        await loans.RunCloseOfBusiness(
            loans_pb2.RunCloseOfBusinessRequest(as_of=today, wait=True), metadata=service
        )
    ).job
    assert job.id == f"cob_{inst.id}_{datetime.now(UTC).date().isoformat()}"
    assert job.state == loans_pb2.JOB_STATE_COMPLETED
    # The institution is the token's: the other institution's date has not run.
    await rpc_error(
        loans.GetCloseOfBusinessJob(
            loans_pb2.GetCloseOfBusinessJobRequest(as_of=today), metadata=md(other.admin_token)
        ),
        Code.NOT_FOUND,
    )
