"""Wires user_service: repository, handlers, outbox relay, servicer."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.user.v1 import user_pb2, user_pb2_grpc
from shared.config import ServiceSettings
from shared.service import Runtime
from user_service.adapters.repository import BORROWERS, Repository
from user_service.entrypoints.grpc_servicer import UserServicer
from user_service.service_layer.handlers import UserHandlers


class Settings(ServiceSettings):
    @classmethod
    def service_name(cls) -> str:
        return "user"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    repo = Repository(runtime.db)
    await repo.ensure_indexes()
    relay = runtime.start_relay([BORROWERS])
    servicer = UserServicer(UserHandlers(repo, relay.notify))

    def register(server: grpc.aio.Server) -> list[str]:
        user_pb2_grpc.add_UserServiceServicer_to_server(servicer, server)
        return [user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name]

    return register
