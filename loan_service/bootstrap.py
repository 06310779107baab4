"""Wires loan_service: repository, peers, handlers, close of business, outbox relay, servicer."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from loan_service.adapters.peers import GrpcScorer, GrpcUserDirectory
from loan_service.adapters.repository import LOANS, Repository
from loan_service.entrypoints.grpc_servicer import LoanServicer
from loan_service.service_layer.cob import CloseOfBusiness
from loan_service.service_layer.handlers import LoanHandlers
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
    handlers = LoanHandlers(
        repo,
        relay.notify,
        GrpcUserDirectory(runtime.channel("user")),
        GrpcScorer(runtime.channel("scoring")),
    )
    cob = CloseOfBusiness(repo, relay.notify, on_completed=handlers.forget_reading_settings)
    runtime.on_close(cob.stop)
    servicer = LoanServicer(handlers, cob)

    def register(server: grpc.aio.Server) -> list[str]:
        loan_pb2_grpc.add_LoanServiceServicer_to_server(servicer, server)
        return [loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name]

    return register
