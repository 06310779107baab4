"""Wires loan_service: repository, peers, the unit of work the use cases write through, the
reading settings, close of business, outbox relay, servicers (kopa.loan.v1.LoanService, deprecated;
kopa.loan.v2's LoanService, RepaymentService, GroupLoanService and LoanSecurityService)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from kopa.loan.v2 import (
    group_loans_pb2,
    group_loans_pb2_grpc,
    loans_pb2,
    loans_pb2_grpc,
    repayments_pb2,
    repayments_pb2_grpc,
    securities_pb2,
    securities_pb2_grpc,
)
from loan_service.adapters.group_loans import MongoGroupLoanRepository
from loan_service.adapters.peers import GrpcScorer, GrpcUserDirectory
from loan_service.adapters.repository import COB_JOBS, LOANS, Repository
from loan_service.entrypoints.grpc_group_loans import GroupLoanServicer
from loan_service.entrypoints.grpc_loans import LoanServicer as LoansV2Servicer
from loan_service.entrypoints.grpc_repayments import RepaymentServicer
from loan_service.entrypoints.grpc_securities import LoanSecurityServicer
from loan_service.entrypoints.grpc_servicer import LoanServicer
from loan_service.service_layer.cob import CloseOfBusiness
from loan_service.service_layer.group_loans import GroupLoans
from loan_service.service_layer.loan_settings import ReadingSettings
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared.config import ServiceSettings
from shared.service import Runtime


class Settings(ServiceSettings):
    @classmethod
    def service_name(cls) -> str:
        return "loan"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    repo = Repository(runtime.db)
    await repo.ensure_indexes()
    for name in ("oldest_unpaid_due_date", "created_by", "currency"):
        await repo.backfill_top_field(name)
    relay = runtime.start_relay([LOANS, COB_JOBS])

    def notify(loan_id: str) -> None:  # events written: publish them now
        relay.notify(LOANS, loan_id, repo.take_written(loan_id))

    def notify_job(job_id: str) -> None:  # a job completed: publish its event now
        relay.notify(COB_JOBS, job_id)

    reading = ReadingSettings(repo)
    cob = CloseOfBusiness(repo, notify, notify_job, on_completed=reading.forget)
    runtime.on_close(cob.stop)
    uow = UnitOfWork(repo, notify, reading.get)
    users = GrpcUserDirectory(runtime.channel("user"))
    servicer = LoanServicer(
        uow,
        users,
        GrpcScorer(runtime.channel("scoring")),
        reading,
        cob,
    )
    # kopa.loan.v2's LoanService: the same use cases, typed messages.
    group_loan_repo = MongoGroupLoanRepository(runtime.db)
    await group_loan_repo.ensure_indexes()
    group_lending = GroupLoans(group_loan_repo, uow, users)
    loans = LoansV2Servicer(uow, users, servicer.scorer, reading, cob, group_lending)
    repayments = RepaymentServicer(uow)
    group_loans = GroupLoanServicer(group_lending)
    loan_securities = LoanSecurityServicer(uow, users)

    def register(server: grpc.aio.Server) -> list[str]:
        loan_pb2_grpc.add_LoanServiceServicer_to_server(servicer, server)
        loans_pb2_grpc.add_LoanServiceServicer_to_server(loans, server)
        repayments_pb2_grpc.add_RepaymentServiceServicer_to_server(repayments, server)
        group_loans_pb2_grpc.add_GroupLoanServiceServicer_to_server(group_loans, server)
        securities_pb2_grpc.add_LoanSecurityServiceServicer_to_server(loan_securities, server)
        return [
            loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            loans_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            repayments_pb2.DESCRIPTOR.services_by_name["RepaymentService"].full_name,
            group_loans_pb2.DESCRIPTOR.services_by_name["GroupLoanService"].full_name,
            securities_pb2.DESCRIPTOR.services_by_name["LoanSecurityService"].full_name,
        ]

    return register
