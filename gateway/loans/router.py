"""Loan products, quotes, loans and their lifecycle, repayments, and the close of business."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from gateway.convert import enum_value, page, to_json
from gateway.deps import Stubs, allowed
from gateway.loans.schemas import (
    ApproveBody,
    CloseOfBusinessBody,
    DisburseBody,
    LoanBody,
    LoanProductBody,
    LoanSettingsBody,
    QuoteBody,
    RejectBody,
    RepaymentBody,
    RescheduleBody,
    ReversalBody,
    WriteOffBody,
)
from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import payment_pb2
from shared.errors import ValidationError
from shared.permissions import Permission as P

router = APIRouter(tags=["loans"])

STATUSES = {
    enum_value(n, "LOAN_STATUS_"): v
    for n, v in loan_pb2.LoanStatus.items()
    if v != loan_pb2.LOAN_STATUS_UNSPECIFIED
}


def product_json(p: loan_pb2.LoanProduct) -> dict[str, Any]:
    data = to_json(p, drop=("create_time",))
    return {k: (v if v != "" else None) for k, v in data.items()}


def loan_status(value: Any) -> str:
    return enum_value(loan_pb2.LoanStatus.Name(value), "LOAN_STATUS_")


def loan_json(loan: loan_pb2.Loan) -> dict[str, Any]:
    data = to_json(loan, drop=("applied_payment_ids", "version", "schedule_history"))
    data["status"] = loan_status(loan.status)
    data["pricing"] = to_json(loan.pricing)
    data.update(
        {
            "total_interest": loan.pricing.total_interest,
            "total_fees": loan.pricing.total_fees,
            "total_repayment": loan.pricing.total_repayment,
            "apr": loan.pricing.apr,
            "eir": loan.pricing.eir,
        }
    )
    data["score"] = score_json(loan.score) if loan.HasField("score") else None
    for key in (
        "disbursement_date",
        "oldest_unpaid_due_date",
        "approved_by",
        "purpose",
        "override_reason",
        "first_repayment_date",
    ):
        data[key] = data.get(key) or None
    data["history"] = [{**to_json(h), "status": loan_status(h.status)} for h in loan.history]
    return data


def score_json(score: loan_pb2.LoanScore) -> dict[str, Any]:
    return {
        "score": score.score,
        "band": score.band,
        "scorecard_id": score.scorecard_id,
        "scorecard_version": score.scorecard_version,
        "contributions": [to_json(c) for c in score.contributions],
    }


def payment_json(p: payment_pb2.Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "loan_id": p.loan_id,
        "amount": p.amount,
        "currency": p.currency,
        "paid_on": p.paid_on,
        "channel": p.channel,
        "reference": p.reference or None,
        "status": enum_value(payment_pb2.PaymentStatus.Name(p.status), "PAYMENT_STATUS_"),
        "allocation": {
            k: getattr(p.allocation, k)
            for k in ("principal", "interest", "fees", "penalties", "overpayment")
        },
        "outstanding": to_json(p.outstanding),
        "loan_status": loan_status(p.loan_status) if p.loan_status else None,
        "recorded_by": p.recorded_by,
        "reversal_reason": p.reversal_reason or None,
        "created_at": to_json(p).get("create_time"),
    }


# --- products and quotes ----------------------------------------------------------------


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a retry with the same key applies nothing",
    ),
]
OptionalIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="optional: a retry with the same key and body disburses nothing again",
    ),
]


@router.post(
    "/v1/loan-products",
    status_code=201,
    tags=["loan products"],
    dependencies=[allowed(P.LOAN_PRODUCTS_CREATE)],
)
async def create_product(body: LoanProductBody, stubs: Stubs) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    reply = await stubs.loan.CreateLoanProduct(
        loan_pb2.CreateLoanProductRequest(product=loan_pb2.LoanProduct(**fields))
    )
    return product_json(reply.product)


@router.get(
    "/v1/loan-products", tags=["loan products"], dependencies=[allowed(P.LOAN_PRODUCTS_READ)]
)
async def list_products(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.loan.ListLoanProducts(
        loan_pb2.ListLoanProductsRequest(page_size=page_size, page_token=page_token)
    )
    return page([product_json(p) for p in reply.products], reply.next_page_token)


@router.get(
    "/v1/loan-products/{product_id}",
    tags=["loan products"],
    dependencies=[allowed(P.LOAN_PRODUCTS_READ)],
)
async def get_product(product_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.GetLoanProduct(loan_pb2.GetLoanProductRequest(product_id=product_id))
    return product_json(reply.product)


@router.post(
    "/v1/loan-quotes", tags=["loan products"], dependencies=[allowed(P.LOAN_PRODUCTS_READ)]
)
async def quote(body: QuoteBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.QuoteLoan(
        loan_pb2.QuoteLoanRequest(
            product_id=body.product_id,
            principal=body.principal,
            term=body.term,
            disbursement_date=body.disbursement_date,
            first_repayment_date=body.first_repayment_date or "",
        )
    )
    keep = ("number", "due_date", "principal", "interest", "fees", "total", "balance")
    return {
        "installments": [{k: to_json(i)[k] for k in keep} for i in reply.installments],
        **to_json(reply.pricing),
    }


# --- loans ------------------------------------------------------------------------------


@router.post("/v1/loans", status_code=201, dependencies=[allowed(P.LOANS_CREATE)])
async def create_loan(body: LoanBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.CreateLoan(
        loan_pb2.CreateLoanRequest(
            borrower_id=body.borrower_id,
            product_id=body.product_id,
            principal=body.principal,
            term=body.term,
            disbursement_date=body.disbursement_date or "",
            purpose=body.purpose or "",
        )
    )
    return loan_json(reply.loan)


@router.get("/v1/loans", dependencies=[allowed(P.LOANS_READ)])
async def list_loans(
    stubs: Stubs, borrower_id: str = "", status: str = "", page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise ValidationError.of("status", f"must be one of {', '.join(STATUSES)}")
    reply = await stubs.loan.ListLoans(
        loan_pb2.ListLoansRequest(
            borrower_id=borrower_id,
            status=STATUSES.get(status, loan_pb2.LOAN_STATUS_UNSPECIFIED),
            page_size=page_size,
            page_token=page_token,
        )
    )
    return page([loan_json(loan) for loan in reply.loans], reply.next_page_token)


@router.get("/v1/loans/{loan_id}", dependencies=[allowed(P.LOANS_READ)])
async def get_loan(loan_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan_id))
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/approve", dependencies=[allowed(P.LOANS_APPROVE)])
async def approve(loan_id: str, stubs: Stubs, body: ApproveBody | None = None) -> dict[str, Any]:
    body = body or ApproveBody(note=None, override_reason=None)
    reply = await stubs.loan.ApproveLoan(
        loan_pb2.ApproveLoanRequest(
            loan_id=loan_id, note=body.note or "", override_reason=body.override_reason or ""
        )
    )
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/reject", dependencies=[allowed(P.LOANS_REJECT)])
async def reject(loan_id: str, body: RejectBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.RejectLoan(
        loan_pb2.RejectLoanRequest(loan_id=loan_id, reason=body.reason)
    )
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/disburse", dependencies=[allowed(P.LOANS_DISBURSE)])
async def disburse(
    loan_id: str,
    body: DisburseBody,
    stubs: Stubs,
    idempotency_key: OptionalIdempotencyKey = "",
) -> dict[str, Any]:
    reply = await stubs.loan.DisburseLoan(
        loan_pb2.DisburseLoanRequest(
            loan_id=loan_id,
            disbursement_date=body.disbursement_date,
            first_repayment_date=body.first_repayment_date or "",
            channel=body.channel,
            request_id=idempotency_key,
        )
    )
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/write-off", dependencies=[allowed(P.LOANS_WRITE_OFF)])
async def write_off(loan_id: str, body: WriteOffBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.WriteOffLoan(
        loan_pb2.WriteOffLoanRequest(loan_id=loan_id, reason=body.reason, date=body.date or "")
    )
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/reschedule", dependencies=[allowed(P.LOANS_RESCHEDULE)])
async def reschedule(loan_id: str, body: RescheduleBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.RescheduleLoan(
        loan_pb2.RescheduleLoanRequest(
            loan_id=loan_id,
            new_term=body.new_term,
            new_annual_interest_rate=body.new_annual_interest_rate or "",
            grace_on_principal=body.grace_on_principal,
            reason=body.reason,
            date=body.date or "",
        )
    )
    return loan_json(reply.loan)


@router.post("/v1/loans/{loan_id}/score", dependencies=[allowed(P.LOANS_SCORE)])
async def score(loan_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.ScoreLoan(loan_pb2.ScoreLoanRequest(loan_id=loan_id))
    return score_json(reply.score)


@router.get("/v1/loans/{loan_id}/payoff-quote", dependencies=[allowed(P.LOANS_READ)])
async def payoff(loan_id: str, stubs: Stubs, date: str = "") -> dict[str, Any]:
    reply = await stubs.loan.GetPayoffQuote(
        loan_pb2.GetPayoffQuoteRequest(loan_id=loan_id, date=date)
    )
    return to_json(reply.payoff)


# --- repayments (payment_service owns the money; loan_service the balances) -------------


def _movement(loan_id: str, body: RepaymentBody, idempotency_key: str) -> dict[str, Any]:
    """The fields a repayment and a refund request share."""
    return {
        "loan_id": loan_id,
        "amount": body.amount,
        "paid_on": body.paid_on,
        "reference": body.reference or "",
        "channel": body.channel,
        "idempotency_key": idempotency_key,
    }


@router.post(
    "/v1/loans/{loan_id}/repayments",
    status_code=201,
    tags=["repayments"],
    dependencies=[allowed(P.REPAYMENTS_CREATE)],
)
async def post_repayment(
    loan_id: str, body: RepaymentBody, idempotency_key: IdempotencyKey, stubs: Stubs
) -> dict[str, Any]:
    reply = await stubs.payment.PostRepayment(
        payment_pb2.PostRepaymentRequest(**_movement(loan_id, body, idempotency_key))
    )
    return payment_json(reply.payment)


@router.post(
    "/v1/loans/{loan_id}/refunds",
    status_code=201,
    tags=["repayments"],
    dependencies=[allowed(P.REPAYMENTS_REVERSE)],
)
async def refund_credit(
    loan_id: str, body: RepaymentBody, idempotency_key: IdempotencyKey, stubs: Stubs
) -> dict[str, Any]:
    """Pays (part of) the loan's credit balance, what the borrower overpaid, back to the
    borrower through ``channel``: Dr overpayment liability, Cr the channel. At most the credit
    balance (422 naming ``amount``); the same privilege as reversing a repayment."""
    reply = await stubs.payment.RefundCredit(
        payment_pb2.RefundCreditRequest(**_movement(loan_id, body, idempotency_key))
    )
    return payment_json(reply.payment)


@router.get(
    "/v1/loans/{loan_id}/repayments", tags=["repayments"], dependencies=[allowed(P.REPAYMENTS_READ)]
)
async def list_repayments(
    loan_id: str, stubs: Stubs, page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.payment.ListRepayments(
        payment_pb2.ListRepaymentsRequest(
            loan_id=loan_id, page_size=page_size, page_token=page_token
        )
    )
    return page([payment_json(p) for p in reply.payments], reply.next_page_token)


@router.post(
    "/v1/repayments/{payment_id}/reverse",
    tags=["repayments"],
    dependencies=[allowed(P.REPAYMENTS_REVERSE)],
)
async def reverse_repayment(payment_id: str, body: ReversalBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.payment.ReverseRepayment(
        payment_pb2.ReverseRepaymentRequest(payment_id=payment_id, reason=body.reason)
    )
    return payment_json(reply.payment)


# --- close of business ------------------------------------------------------------------


def job_json(job: loan_pb2.CloseOfBusinessJob) -> dict[str, Any]:
    return to_json(job)


# --- the institution's lending settings ----------------------------------------------


def settings_json(settings: loan_pb2.LoanSettings) -> dict[str, Any]:
    return {
        "institution_id": settings.institution_id,
        "approval_limits": {limit.role: limit.amount or None for limit in settings.approval_limits},
        "delinquency_buckets": [
            {
                "name": b.name,
                "min_days": b.min_days,
                "max_days": None if b.open_ended else b.max_days,
            }
            for b in settings.delinquency_buckets
        ],
        "business_date": settings.business_date or None,
    }


@router.get(
    "/v1/institutions/{institution_id}/loan-settings",
    tags=["institutions"],
    dependencies=[allowed(P.SETTINGS_READ)],
)
async def get_loan_settings(institution_id: str, stubs: Stubs) -> dict[str, Any]:
    """Approval limits per role, delinquency buckets and the last close-of-business date.
    Another institution's are 404."""
    reply = await stubs.loan.GetLoanSettings(
        loan_pb2.GetLoanSettingsRequest(institution_id=institution_id)
    )
    return settings_json(reply.settings)


@router.put(
    "/v1/institutions/{institution_id}/loan-settings",
    tags=["institutions"],
    dependencies=[allowed(P.SETTINGS_MANAGE)],
)
async def update_loan_settings(
    institution_id: str, body: LoanSettingsBody, stubs: Stubs
) -> dict[str, Any]:
    """Replace the approval limits and/or the delinquency buckets (the institution's admins)."""
    request = loan_pb2.UpdateLoanSettingsRequest(institution_id=institution_id)
    if body.approval_limits is not None:
        request.set_approval_limits = True
        request.approval_limits.extend(
            loan_pb2.ApprovalLimit(role=role, amount=amount or "")
            for role, amount in body.approval_limits.items()
        )
    if body.delinquency_buckets is not None:
        request.set_delinquency_buckets = True
        request.delinquency_buckets.extend(
            loan_pb2.DelinquencyBucket(
                name=b.name,
                min_days=b.min_days,
                max_days=b.max_days or 0,
                open_ended=b.max_days is None,
            )
            for b in body.delinquency_buckets
        )
    reply = await stubs.loan.UpdateLoanSettings(request)
    return settings_json(reply.settings)


@router.post("/v1/jobs/close-of-business", tags=["jobs"], dependencies=[allowed(P.JOBS_RUN)])
async def close_of_business(body: CloseOfBusinessBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=body.as_of, wait=body.wait), timeout=3600
    )
    return job_json(reply.job)


@router.get("/v1/jobs/close-of-business/{as_of}", tags=["jobs"], dependencies=[allowed(P.JOBS_RUN)])
async def close_of_business_status(as_of: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.loan.GetCloseOfBusinessJob(
        loan_pb2.GetCloseOfBusinessJobRequest(as_of=as_of)
    )
    return job_json(reply.job)
