"""Wires user_service: repositories, handlers, outbox relay, the loan-event consumer and the
servicers."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from kopa.user.v1 import groups_pb2, groups_pb2_grpc, user_pb2, user_pb2_grpc
from shared.config import ServiceSettings
from shared.service import Runtime
from user_service.adapters.groups import GroupRepository
from user_service.adapters.repository import BORROWERS, Repository
from user_service.entrypoints.events import LOAN_STATUS_EVENTS, loan_event_handler
from user_service.entrypoints.grpc_groups import GroupServicer
from user_service.entrypoints.grpc_servicer import UserServicer
from user_service.service_layer.groups import GroupHandlers
from user_service.service_layer.handlers import UserHandlers


class Settings(ServiceSettings):
    @classmethod
    def service_name(cls) -> str:
        return "user"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    repo = Repository(runtime.db)
    await repo.ensure_indexes()
    group_repo = GroupRepository(runtime.db)
    await group_repo.ensure_indexes()
    relay = runtime.start_relay([BORROWERS])
    users = UserHandlers(repo, relay.notify)
    groups = GroupHandlers(group_repo, users)
    runtime.consume(LOAN_STATUS_EVENTS, loan_event_handler(groups))
    servicer = UserServicer(users, groups)
    group_servicer = GroupServicer(groups)

    def register(server: grpc.aio.Server) -> list[str]:
        user_pb2_grpc.add_UserServiceServicer_to_server(servicer, server)
        groups_pb2_grpc.add_GroupServiceServicer_to_server(group_servicer, server)
        return [
            user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
            groups_pb2.DESCRIPTOR.services_by_name["GroupService"].full_name,
        ]

    return register
