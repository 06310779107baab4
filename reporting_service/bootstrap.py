"""Wires reporting_service: Elasticsearch read models fed by events, and the servicer."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from pydantic import Field

from kopa.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from kopa.reporting.v2 import reporting_pb2 as reporting_v2
from kopa.reporting.v2 import reporting_pb2_grpc as reporting_v2_grpc
from kopa.user.v2 import user_pb2, user_pb2_grpc
from reporting_service.adapters.search_index import SearchIndex, elasticsearch_client
from reporting_service.entrypoints.grpc_servicer import ReportingServicer, ReportingServicerV2
from reporting_service.service_layer.handlers import ReportingHandlers
from shared.config import ServiceSettings
from shared.permissions import Principal
from shared.service import Runtime

EVENTS = ["borrower.*", "loan.*"]


class Settings(ServiceSettings):
    elasticsearch_url: str = Field(..., description="e.g. http://127.0.0.1:9200")

    @classmethod
    def service_name(cls) -> str:
        return "reporting"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    es = elasticsearch_client(settings.elasticsearch_url)
    index = SearchIndex(es, settings.kopa_namespace)
    await index.ensure_indexes()
    users = user_pb2_grpc.UserServiceStub(runtime.channel("user"))
    currencies: dict[str, str] = {}

    async def institution_currency(p: Principal) -> str:
        inst = p.institution_id or ""
        if inst not in currencies:
            reply = await users.GetInstitution(user_pb2.GetInstitutionRequest(institution_id=inst))
            currencies[inst] = reply.institution.currency
        return currencies[inst]

    handlers = ReportingHandlers(index, institution_currency)
    runtime.consume(EVENTS, handlers.on_event)
    runtime.on_close(es.close)
    # kopa.reporting.v1 (deprecated) and v2 answer from the same queries.
    servicer = ReportingServicer(handlers)
    servicer_v2 = ReportingServicerV2(handlers)

    def register(server: grpc.aio.Server) -> list[str]:
        reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)
        reporting_v2_grpc.add_ReportingServiceServicer_to_server(servicer_v2, server)
        return [
            module.DESCRIPTOR.services_by_name["ReportingService"].full_name
            for module in (reporting_pb2, reporting_v2)
        ]

    return register
