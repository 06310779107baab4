"""Wires payment_service: repository, books, peers, use cases, consumer, recovery, servicer.

Configuration (environment only, on top of the shared ``ServiceSettings``):

- ``MOBILE_MONEY_SECRETS``: JSON ``{"<institution_id>": ["<secret>", ...]}``, the HMAC keys
  of each institution's mobile-money callbacks (several while a key is rotated). An
  institution without one has its callbacks refused (UNAUTHENTICATED). Secrets must be at
  least 16 characters (32 outside ``local``/``test``).
- ``KOPA_SERVICE_SECRET``: the internal credential for payment_service's own service tokens
  (from auth_service), with which it posts receipts that matched one loan. Required in
  production; without it, locally, matched receipts wait in suspense for a person.
- ``MOBILE_MONEY_TOLERANCE_SECONDS`` (300): the replay window of a signed callback.
- ``PAYMENT_PENDING_TIMEOUT_SECONDS`` (15): the lease of an attempt; past it the recovery acts
  on a pending payment and a retry with the same key may take it over.
- ``PAYMENT_RECOVERY_INTERVAL_SECONDS`` (10): how often the recovery sweeps.
- ``PAYMENT_IDEMPOTENCY_WAIT_SECONDS`` (5): how long a duplicate request waits for the first
  one to finish before answering 409 IDEMPOTENCY_REQUEST_IN_PROGRESS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from pydantic import Field, model_validator

from kopa.auth.v1 import auth_pb2_grpc
from kopa.payment.v1 import payment_pb2, payment_pb2_grpc
from kopa.payment.v2 import ledger_pb2, ledger_pb2_grpc, repayments_pb2, repayments_pb2_grpc
from kopa.user.v2 import user_pb2_grpc
from payment_service.adapters.peers import (
    InstitutionCurrency,
    LoanGateway,
    institution_currency_from_user_service,
)
from payment_service.adapters.repository import PAYMENTS, Repository
from payment_service.entrypoints.consumers import BINDINGS, LoanEventConsumer
from payment_service.entrypoints.grpc_ledger import LedgerServicer
from payment_service.entrypoints.grpc_repayments import MobileMoneyServicer, RepaymentServicer
from payment_service.entrypoints.grpc_servicer import PaymentServicer
from payment_service.service_layer.core import PaymentConfig, PaymentCore
from payment_service.service_layer.ledger import Books, LedgerHandlers
from payment_service.service_layer.loan_events import LoanEvents
from payment_service.service_layer.mobile_money import MobileMoney
from payment_service.service_layer.ports import SERVICE_NAME
from payment_service.service_layer.recovery import Recovery
from payment_service.service_layer.repayments import Repayments
from shared.config import ServiceCredentialSettings, ServiceSettings
from shared.logging import get_logger
from shared.service import Runtime
from shared.service_tokens import ServiceTokens

log = get_logger(__name__)


class Settings(ServiceSettings, ServiceCredentialSettings):
    mobile_money_secrets: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON {"<institution_id>": ["<secret>", ...]}: mobile-money HMAC keys',
    )
    mobile_money_tolerance_seconds: int = Field(300, ge=1, le=3600)
    payment_pending_timeout_seconds: float = Field(15.0, gt=0)
    payment_recovery_interval_seconds: float = Field(10.0, gt=0)
    payment_idempotency_wait_seconds: float = Field(5.0, ge=0)

    @classmethod
    def service_name(cls) -> str:
        return "payment"

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        minimum = 16 if self.kopa_env in ("local", "test") else 32
        for institution_id, secrets in self.mobile_money_secrets.items():
            if not secrets or any(len(s) < minimum for s in secrets):
                raise ValueError(
                    f"MOBILE_MONEY_SECRETS[{institution_id}] needs secrets of at least "
                    f"{minimum} characters"
                )
        return self

    def payment_config(self) -> PaymentConfig:
        return PaymentConfig(
            pending_timeout=dt.timedelta(seconds=self.payment_pending_timeout_seconds),
            idempotency_wait_seconds=self.payment_idempotency_wait_seconds,
            mobile_money_secrets={
                inst: [s.encode() for s in secrets]
                for inst, secrets in self.mobile_money_secrets.items()
            },
            mobile_money_tolerance_seconds=self.mobile_money_tolerance_seconds,
        )


@dataclass
class Wiring:
    core: PaymentCore
    servicer: PaymentServicer
    repayments: RepaymentServicer
    ledger: LedgerServicer
    mobile_money: MobileMoneyServicer
    consumer: LoanEventConsumer
    recovery: Recovery
    repo: Repository


def wire(
    db: Any,
    loan_channel: Any,
    *,
    notify: Callable[[str, Any, list[dict[str, Any]] | None], None],
    config: PaymentConfig,
    institution_currency: InstitutionCurrency | None = None,
    service_tokens: ServiceTokens | None = None,
    recovery_interval_seconds: float = 3.0,
) -> Wiring:
    """Everything but the servers: tests wire the same objects against their own peers."""
    repo = Repository(db)
    books = Books(repo, institution_currency)

    def wake_relay(payment_id: str) -> None:
        notify(PAYMENTS, payment_id, repo.take_written(payment_id))

    core = PaymentCore(repo, books, LoanGateway(loan_channel), wake_relay, config)
    mobile_money = MobileMoney(core, service_tokens)
    repayments = Repayments(core)
    ledger = LedgerHandlers(books, repo)
    servicer = PaymentServicer(repayments, mobile_money, ledger)
    return Wiring(
        core=core,
        servicer=servicer,
        repayments=RepaymentServicer(repayments),
        ledger=LedgerServicer(ledger),
        mobile_money=MobileMoneyServicer(mobile_money),
        consumer=LoanEventConsumer(LoanEvents(core)),
        recovery=Recovery(core, mobile_money, interval_seconds=recovery_interval_seconds),
        repo=repo,
    )


def service_tokens(settings: Settings, runtime: Runtime) -> ServiceTokens | None:
    secret = settings.kopa_service_secret
    if secret is None:
        log.info("auto_posting_disabled", hint="set KOPA_SERVICE_SECRET to post matched receipts")
        return None
    stub = auth_pb2_grpc.AuthServiceStub(runtime.channel("auth"))
    return ServiceTokens(stub, secret.get_secret_value(), service=SERVICE_NAME)


async def build(runtime: Runtime) -> Wiring:
    """Wires the service on a connected runtime: relay, consumer, recovery task."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    relay = runtime.start_relay([PAYMENTS])
    wiring = wire(
        runtime.db,
        runtime.channel("loan"),
        notify=relay.notify,
        config=settings.payment_config(),
        institution_currency=institution_currency_from_user_service(
            user_pb2_grpc.UserServiceStub(runtime.channel("user"))
        ),
        service_tokens=service_tokens(settings, runtime),
        recovery_interval_seconds=settings.payment_recovery_interval_seconds,
    )
    await wiring.repo.ensure_indexes()
    runtime.consume(BINDINGS, wiring.consumer)
    wiring.recovery.start()
    runtime.on_close(wiring.recovery.stop)
    return wiring


def registrar(wiring: Wiring) -> Callable[[grpc.aio.Server], list[str]]:
    """kopa.payment.v1.PaymentService (deprecated) and kopa.payment.v2's RepaymentService,
    LedgerService and MobileMoneyService."""

    def register(server: grpc.aio.Server) -> list[str]:
        payment_pb2_grpc.add_PaymentServiceServicer_to_server(wiring.servicer, server)
        repayments_pb2_grpc.add_RepaymentServiceServicer_to_server(wiring.repayments, server)
        ledger_pb2_grpc.add_LedgerServiceServicer_to_server(wiring.ledger, server)
        repayments_pb2_grpc.add_MobileMoneyServiceServicer_to_server(wiring.mobile_money, server)
        return [
            payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
            repayments_pb2.DESCRIPTOR.services_by_name["RepaymentService"].full_name,
            ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name,
            repayments_pb2.DESCRIPTOR.services_by_name["MobileMoneyService"].full_name,
        ]

    return register


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    return registrar(await build(runtime))
