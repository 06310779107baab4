"""Loan products and quotes."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.loan_products.schemas import LoanProduct, LoanProductBody, Quote, QuoteBody
from gateway.loans.schemas import Pricing
from gateway.schema import Page, PageSize, PageToken
from kopa.loan.v2 import loans_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["loan products"])


@router.post(
    "/v1/loan-products",
    status_code=201,
    summary="Create a loan product",
    dependencies=[allowed(P.LOAN_PRODUCTS_CREATE)],
)
async def create_product(body: LoanProductBody, stubs: Stubs) -> LoanProduct:
    """Defines terms the institution lends on, in its currency. Loans keep the terms of the
    product they were made under."""
    reply = await stubs.loan.CreateLoanProduct(
        loans_pb2.CreateLoanProductRequest(product=to_proto(loans_pb2.LoanProduct, body))
    )
    return from_proto(LoanProduct, reply.product)


@router.get(
    "/v1/loan-products", summary="List loan products", dependencies=[allowed(P.LOAN_PRODUCTS_READ)]
)
async def list_products(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[LoanProduct]:
    """The institution's loan products."""
    reply = await stubs.loan.ListLoanProducts(
        loans_pb2.ListLoanProductsRequest(page_size=page_size, page_token=page_token)
    )
    return Page[LoanProduct](
        items=[from_proto(LoanProduct, p) for p in reply.products],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/loan-products/{product_id}",
    summary="Get a loan product",
    dependencies=[allowed(P.LOAN_PRODUCTS_READ)],
)
async def get_product(product_id: str, stubs: Stubs) -> LoanProduct:
    """One of the institution's loan products."""
    reply = await stubs.loan.GetLoanProduct(loans_pb2.GetLoanProductRequest(product_id=product_id))
    return from_proto(LoanProduct, reply.product)


@router.post(
    "/v1/loan-quotes", summary="Quote a loan", dependencies=[allowed(P.LOAN_PRODUCTS_READ)]
)
async def quote(body: QuoteBody, stubs: Stubs) -> Quote:
    """The schedule and price (total interest and fees, APR, EIR) of a principal and term
    under a product, disbursed on `disbursement_date`, as an application would get them; no
    record is kept. Principal and term outside the product's limits are 422 naming the
    field."""
    reply = await stubs.loan.QuoteLoan(to_proto(loans_pb2.QuoteLoanRequest, body))
    return from_proto(Quote, reply, **from_proto(Pricing, reply.pricing).model_dump())
