"""loan_service over real gRPC: loan products (their validation, currency and listing),
quotes checked against independently computed figures, and applications outside a product's
limits.

The world (loan_service in-process on the real servers, with fake peers) is
tests.support.loan_world's, started once per module by this folder's conftest.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN

import pytest

from kopa.loan.v1 import loan_pb2
from tests.support.loan_world import (
    D,
    World,
    create_product,
    institution,
    product_message,
    submitted,
)
from tests.support.rpc import Code, fails

pytestmark = pytest.mark.integration


# --- products and quotes ----------------------------------------------------------------------


async def test_a_product_with_bad_fields_is_refused_naming_every_one(world: World) -> None:
    inst = institution(world)
    bad = product_message(
        annual_interest_rate="twelve",
        min_principal="-5",
        min_term=0,
        interest_method="compound",
        late_penalty_flat="1.234",
    )
    err = await fails(
        world.loans.CreateLoanProduct(
            loan_pb2.CreateLoanProductRequest(product=bad), metadata=inst.admin
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    fields = {f for f, _ in err.field_errors}
    assert {
        "annual_interest_rate",
        "min_principal",
        "min_term",
        "interest_method",
        "late_penalty_flat",
    } <= fields
    # An agent may read products but not create them.
    err = await fails(
        world.loans.CreateLoanProduct(
            loan_pb2.CreateLoanProductRequest(product=product_message()), metadata=inst.agent
        )
    )
    assert err.code == Code.PERMISSION_DENIED


async def test_a_product_takes_the_institution_currency_and_is_listed(world: World) -> None:
    inst = institution(world, currency="UGX")
    product = await create_product(inst, min_principal="10000", max_principal="900000")
    assert product.currency == "UGX" and product.min_principal == "10000"
    got = await world.loans.GetLoanProduct(
        loan_pb2.GetLoanProductRequest(product_id=product.id), metadata=inst.agent
    )
    assert got.product.name == "Biashara monthly"
    listed = await world.loans.ListLoanProducts(
        loan_pb2.ListLoanProductsRequest(), metadata=inst.agent
    )
    assert [p.id for p in listed.products] == [product.id]
    stranger = institution(world)
    err = await fails(
        world.loans.GetLoanProduct(
            loan_pb2.GetLoanProductRequest(product_id=product.id), metadata=stranger.admin
        )
    )
    assert err.code == Code.NOT_FOUND


async def test_a_quote_matches_independently_computed_figures(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    reply = await world.loans.QuoteLoan(
        loan_pb2.QuoteLoanRequest(
            product_id=product.id, principal="12000.00", term=6, disbursement_date="2026-01-15"
        ),
        metadata=inst.agent,
    )
    rows = reply.installments
    # Independent: 2% a month on 12,000 over 6 months, pmt = P r / (1 - (1 + r)^-n).
    r = D("0.02")
    pmt = (D(12000) * r / (1 - (1 + r) ** -6)).quantize(D("0.01"), ROUND_HALF_EVEN)
    assert pmt == D("2142.31")
    assert [row.total for row in rows[:5]] == ["2142.31"] * 5
    assert rows[0].interest == "240.00" and rows[0].principal == "1902.31"
    assert rows[0].due_date == "2026-02-15" and rows[5].due_date == "2026-07-15"
    assert rows[5].balance == "0.00"
    assert sum(D(row.principal) for row in rows) == D("12000.00")
    total_interest = sum(D(row.interest) for row in rows)
    assert reply.pricing.total_interest == str(total_interest)
    assert reply.pricing.total_repayment == str(D(12000) + total_interest)
    assert reply.pricing.apr == "24.00"
    assert reply.pricing.eir == "26.82"  # (1.02^12 - 1) in percent
    # A first repayment before the disbursement is refused, naming the field.
    err = await fails(
        world.loans.QuoteLoan(
            loan_pb2.QuoteLoanRequest(
                product_id=product.id,
                principal="12000.00",
                term=6,
                disbursement_date="2026-01-15",
                first_repayment_date="2026-01-10",
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["first_repayment_date"]


async def test_an_application_outside_the_product_limits_is_refused_and_nothing_is_created(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    err = await fails(submitted(inst, product.id, principal="100000000.00", term=600))
    assert (err.code, err.reason) == (Code.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert sorted(f for f, _ in err.field_errors) == ["principal", "term"]
    listed = await world.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=inst.borrower), metadata=inst.admin
    )
    assert list(listed.loans) == []
