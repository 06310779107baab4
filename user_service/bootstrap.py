"""Wires user_service: repositories, handlers, outbox relay, the loan-event consumer, the OCR
worker and the servicers."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import grpc
from pydantic import Field

from kopa.user.v1 import (
    documents_pb2,
    documents_pb2_grpc,
    groups_pb2,
    groups_pb2_grpc,
    user_pb2,
    user_pb2_grpc,
)
from kopa.user.v2 import user_pb2 as user_v2
from kopa.user.v2 import user_pb2_grpc as user_v2_grpc
from shared.config import ServiceSettings
from shared.logging import get_logger
from shared.service import Runtime
from user_service.adapters.documents import DocumentStore
from user_service.adapters.groups import GroupRepository
from user_service.adapters.ocr import TesseractReader
from user_service.adapters.repository import BORROWERS, INSTITUTIONS, Repository
from user_service.entrypoints import grpc_users
from user_service.entrypoints.documents_servicer import DocumentServicer
from user_service.entrypoints.events import LOAN_STATUS_EVENTS, loan_event_handler
from user_service.entrypoints.grpc_groups import GroupServicer
from user_service.entrypoints.grpc_servicer import UserServicer
from user_service.entrypoints.ocr_worker import OcrWorker
from user_service.service_layer.documents import DocumentHandlers
from user_service.service_layer.groups import GroupHandlers
from user_service.service_layer.handlers import UserHandlers

log = get_logger(__name__)


class Settings(ServiceSettings):
    ocr_poll_seconds: float = Field(
        10.0, gt=0, description="how often the OCR worker looks for readings left pending"
    )
    ocr_timeout_seconds: float = Field(60.0, gt=0, description="the longest one reading may take")

    @classmethod
    def service_name(cls) -> str:
        return "user"


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    repo = Repository(runtime.db)
    await repo.ensure_indexes()
    group_repo = GroupRepository(runtime.db)
    await group_repo.ensure_indexes()
    store = DocumentStore(runtime.db)
    await store.ensure_indexes()
    relay = runtime.start_relay([BORROWERS, INSTITUTIONS])
    users = UserHandlers(repo, relay.notify)
    groups = GroupHandlers(group_repo, users)
    runtime.consume(LOAN_STATUS_EVENTS, loan_event_handler(groups))
    if shutil.which("tesseract") is None:
        log.warning("ocr_unavailable", hint="install tesseract-ocr and tesseract-ocr-eng")
    worker = OcrWorker(TesseractReader(settings.ocr_timeout_seconds), settings.ocr_poll_seconds)
    documents = DocumentHandlers(store, users, settings.max_document_bytes, worker.wake)
    worker.start(documents)
    runtime.on_close(worker.stop)
    servicer = UserServicer(users, groups)
    servicer_v2 = grpc_users.UserServicer(users)
    group_servicer = GroupServicer(groups)
    documents_servicer = DocumentServicer(documents, users)

    def register(server: grpc.aio.Server) -> list[str]:
        user_pb2_grpc.add_UserServiceServicer_to_server(servicer, server)
        user_v2_grpc.add_UserServiceServicer_to_server(servicer_v2, server)
        groups_pb2_grpc.add_GroupServiceServicer_to_server(group_servicer, server)
        documents_pb2_grpc.add_DocumentServiceServicer_to_server(documents_servicer, server)
        return [
            user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
            user_v2.DESCRIPTOR.services_by_name["UserService"].full_name,
            groups_pb2.DESCRIPTOR.services_by_name["GroupService"].full_name,
            documents_pb2.DESCRIPTOR.services_by_name["DocumentService"].full_name,
        ]

    return register
