"""The LoanService servicer: maps proto requests to commands, runs their use cases
(`service_layer`) and maps the results back.

Errors are raised as typed domain errors (`shared.errors` and the loan domain's subclasses of
them); the shared interceptor turns them into rich gRPC statuses.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeAlias

import grpc

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from loan_service.adapters.contract import PROTO_TO_STATUS, STATUS_TO_PROTO, score_to_proto
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
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.loan_settings import ReadingSettings
from loan_service.service_layer.ports import Scorer, UserDirectory
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared import context
from shared.dates import parse_date
from shared.errors import NotFound, ValidationError
from shared.money import Formatter, check_amount_text
from shared.permissions import Permission, Principal, require

Ctx: TypeAlias = grpc.aio.ServicerContext


def product_command(message: loan_pb2.LoanProduct) -> commands.CreateProduct:
    """The terms of a new product (the command's fields are named as the message's)."""
    return commands.CreateProduct(
        **{f.name: getattr(message, f.name) for f in dataclasses.fields(commands.CreateProduct)}
    )


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


class LoanServicer(loan_pb2_grpc.LoanServiceServicer):
    def __init__(
        self,
        uow: UnitOfWork,
        users: UserDirectory,
        scorer: Scorer,
        reading: ReadingSettings,
        cob: CloseOfBusiness,
    ) -> None:
        self.uow = uow
        self.repo = uow.repo
        self.users = users
        self.scorer = scorer
        self.reading = reading
        self.cob = cob

    # --- products and quotes -------------------------------------------------------------

    async def _loan(self, doc: dict[str, Any]) -> loan_pb2.Loan:
        """The loan as answered: days past due up to the institution's reading date."""
        s = await self.reading.get(doc["institution_id"])
        return m.loan_to_proto(doc, s.reading_date, s.buckets)

    async def CreateLoanProduct(
        self, request: loan_pb2.CreateLoanProductRequest, context: Ctx
    ) -> loan_pb2.CreateLoanProductResponse:
        doc = await products.create_product(self.repo, self.users, product_command(request.product))
        return loan_pb2.CreateLoanProductResponse(product=m.product_to_proto(doc))

    async def GetLoanProduct(
        self, request: loan_pb2.GetLoanProductRequest, context: Ctx
    ) -> loan_pb2.GetLoanProductResponse:
        doc = await products.get_product(self.repo, request.product_id)
        return loan_pb2.GetLoanProductResponse(product=m.product_to_proto(doc))

    async def ListLoanProducts(
        self, request: loan_pb2.ListLoanProductsRequest, context: Ctx
    ) -> loan_pb2.ListLoanProductsResponse:
        docs, token = await products.list_products(self.repo, request.page_size, request.page_token)
        return loan_pb2.ListLoanProductsResponse(
            products=[m.product_to_proto(d) for d in docs], next_page_token=token
        )

    async def QuoteLoan(
        self, request: loan_pb2.QuoteLoanRequest, context: Ctx
    ) -> loan_pb2.QuoteLoanResponse:
        schedule, pricing, currency = await products.quote(
            self.repo,
            commands.QuoteLoan(
                product_id=request.product_id,
                principal=request.principal,
                term=request.term,
                disbursement_date=request.disbursement_date,
                first_repayment_date=request.first_repayment_date,
            ),
        )
        money = Formatter(currency)
        return loan_pb2.QuoteLoanResponse(
            installments=[
                loan_pb2.Installment(
                    number=i.number,
                    due_date=i.due_date.isoformat(),
                    principal=money(i.principal),
                    interest=money(i.interest),
                    fees=money(i.fees),
                    penalties=money(None),
                    total=money(i.total),
                    balance=money(i.balance),
                )
                for i in schedule.installments
            ],
            pricing=loan_pb2.Pricing(
                total_interest=money(pricing["total_interest"]),
                total_fees=money(pricing["total_fees"]),
                total_repayment=money(pricing["total_repayment"]),
                apr=pricing["apr"],
                eir=pricing["eir"],
            ),
        )

    # --- loans ---------------------------------------------------------------------------

    async def CreateLoan(
        self, request: loan_pb2.CreateLoanRequest, context: Ctx
    ) -> loan_pb2.CreateLoanResponse:
        doc = await applications.create_loan(
            self.uow,
            self.users,
            commands.CreateLoan(
                borrower_id=request.borrower_id,
                product_id=request.product_id,
                principal=request.principal,
                term=request.term,
                disbursement_date=request.disbursement_date,
                purpose=request.purpose,
                request_id=request.request_id,
            ),
        )
        return loan_pb2.CreateLoanResponse(loan=await self._loan(doc))

    async def GetLoan(
        self, request: loan_pb2.GetLoanRequest, context: Ctx
    ) -> loan_pb2.GetLoanResponse:
        doc = await queries.get_loan(self.uow, request.loan_id)
        return loan_pb2.GetLoanResponse(loan=await self._loan(doc))

    async def ListLoans(
        self, request: loan_pb2.ListLoansRequest, context: Ctx
    ) -> loan_pb2.ListLoansResponse:
        status = ""
        if request.status:
            if request.status not in PROTO_TO_STATUS:
                raise ValidationError.of("status", "is not a loan status")
            status = PROTO_TO_STATUS[request.status]
        docs, token = await queries.list_loans(
            self.repo, request.borrower_id, status, request.page_size, request.page_token
        )
        if not docs:
            return loan_pb2.ListLoansResponse(next_page_token=token)
        s = await self.reading.get(docs[0]["institution_id"])
        return loan_pb2.ListLoansResponse(
            loans=[m.loan_to_proto(d, s.reading_date, s.buckets) for d in docs],
            next_page_token=token,
        )

    async def ApproveLoan(
        self, request: loan_pb2.ApproveLoanRequest, context: Ctx
    ) -> loan_pb2.ApproveLoanResponse:
        doc = await applications.approve(
            self.uow,
            commands.ApproveLoan(
                loan_id=request.loan_id,
                note=request.note,
                override_reason=request.override_reason,
            ),
        )
        return loan_pb2.ApproveLoanResponse(loan=await self._loan(doc))

    async def RejectLoan(
        self, request: loan_pb2.RejectLoanRequest, context: Ctx
    ) -> loan_pb2.RejectLoanResponse:
        doc = await applications.reject(
            self.uow, commands.RejectLoan(loan_id=request.loan_id, reason=request.reason)
        )
        return loan_pb2.RejectLoanResponse(loan=await self._loan(doc))

    async def DisburseLoan(
        self, request: loan_pb2.DisburseLoanRequest, context: Ctx
    ) -> loan_pb2.DisburseLoanResponse:
        doc = await disbursement.disburse(
            self.uow,
            commands.DisburseLoan(
                loan_id=request.loan_id,
                disbursement_date=request.disbursement_date,
                first_repayment_date=request.first_repayment_date,
                channel=request.channel,
                request_id=request.request_id,
            ),
        )
        return loan_pb2.DisburseLoanResponse(loan=await self._loan(doc))

    async def WriteOffLoan(
        self, request: loan_pb2.WriteOffLoanRequest, context: Ctx
    ) -> loan_pb2.WriteOffLoanResponse:
        doc = await servicing.write_off(
            self.uow,
            commands.WriteOffLoan(
                loan_id=request.loan_id, reason=request.reason, date=request.date
            ),
        )
        return loan_pb2.WriteOffLoanResponse(loan=await self._loan(doc))

    async def RescheduleLoan(
        self, request: loan_pb2.RescheduleLoanRequest, context: Ctx
    ) -> loan_pb2.RescheduleLoanResponse:
        doc = await servicing.reschedule(
            self.uow,
            commands.RescheduleLoan(
                loan_id=request.loan_id,
                new_term=request.new_term,
                new_annual_interest_rate=request.new_annual_interest_rate,
                grace_on_principal=request.grace_on_principal,
                reason=request.reason,
                date=request.date,
            ),
        )
        return loan_pb2.RescheduleLoanResponse(loan=await self._loan(doc))

    async def ScoreLoan(
        self, request: loan_pb2.ScoreLoanRequest, context: Ctx
    ) -> loan_pb2.ScoreLoanResponse:
        doc = await applications.score(
            self.uow, self.users, self.scorer, commands.ScoreLoan(loan_id=request.loan_id)
        )
        return loan_pb2.ScoreLoanResponse(score=score_to_proto(doc.get("score")))

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

    async def GetPayoffQuote(
        self, request: loan_pb2.GetPayoffQuoteRequest, context: Ctx
    ) -> loan_pb2.GetPayoffQuoteResponse:
        amounts, currency = await repayments.payoff(self.uow, request.loan_id, request.date)
        return loan_pb2.GetPayoffQuoteResponse(
            payoff=m.outstanding_to_proto(amounts, Formatter(currency))
        )

    async def GetCollectionSheet(
        self, request: loan_pb2.GetCollectionSheetRequest, context: Ctx
    ) -> loan_pb2.GetCollectionSheetResponse:
        sheet = await queries.collection_sheet(
            self.repo, self.users, request.date, request.agent_id, request.branch_id
        )
        return m.collection_sheet_to_proto(sheet)

    # --- settings ------------------------------------------------------------------------

    async def GetLoanSettings(
        self, request: loan_pb2.GetLoanSettingsRequest, context: Ctx
    ) -> loan_pb2.GetLoanSettingsResponse:
        settings = await loan_settings.loan_settings(self.repo, request.institution_id)
        return loan_pb2.GetLoanSettingsResponse(
            settings=m.settings_to_proto(request.institution_id, settings)
        )

    async def UpdateLoanSettings(
        self, request: loan_pb2.UpdateLoanSettingsRequest, context: Ctx
    ) -> loan_pb2.UpdateLoanSettingsResponse:
        limits: dict[str, str] | None = None
        if request.set_approval_limits:
            limits = {}
            for limit in request.approval_limits:
                if limit.role in limits:
                    raise ValidationError.of(f"approval_limits.{limit.role}", "is given twice")
                limits[limit.role] = limit.amount
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
            ),
        )
        return loan_pb2.UpdateLoanSettingsResponse(
            settings=m.settings_to_proto(request.institution_id, settings)
        )

    # --- close of business ---------------------------------------------------------------

    async def RunCloseOfBusiness(
        self, request: loan_pb2.RunCloseOfBusinessRequest, context: Ctx
    ) -> loan_pb2.RunCloseOfBusinessResponse:
        p = context_principal_for_jobs()
        as_of = parse_date(request.as_of, "as_of")
        assert as_of is not None
        if as_of > today_plus_one():
            raise ValidationError.of("as_of", "must not be after tomorrow")
        job = await self.cob.start(p.institution_id or "", as_of, wait=request.wait)
        parts = await self.cob.repo.partitions(job["_id"])
        return loan_pb2.RunCloseOfBusinessResponse(job=m.job_to_proto(job, parts))

    async def GetCloseOfBusinessJob(
        self, request: loan_pb2.GetCloseOfBusinessJobRequest, context: Ctx
    ) -> loan_pb2.GetCloseOfBusinessJobResponse:
        p = context_principal_for_jobs()
        as_of = parse_date(request.as_of, "as_of")
        assert as_of is not None
        job = await self.cob.repo.get_job(job_id(p.institution_id or "", as_of))
        if job is None:
            raise NotFound(
                f"no close of business has run for {as_of.isoformat()}", reason="JOB_NOT_FOUND"
            )
        parts = await self.cob.repo.partitions(job["_id"])
        return loan_pb2.GetCloseOfBusinessJobResponse(job=m.job_to_proto(job, parts))


def context_principal_for_jobs() -> Principal:
    p = context.principal()
    require(p, Permission.JOBS_RUN)
    if not p.institution_id:
        raise ValidationError.of("institution_id", "the close of business runs per institution")
    return p


def today_plus_one() -> date:
    return today() + timedelta(days=1)
