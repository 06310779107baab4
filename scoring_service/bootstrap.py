"""Wires scoring_service: repository, handlers, outbox relay, loan-event consumer, servicer."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from kopa.scoring.v2 import scoring_pb2 as scoring_v2
from kopa.scoring.v2 import scoring_pb2_grpc as scoring_v2_grpc
from scoring_service.adapters.repository import OUTBOX_COLLECTIONS, Repository
from scoring_service.entrypoints.events import LOAN_OUTCOME_EVENTS, loan_event_handler
from scoring_service.entrypoints.grpc_servicer import ScoringServicer, ScoringServicerV2
from scoring_service.service_layer.handlers import ScoringHandlers
from shared.config import ServiceSettings
from shared.service import Runtime


class Settings(ServiceSettings):
    @classmethod
    def service_name(cls) -> str:
        return "scoring"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    repo = Repository(runtime.db)
    await repo.ensure_indexes()
    relay = runtime.start_relay(OUTBOX_COLLECTIONS)
    handlers = ScoringHandlers(repo, relay.notify)
    runtime.consume(LOAN_OUTCOME_EVENTS, loan_event_handler(handlers))
    # kopa.scoring.v1 (deprecated) and v2 run the same use cases.
    servicer = ScoringServicer(handlers)
    servicer_v2 = ScoringServicerV2(handlers)

    def register(server: grpc.aio.Server) -> list[str]:
        scoring_pb2_grpc.add_ScoringServiceServicer_to_server(servicer, server)
        scoring_v2_grpc.add_ScoringServiceServicer_to_server(servicer_v2, server)
        return [
            module.DESCRIPTOR.services_by_name["ScoringService"].full_name
            for module in (scoring_pb2, scoring_v2)
        ]

    return register
