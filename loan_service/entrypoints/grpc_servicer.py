"""The LoanService servicers' shared methods (`LoanUseCases`) and kopa.loan.v1's servicer: each
maps a proto request to a command, runs its use case (`service_layer`) and maps the result
back (`mapping`).

Errors are raised as typed domain errors (`shared.errors` and the loan domain's subclasses of
them); the shared interceptor turns them into rich gRPC statuses.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeAlias

import grpc

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from loan_service.adapters.contract import STATUS_TO_PROTO, score_to_proto
from loan_service.domain.arrears import Bucket
from loan_service.entrypoints import mapping as m
from loan_service.service_layer import (
    applications,
    commands,
    disbursement,
    loan_settings,
    products,
    queries,
    repayments,
    servicing,
)
from loan_service.service_layer.clock import today
from loan_service.service_layer.cob import CloseOfBusiness, job_id
from loan_service.service_layer.group_loans import GroupLoans
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.loan_settings import ReadingSettings
from loan_service.service_layer.ports import Scorer, UserDirectory
from loan_service.service_layer.settings import InstitutionSettings
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared import context
from shared.dates import parse_date
from shared.errors import NotFound, ValidationError
from shared.money import Formatter, check_amount_text
from shared.permissions import Permission, Principal, require

Ctx: TypeAlias = grpc.aio.ServicerContext


def _money_in(
    amount: str, on: str, date_field: str, *, required: bool
) -> tuple[Decimal, date | None]:
    """A v1 request's decimal-string amount and ISO date, both bad fields named at once (the
    amount's currency is checked by the use case, against the loan)."""
    errors: list[tuple[str, str]] = []
    collect(errors, lambda: check_amount_text(amount))
    day = collect(errors, lambda: parse_date(on, date_field, required=required))
    if errors:
        raise ValidationError("the request is invalid", field_errors=errors)
    return Decimal(amount), day


class LoanUseCases:
    """The methods kopa.loan.v1.LoanService and kopa.loan.v2.LoanService share: each reads its
    request as plain fields (`mapping.request_fields`), runs its use case, and answers in the
    messages of `wire` (the two versions differ only there)."""

    wire: m.Wire

    def __init__(
        self,
        uow: UnitOfWork,
        users: UserDirectory,
        scorer: Scorer,
        reading: ReadingSettings,
        cob: CloseOfBusiness,
        group_loans: GroupLoans | None = None,
    ) -> None:
        self.uow = uow
        self.group_loans = group_loans
        self.repo = uow.repo
        self.users = users
        self.scorer = scorer
        self.reading = reading
        self.cob = cob

    async def _loan(self, doc: dict[str, Any]) -> Any:
        """The loan as answered: days past due up to the institution's reading date."""
        s = await self.reading.get(doc["institution_id"])
        return m.loan_to_proto(doc, s.reading_date, s.buckets, self.wire)

    # --- products and quotes -------------------------------------------------------------

    async def CreateLoanProduct(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request.product).command(commands.CreateProduct)
        doc = await products.create_product(self.repo, self.users, cmd)
        return self.wire.pb.CreateLoanProductResponse(product=m.product_to_proto(doc, self.wire))

    async def GetLoanProduct(self, request: Any, context: Ctx) -> Any:
        doc = await products.get_product(self.repo, request.product_id)
        return self.wire.pb.GetLoanProductResponse(product=m.product_to_proto(doc, self.wire))

    async def ListLoanProducts(self, request: Any, context: Ctx) -> Any:
        docs, token = await products.list_products(self.repo, request.page_size, request.page_token)
        return self.wire.pb.ListLoanProductsResponse(
            products=[m.product_to_proto(d, self.wire) for d in docs], next_page_token=token
        )

    async def QuoteLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.QuoteLoan)
        schedule, pricing, currency = await products.quote(self.repo, cmd)
        return m.quote_to_proto(schedule, pricing, currency, self.wire)

    # --- loans ---------------------------------------------------------------------------

    async def CreateLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.CreateLoan)
        doc = await applications.create_loan(self.uow, self.users, cmd)
        return self.wire.pb.CreateLoanResponse(loan=await self._loan(doc))

    async def GetLoan(self, request: Any, context: Ctx) -> Any:
        doc = await queries.get_loan(self.uow, request.loan_id)
        loan = await self._loan(doc)
        if self.wire is m.V2 and self.group_loans is not None and request.with_group_arrears:
            loan.group_days_past_due = await self.group_loans.joint_arrears(doc)
        return self.wire.pb.GetLoanResponse(loan=loan)

    async def ListLoans(self, request: Any, context: Ctx) -> Any:
        status = m.request_fields(request).values["status"]
        docs, token = await queries.list_loans(
            self.repo, request.borrower_id, status, request.page_size, request.page_token
        )
        if not docs:
            return self.wire.pb.ListLoansResponse(next_page_token=token)
        s = await self.reading.get(docs[0]["institution_id"])
        return self.wire.pb.ListLoansResponse(
            loans=[m.loan_to_proto(d, s.reading_date, s.buckets, self.wire) for d in docs],
            next_page_token=token,
        )

    async def ApproveLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.ApproveLoan)
        doc = await applications.approve(self.uow, cmd)
        return self.wire.pb.ApproveLoanResponse(loan=await self._loan(doc))

    async def RejectLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.RejectLoan)
        doc = await applications.reject(self.uow, cmd)
        return self.wire.pb.RejectLoanResponse(loan=await self._loan(doc))

    async def DisburseLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.DisburseLoan)
        doc = await disbursement.disburse(self.uow, self.users, cmd)
        return self.wire.pb.DisburseLoanResponse(loan=await self._loan(doc))

    async def WriteOffLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.WriteOffLoan)
        doc = await servicing.write_off(self.uow, cmd)
        return self.wire.pb.WriteOffLoanResponse(loan=await self._loan(doc))

    async def RescheduleLoan(self, request: Any, context: Ctx) -> Any:
        cmd = m.request_fields(request).command(commands.RescheduleLoan)
        doc = await servicing.reschedule(self.uow, cmd)
        return self.wire.pb.RescheduleLoanResponse(loan=await self._loan(doc))

    async def ScoreLoan(self, request: Any, context: Ctx) -> Any:
        doc = await applications.score(
            self.uow, self.users, self.scorer, commands.ScoreLoan(loan_id=request.loan_id)
        )
        return self.wire.pb.ScoreLoanResponse(score=score_to_proto(doc.get("score"), self.wire.pb))

    async def GetPayoffQuote(self, request: Any, context: Ctx) -> Any:
        on = m.request_fields(request).values["date"]
        amounts, currency = await repayments.payoff(self.uow, request.loan_id, on)
        return self.wire.pb.GetPayoffQuoteResponse(
            payoff=m.outstanding_to_proto(amounts, self.wire.money(currency), self.wire)
        )

    async def GetCollectionSheet(self, request: Any, context: Ctx) -> Any:
        on = m.request_fields(request).values["date"]
        sheet = await queries.collection_sheet(
            self.repo, self.users, on, request.agent_id, request.branch_id
        )
        return m.collection_sheet_to_proto(sheet, self.wire)

    # --- settings ------------------------------------------------------------------------

    async def _settings(self, institution_id: str, settings: InstitutionSettings) -> Any:
        """The settings as answered; the approval limits are amounts of the institution's
        currency (asked for only when one is set)."""
        limited = any(not v.is_infinite() for v in settings.approval_limits.values())
        currency = await self.users.institution_currency(institution_id) if limited else ""
        return m.settings_to_proto(institution_id, settings, self.wire, currency)

    async def GetLoanSettings(self, request: Any, context: Ctx) -> Any:
        settings = await loan_settings.loan_settings(self.repo, request.institution_id)
        return self.wire.pb.GetLoanSettingsResponse(
            settings=await self._settings(request.institution_id, settings)
        )

    async def UpdateLoanSettings(self, request: Any, context: Ctx) -> Any:
        limits: dict[str, str] | None = None
        currencies: list[tuple[str, str]] = []
        if request.set_approval_limits:
            limits = {}
            for limit in request.approval_limits:
                field = f"approval_limits.{limit.role}"
                if limit.role in limits:
                    raise ValidationError.of(field, "is given twice")
                read = m.request_fields(limit, {"amount": field})
                limits[limit.role] = read.values["amount"]
                currencies.extend(read.currencies)
        buckets: tuple[Bucket, ...] | None = None
        if request.set_delinquency_buckets:
            buckets = tuple(m.buckets_from_proto(request.delinquency_buckets))
        settings = await loan_settings.update_loan_settings(
            self.repo,
            self.users,
            self.reading,
            commands.UpdateLoanSettings(
                institution_id=request.institution_id,
                approval_limits=limits,
                buckets=buckets,
                currencies=tuple(currencies),
            ),
        )
        return self.wire.pb.UpdateLoanSettingsResponse(
            settings=await self._settings(request.institution_id, settings)
        )

    # --- close of business ---------------------------------------------------------------

    async def RunCloseOfBusiness(self, request: Any, context: Ctx) -> Any:
        p = context_principal_for_jobs()
        as_of = parse_date(m.request_fields(request).values["as_of"], "as_of")
        if as_of > today_plus_one():
            raise ValidationError.of("as_of", "must not be after tomorrow")
        job = await self.cob.start(p.institution_id or "", as_of, wait=request.wait)
        parts = await self.cob.repo.partitions(job["_id"])
        return self.wire.pb.RunCloseOfBusinessResponse(job=m.job_to_proto(job, parts, self.wire))

    async def GetCloseOfBusinessJob(self, request: Any, context: Ctx) -> Any:
        p = context_principal_for_jobs()
        as_of = parse_date(m.request_fields(request).values["as_of"], "as_of")
        job = await self.cob.repo.get_job(job_id(p.institution_id or "", as_of))
        if job is None:
            raise NotFound(
                f"no close of business has run for {as_of.isoformat()}", reason="JOB_NOT_FOUND"
            )
        parts = await self.cob.repo.partitions(job["_id"])
        return self.wire.pb.GetCloseOfBusinessJobResponse(job=m.job_to_proto(job, parts, self.wire))


class LoanServicer(LoanUseCases, loan_pb2_grpc.LoanServiceServicer):
    """kopa.loan.v1.LoanService, deprecated: amounts as decimal strings, dates as ISO text.
    Its money path is superseded by kopa.loan.v2.RepaymentService, the rest by
    kopa.loan.v2.LoanService (`grpc_loans`)."""

    wire = m.V1

    # --- repayments ----------------------------------------------------------------------

    async def ApplyRepayment(
        self, request: loan_pb2.ApplyRepaymentRequest, context: Ctx
    ) -> loan_pb2.ApplyRepaymentResponse:
        """Deprecated for kopa.loan.v2.RepaymentService: amounts as decimal strings."""
        amount, day = _money_in(request.amount, request.paid_on, "paid_on", required=True)
        assert day is not None
        doc, allocation = await repayments.apply_repayment(
            self.uow,
            commands.ApplyRepayment(
                loan_id=request.loan_id,
                payment_id=request.payment_id,
                amount=amount,
                paid_on=day,
            ),
        )
        money = Formatter(doc["currency"])
        return loan_pb2.ApplyRepaymentResponse(
            allocation=m.allocation_to_proto(allocation, money),
            outstanding=m.outstanding_to_proto(doc.get("outstanding"), money),
            loan_status=STATUS_TO_PROTO[doc["status"]],
            institution_id=doc["institution_id"],
            branch_id=doc["branch_id"],
            currency=doc["currency"],
        )

    async def ReverseRepayment(
        self, request: loan_pb2.ReverseRepaymentRequest, context: Ctx
    ) -> loan_pb2.ReverseRepaymentResponse:
        doc = await repayments.reverse_repayment(
            self.uow,
            commands.ReverseRepayment(
                loan_id=request.loan_id, payment_id=request.payment_id, reason=request.reason
            ),
        )
        return loan_pb2.ReverseRepaymentResponse(loan=await self._loan(doc))

    async def RefundCredit(
        self, request: loan_pb2.RefundCreditRequest, context: Ctx
    ) -> loan_pb2.RefundCreditResponse:
        """Deprecated for kopa.loan.v2.RepaymentService: amounts as decimal strings."""
        amount, day = _money_in(request.amount, request.refunded_on, "refunded_on", required=False)
        doc, refunded = await repayments.refund_credit(
            self.uow,
            commands.RefundCredit(
                loan_id=request.loan_id,
                refund_id=request.refund_id,
                amount=amount,
                refunded_on=day,
            ),
        )
        return m.refund_to_proto(doc, refunded)


def context_principal_for_jobs() -> Principal:
    p = context.principal()
    require(p, Permission.JOBS_RUN)
    if not p.institution_id:
        raise ValidationError.of("institution_id", "the close of business runs per institution")
    return p


def today_plus_one() -> date:
    return today() + timedelta(days=1)
