"""Group loans: one application of a group, one loan per member, moved together; a meeting's
repayment split across the member loans."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.group_loans.schemas import (
    GroupApproveBody,
    GroupDisburseBody,
    GroupLoan,
    GroupLoanBody,
    GroupRejectBody,
    GroupRepayment,
    GroupRepaymentBody,
    GroupRepaymentPart,
)
from gateway.repayments.schemas import Repayment
from gateway.schema import IdempotencyKey, OptionalIdempotencyKey, Page
from kopa.loan.v2 import group_loans_pb2 as pb
from kopa.payment.v2 import repayments_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["group loans"])


@router.post(
    "/v1/group-loans",
    status_code=201,
    summary="Apply for a group loan",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def create_group_loan(
    body: GroupLoanBody, stubs: Stubs, idempotency_key: OptionalIdempotencyKey = ""
) -> GroupLoan:
    """One application for an active group under a product that lends to groups (within its
    group size), with a principal per member: every member named must be a current member,
    every principal within the product's limits (each bad one named, e.g.
    `members[1].principal`), and nothing is made unless all are. Makes one `submitted` loan
    per member. Under joint liability a group with a member loan in arrears is refused (409
    `GROUP_IN_ARREARS`). With an `Idempotency-Key`, a retry answers the same group loan."""
    reply = await stubs.group_loans.CreateGroupLoan(
        to_proto(pb.CreateGroupLoanRequest, body, request_id=idempotency_key)
    )
    return from_proto(GroupLoan, reply.group_loan)


@router.get(
    "/v1/group-loans",
    summary="A group's group loans",
    dependencies=[allowed(P.LOANS_READ)],
)
async def list_group_loans(
    stubs: Stubs, group_id: Annotated[str, Query(min_length=1, description="the group")]
) -> Page[GroupLoan]:
    """Every group loan of the group, oldest first, in one page."""
    reply = await stubs.group_loans.ListGroupLoans(pb.ListGroupLoansRequest(group_id=group_id))
    return Page[GroupLoan](
        items=[from_proto(GroupLoan, g) for g in reply.group_loans], next_page_token=""
    )


@router.get(
    "/v1/group-loans/{group_loan_id}",
    summary="Get a group loan",
    dependencies=[allowed(P.LOANS_READ)],
)
async def get_group_loan(group_loan_id: str, stubs: Stubs) -> GroupLoan:
    """The group loan with each member's loan, what they owe together and the most days past
    due of any. Another institution's, or for branch staff another branch's, is a 404."""
    reply = await stubs.group_loans.GetGroupLoan(
        pb.GetGroupLoanRequest(group_loan_id=group_loan_id)
    )
    return from_proto(GroupLoan, reply.group_loan)


@router.post(
    "/v1/group-loans/{group_loan_id}/approve",
    summary="Approve a group loan",
    dependencies=[allowed(P.LOANS_APPROVE)],
)
async def approve_group_loan(
    group_loan_id: str, stubs: Stubs, body: GroupApproveBody | None = None
) -> GroupLoan:
    """Approves every member loan (each by the rules for a loan: the approver's limit,
    eligibility, an override with a reason). One refused stops there with its problem;
    asking again approves the rest."""
    reply = await stubs.group_loans.ApproveGroupLoan(
        to_proto(pb.ApproveGroupLoanRequest, body or {}, group_loan_id=group_loan_id)
    )
    return from_proto(GroupLoan, reply.group_loan)


@router.post(
    "/v1/group-loans/{group_loan_id}/reject",
    summary="Reject a group loan",
    dependencies=[allowed(P.LOANS_REJECT)],
)
async def reject_group_loan(group_loan_id: str, body: GroupRejectBody, stubs: Stubs) -> GroupLoan:
    """Rejects every member loan still submitted."""
    reply = await stubs.group_loans.RejectGroupLoan(
        to_proto(pb.RejectGroupLoanRequest, body, group_loan_id=group_loan_id)
    )
    return from_proto(GroupLoan, reply.group_loan)


@router.post(
    "/v1/group-loans/{group_loan_id}/disburse",
    summary="Disburse a group loan",
    dependencies=[allowed(P.LOANS_DISBURSE)],
)
async def disburse_group_loan(
    group_loan_id: str,
    body: GroupDisburseBody,
    stubs: Stubs,
    idempotency_key: OptionalIdempotencyKey = "",
) -> GroupLoan:
    """Disburses every approved member loan on the same day; their schedules start. With an
    `Idempotency-Key` a retry disburses nothing twice."""
    reply = await stubs.group_loans.DisburseGroupLoan(
        to_proto(
            pb.DisburseGroupLoanRequest,
            body,
            group_loan_id=group_loan_id,
            request_id=idempotency_key,
        )
    )
    return from_proto(GroupLoan, reply.group_loan)


@router.post(
    "/v1/group-loans/{group_loan_id}/repayments",
    status_code=201,
    summary="Record a group's repayment",
    dependencies=[allowed(P.REPAYMENTS_CREATE)],
)
async def post_group_repayment(
    group_loan_id: str, body: GroupRepaymentBody, idempotency_key: IdempotencyKey, stubs: Stubs
) -> GroupRepayment:
    """Money collected at the group's meeting, applied to the member loans exactly once per
    `Idempotency-Key`: as entered (`parts`), or one `amount` split pro rata to what each
    member loan owes by `paid_on` (to what each owes in all when nothing is due yet), to the
    cent. Each part is an ordinary repayment of its loan (listed with the loan's
    repayments). The split is fixed by the first request: a retry after an interruption
    posts the parts not posted yet, and no part twice."""
    plan = await stubs.group_loans.PlanGroupRepayment(
        to_proto(
            pb.PlanGroupRepaymentRequest,
            body.model_dump(include={"paid_on", "amount", "parts"}, exclude_none=True),
            group_loan_id=group_loan_id,
            idempotency_key=idempotency_key,
        )
    )
    parts = []
    for part in plan.parts:
        request = to_proto(
            repayments_pb2.PostRepaymentRequest,
            body.model_dump(include={"paid_on", "channel", "reference"}, exclude_none=True),
            loan_id=part.loan_id,
            idempotency_key=f"{idempotency_key}:{part.loan_id}",
        )
        request.amount.CopyFrom(part.amount)
        reply = await stubs.repayments.PostRepayment(request)
        paid = Repayment.of(reply.payment)
        parts.append(
            GroupRepaymentPart(
                loan_id=part.loan_id,
                payment_id=paid.id,
                amount=paid.amount,
                allocation=paid.allocation,
            )
        )
    return GroupRepayment(
        id=plan.id,
        group_loan_id=group_loan_id,
        paid_on=body.paid_on,
        amount=str(sum((Decimal(p.amount) for p in parts), Decimal(0))),
        parts=parts,
    )
