"""Wires loan_service: repository, peers, the unit of work the use cases write through, the
reading settings, close of business, outbox relay, servicers (kopa.loan.v1.LoanService, deprecated;
kopa.loan.v2.LoanService and kopa.loan.v2.RepaymentService)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from kopa.loan.v2 import loans_pb2, loans_pb2_grpc, repayments_pb2, repayments_pb2_grpc
from loan_service.adapters.peers import GrpcScorer, GrpcUserDirectory
from loan_service.adapters.repository import LOANS, Repository
from loan_service.entrypoints.grpc_loans import LoanServicer as LoansV2Servicer
from loan_service.entrypoints.grpc_repayments import RepaymentServicer
from loan_service.entrypoints.grpc_servicer import LoanServicer
from loan_service.service_layer.cob import CloseOfBusiness
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
    relay = runtime.start_relay([LOANS])

    def notify(loan_id: str) -> None:  # events written: publish them now
        relay.notify(LOANS, loan_id, repo.take_written(loan_id))

    reading = ReadingSettings(repo)
    cob = CloseOfBusiness(repo, notify, on_completed=reading.forget)
    runtime.on_close(cob.stop)
    uow = UnitOfWork(repo, notify, reading.get)
    servicer = LoanServicer(
        uow,
        GrpcUserDirectory(runtime.channel("user")),
        GrpcScorer(runtime.channel("scoring")),
        reading,
        cob,
    )
    # kopa.loan.v2's LoanService: the same use cases, typed messages.
    loans = LoansV2Servicer(uow, servicer.users, servicer.scorer, reading, cob)
    repayments = RepaymentServicer(uow)

    def register(server: grpc.aio.Server) -> list[str]:
        loan_pb2_grpc.add_LoanServiceServicer_to_server(servicer, server)
        loans_pb2_grpc.add_LoanServiceServicer_to_server(loans, server)
        repayments_pb2_grpc.add_RepaymentServiceServicer_to_server(repayments, server)
        return [
            loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            loans_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            repayments_pb2.DESCRIPTOR.services_by_name["RepaymentService"].full_name,
        ]

    return register
