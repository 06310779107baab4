"""One long-lived gRPC channel per upstream service, opened in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from gateway.settings import GatewaySettings
from kopa.auth.v1 import auth_pb2_grpc
from kopa.loan.v2 import group_loans_pb2_grpc, loans_pb2_grpc, securities_pb2_grpc
from kopa.notification.v1 import notification_pb2_grpc
from kopa.payment.v2 import ledger_pb2_grpc, repayments_pb2_grpc
from kopa.reporting.v2 import reporting_pb2_grpc
from kopa.scoring.v2 import scoring_pb2_grpc
from kopa.user.v1 import documents_pb2_grpc, groups_pb2_grpc
from kopa.user.v1 import user_pb2_grpc as user_v1_grpc
from kopa.user.v2 import user_pb2_grpc
from shared.grpc_client import open_channel
from shared.service import peer_services


@dataclass
class Upstreams:
    channels: dict[str, grpc.aio.Channel]
    auth: auth_pb2_grpc.AuthServiceStub
    #: kopa.user.v2: institutions, branches and borrowers, typed.
    user: user_pb2_grpc.UserServiceStub
    #: kopa.user.v1: CreateGroup and GetGroup, which carry only v1's Group (no v2 yet).
    user_v1: user_v1_grpc.UserServiceStub
    #: centres and the life cycle of groups (user_service).
    groups: groups_pb2_grpc.GroupServiceStub
    #: KYC documents and the borrower's KYC status (user_service).
    documents: documents_pb2_grpc.DocumentServiceStub
    #: kopa.loan.v2: products, quotes, loans, settings and the close of business, typed.
    loan: loans_pb2_grpc.LoanServiceStub
    #: kopa.loan.v2: group loans, typed.
    group_loans: group_loans_pb2_grpc.GroupLoanServiceStub
    #: kopa.loan.v2: guarantors and collateral, typed.
    loan_securities: securities_pb2_grpc.LoanSecurityServiceStub
    #: kopa.payment.v2: a loan's repayments, refunds and reversals, typed.
    repayments: repayments_pb2_grpc.RepaymentServiceStub
    #: kopa.payment.v2: the books, typed.
    ledger: ledger_pb2_grpc.LedgerServiceStub
    #: kopa.payment.v2: mobile-money receipts and suspense, typed.
    mobile_money: repayments_pb2_grpc.MobileMoneyServiceStub
    #: kopa.scoring.v2: scorecards, what-if and governance, typed.
    scoring: scoring_pb2_grpc.ScoringServiceStub
    #: kopa.reporting.v2: borrower search and the portfolio reports, typed.
    reporting: reporting_pb2_grpc.ReportingServiceStub
    #: kopa.notification.v1: templates, messages to borrowers, their preferences, delivery
    #: reports.
    notifications: notification_pb2_grpc.NotificationServiceStub
    #: kopa.notification.v1: webhook endpoints and their deliveries.
    webhooks: notification_pb2_grpc.WebhookServiceStub
    #: kopa.notification.v1: alert rules and the alert queue.
    alerts: notification_pb2_grpc.AlertServiceStub
    #: kopa.notification.v1: the institution's clock (close of business, reminders).
    schedule: notification_pb2_grpc.ScheduleServiceStub

    @classmethod
    def open(cls, settings: GatewaySettings) -> Upstreams:
        names = ("auth", "user", "loan", "payment", "scoring", "reporting", "notification")
        channels = {
            n: open_channel(getattr(settings, f"{n}_service_addr"), peer_services(n)) for n in names
        }
        return cls(
            channels=channels,
            auth=auth_pb2_grpc.AuthServiceStub(channels["auth"]),
            user=user_pb2_grpc.UserServiceStub(channels["user"]),
            user_v1=user_v1_grpc.UserServiceStub(channels["user"]),
            groups=groups_pb2_grpc.GroupServiceStub(channels["user"]),
            documents=documents_pb2_grpc.DocumentServiceStub(channels["user"]),
            loan=loans_pb2_grpc.LoanServiceStub(channels["loan"]),
            group_loans=group_loans_pb2_grpc.GroupLoanServiceStub(channels["loan"]),
            loan_securities=securities_pb2_grpc.LoanSecurityServiceStub(channels["loan"]),
            repayments=repayments_pb2_grpc.RepaymentServiceStub(channels["payment"]),
            ledger=ledger_pb2_grpc.LedgerServiceStub(channels["payment"]),
            mobile_money=repayments_pb2_grpc.MobileMoneyServiceStub(channels["payment"]),
            scoring=scoring_pb2_grpc.ScoringServiceStub(channels["scoring"]),
            reporting=reporting_pb2_grpc.ReportingServiceStub(channels["reporting"]),
            notifications=notification_pb2_grpc.NotificationServiceStub(channels["notification"]),
            webhooks=notification_pb2_grpc.WebhookServiceStub(channels["notification"]),
            alerts=notification_pb2_grpc.AlertServiceStub(channels["notification"]),
            schedule=notification_pb2_grpc.ScheduleServiceStub(channels["notification"]),
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
