"""A loan's guarantors and collateral: what secures it, checked at approval against the
product's coverage rule."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.loan_securities.schemas import (
    Collateral,
    CollateralBody,
    Guarantor,
    GuarantorBody,
    Securities,
)
from gateway.schema import Page
from kopa.loan.v2 import securities_pb2 as pb
from shared.permissions import Permission as P

router = APIRouter(tags=["loans"])


def _collateral(c: pb.Collateral) -> Collateral:
    return from_proto(Collateral, c, currency=c.value.currency_code)


@router.post(
    "/v1/loans/{loan_id}/guarantors",
    status_code=201,
    summary="Add a guarantor",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def add_guarantor(loan_id: str, body: GuarantorBody, stubs: Stubs) -> Guarantor:
    """A registered borrower (`borrower_id`, not the loan's own, once per loan) or an outside
    person (`full_name`, `national_id`, `phone`) guarantees `amount` of a loan not yet
    disbursed. What a borrower guarantees counts against their own borrowing: at approval
    of their loans, its principal plus their live guarantees must stay within the product's
    maximum (an eligibility rule, `borrowing_capacity`, that may be overridden)."""
    reply = await stubs.loan_securities.AddGuarantor(
        to_proto(pb.AddGuarantorRequest, body, loan_id=loan_id)
    )
    return from_proto(Guarantor, reply.guarantor)


@router.get(
    "/v1/loans/{loan_id}/guarantors",
    summary="A loan's guarantors",
    dependencies=[allowed(P.LOANS_READ)],
)
async def list_guarantors(loan_id: str, stubs: Stubs) -> Page[Guarantor]:
    """Everyone who guarantees the loan, in the order they were added, in one page."""
    reply = await stubs.loan_securities.ListSecurities(pb.ListSecuritiesRequest(loan_id=loan_id))
    return Page[Guarantor](
        items=[from_proto(Guarantor, g) for g in reply.guarantors], next_page_token=""
    )


@router.delete(
    "/v1/loans/{loan_id}/guarantors/{guarantor_id}",
    status_code=204,
    summary="Remove a guarantor",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def remove_guarantor(loan_id: str, guarantor_id: str, stubs: Stubs) -> Response:
    await stubs.loan_securities.RemoveGuarantor(
        pb.RemoveGuarantorRequest(loan_id=loan_id, guarantor_id=guarantor_id)
    )
    return Response(status_code=204)


@router.post(
    "/v1/loans/{loan_id}/collateral",
    status_code=201,
    summary="Add a collateral item",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def add_collateral(loan_id: str, body: CollateralBody, stubs: Stubs) -> Collateral:
    """An item pledged for a loan not yet disbursed, at its estimated value in the loan's
    currency, with where it is kept and the borrower's documents that support it."""
    data = body.model_dump(exclude_none=True, exclude={"currency"})
    request = to_proto(pb.AddCollateralRequest, data, loan_id=loan_id)
    request.value.currency_code = body.currency or ""
    reply = await stubs.loan_securities.AddCollateral(request)
    return _collateral(reply.collateral)


@router.get(
    "/v1/loans/{loan_id}/collateral",
    summary="A loan's collateral",
    dependencies=[allowed(P.LOANS_READ)],
)
async def list_collateral(loan_id: str, stubs: Stubs) -> Page[Collateral]:
    """Every item pledged for the loan, in the order they were added, in one page."""
    reply = await stubs.loan_securities.ListSecurities(pb.ListSecuritiesRequest(loan_id=loan_id))
    return Page[Collateral](items=[_collateral(c) for c in reply.collateral], next_page_token="")


@router.delete(
    "/v1/loans/{loan_id}/collateral/{collateral_id}",
    status_code=204,
    summary="Remove a collateral item",
    dependencies=[allowed(P.LOANS_CREATE)],
)
async def remove_collateral(loan_id: str, collateral_id: str, stubs: Stubs) -> Response:
    await stubs.loan_securities.RemoveCollateral(
        pb.RemoveCollateralRequest(loan_id=loan_id, collateral_id=collateral_id)
    )
    return Response(status_code=204)


@router.get(
    "/v1/loans/{loan_id}/securities",
    summary="A loan's guarantors and collateral",
    dependencies=[allowed(P.LOANS_READ)],
)
async def list_securities(loan_id: str, stubs: Stubs) -> Securities:
    """The guarantors and collateral, what they cover together and what the product requires
    (approval is refused with 409 `SECURITY_INSUFFICIENT`, naming what is missing, below it)."""
    reply = await stubs.loan_securities.ListSecurities(pb.ListSecuritiesRequest(loan_id=loan_id))
    return from_proto(Securities, reply, collateral=[_collateral(c) for c in reply.collateral])
