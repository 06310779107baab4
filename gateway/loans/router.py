"""Loans: applications and their life cycle (see `gateway.loans.schemas`), scores and payoff
quotes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.loans.schemas import (
    ApproveBody,
    DisburseBody,
    Loan,
    LoanBody,
    LoanScore,
    LoanStatus,
    Outstanding,
    RejectBody,
    RescheduleBody,
    WriteOffBody,
)
from gateway.schema import IsoDate, OptionalIdempotencyKey, Page, PageSize, PageToken
from kopa.loan.v2 import loans_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["loans"])


@router.post(
    "/v1/loans",
    status_code=201,
    summary="Apply for a loan",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def create_loan(body: LoanBody, stubs: Stubs) -> Loan:
    """Submits an application for a borrower under a loan product: the loan starts
    `submitted`, with an indicative schedule from `disbursement_date` (if given). Principal and
    term outside the product's limits are 422 naming the field; the product's other
    eligibility rules are judged at approval."""
    reply = await stubs.loan.CreateLoan(to_proto(loans_pb2.CreateLoanRequest, body))
    return Loan.of(reply.loan)


@router.get("/v1/loans", summary="List loans", dependencies=[allowed(P.LOANS_READ)])
async def list_loans(
    stubs: Stubs,
    borrower_id: Annotated[str | None, Query(description="only this borrower's loans")] = None,
    status: Annotated[LoanStatus | None, Query(description="only loans in this status")] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Loan]:
    """The loans in the caller's scope (an agent or branch manager sees their branch's),
    optionally of one borrower or in one status."""
    reply = await stubs.loan.ListLoans(
        to_proto(
            loans_pb2.ListLoansRequest,
            {},
            borrower_id=borrower_id,
            status=status,
            page_size=page_size,
            page_token=page_token,
        )
    )
    return Page[Loan](
        items=[Loan.of(loan) for loan in reply.loans], next_page_token=reply.next_page_token
    )


@router.get("/v1/loans/{loan_id}", summary="Get a loan", dependencies=[allowed(P.LOANS_READ)])
async def get_loan(loan_id: str, stubs: Stubs) -> Loan:
    """The loan in any status, with its schedule and what has been paid of each installment,
    what is outstanding, its days past due as of the institution's business date, its score
    and its history."""
    reply = await stubs.loan.GetLoan(
        loans_pb2.GetLoanRequest(loan_id=loan_id, with_group_arrears=True)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/approve",
    summary="Approve an application",
    dependencies=[allowed(P.LOANS_APPROVE)],
)
async def approve(loan_id: str, stubs: Stubs, body: ApproveBody | None = None) -> Loan:
    """`submitted` -> `approved` (the body may be left out). Maker-checker: the approver must
    not be the loan's creator (403 `MAKER_CHECKER_VIOLATION`), and the principal must be within
    the approver's role limit (403 `APPROVAL_LIMIT_EXCEEDED`). A failed eligibility rule (such
    as a score below the product's minimum band) is 409 `NOT_ELIGIBLE`, each failed rule
    named, unless a branch manager gives an `override_reason`. Any other status is 409
    `ILLEGAL_TRANSITION`."""
    reply = await stubs.loan.ApproveLoan(
        to_proto(loans_pb2.ApproveLoanRequest, body or {}, loan_id=loan_id)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/reject",
    summary="Reject an application",
    dependencies=[allowed(P.LOANS_REJECT)],
)
async def reject(loan_id: str, body: RejectBody, stubs: Stubs) -> Loan:
    """`submitted` -> `rejected`, for good, with the reason in the history. Any other status
    is 409 `ILLEGAL_TRANSITION`."""
    reply = await stubs.loan.RejectLoan(
        to_proto(loans_pb2.RejectLoanRequest, body, loan_id=loan_id)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/disburse",
    summary="Disburse an approved loan",
    dependencies=[allowed(P.LOANS_DISBURSE)],
)
async def disburse(
    loan_id: str,
    body: DisburseBody,
    stubs: Stubs,
    idempotency_key: OptionalIdempotencyKey = "",
) -> Loan:
    """`approved` -> `active`: the money is paid out through `channel` and the schedule is
    fixed from `disbursement_date` (a past date is accepted, for back-office entry). With an
    `Idempotency-Key`, a retry with the same body answers the loan again and disburses nothing
    twice; the same key with another body is 409 `IDEMPOTENCY_KEY_REUSED`. Without one, a
    second disbursement is 409 `ILLEGAL_TRANSITION`."""
    reply = await stubs.loan.DisburseLoan(
        to_proto(loans_pb2.DisburseLoanRequest, body, loan_id=loan_id, request_id=idempotency_key)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/write-off",
    summary="Write off an active loan",
    dependencies=[allowed(P.LOANS_WRITE_OFF)],
)
async def write_off(loan_id: str, body: WriteOffBody, stubs: Stubs) -> Loan:
    """`active` -> `written_off`, for good: what is outstanding leaves the portfolio (shown in
    `written_off_principal`). `date` must not be before the disbursement. Any other status is
    409 `ILLEGAL_TRANSITION`."""
    reply = await stubs.loan.WriteOffLoan(
        to_proto(loans_pb2.WriteOffLoanRequest, body, loan_id=loan_id)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/reschedule",
    summary="Reschedule an active loan",
    dependencies=[allowed(P.LOANS_RESCHEDULE)],
)
async def reschedule(loan_id: str, body: RescheduleBody, stubs: Stubs) -> Loan:
    """Restructures an `active` loan: the principal outstanding on `date` is spread over a
    new schedule (a new term, rate or principal grace), interest earned to then, unpaid fees
    and penalties carried into its first installment. `date` must not be before the
    disbursement, the last reschedule or a repayment. The loan stays `active` and is marked
    `rescheduled` (it counts in PAR whatever its arrears). Any other status is 409
    `ILLEGAL_TRANSITION`."""
    reply = await stubs.loan.RescheduleLoan(
        to_proto(loans_pb2.RescheduleLoanRequest, body, loan_id=loan_id)
    )
    return Loan.of(reply.loan)


@router.post(
    "/v1/loans/{loan_id}/score",
    summary="Score an application",
    dependencies=[allowed(P.LOANS_SCORE)],
)
async def score(loan_id: str, stubs: Stubs) -> LoanScore:
    """Scores the loan's borrower and application with the institution's published
    scorecard and keeps the result on the loan (its `score`), where approval checks it against
    the product's minimum band."""
    reply = await stubs.loan.ScoreLoan(loans_pb2.ScoreLoanRequest(loan_id=loan_id))
    return from_proto(LoanScore, reply.score)


@router.get(
    "/v1/loans/{loan_id}/payoff-quote",
    summary="What closes the loan on a date",
    dependencies=[allowed(P.LOANS_READ)],
    responses={409: {"description": "The loan is not active: `LOAN_NOT_ACTIVE`."}},
)
async def payoff(
    loan_id: str,
    stubs: Stubs,
    date: Annotated[IsoDate | None, Query(description="default: today")] = None,
) -> Outstanding:
    """What a repayment on `date` must be to pay an `active` loan in full (and close it):
    the principal outstanding, the interest accrued to that date, fees and penalties."""
    reply = await stubs.loan.GetPayoffQuote(
        to_proto(loans_pb2.GetPayoffQuoteRequest, loan_id=loan_id, date=date)
    )
    return from_proto(Outstanding, reply.payoff)
