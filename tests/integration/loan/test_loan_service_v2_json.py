"""The API's JSON is the same whichever version of kopa.loan.*.LoanService the gateway reads:
the gateway's response models (`gateway.convert.from_proto`) fed v1's text and v2's Money,
Date and enums give the same JSON, for a loan that has been repaid, reversed and
rescheduled, its product, a quote, a payoff quote, a collection sheet and a close of
business; the settings as v1's text showed them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.type import money_pb2

from gateway.collection_sheets.router import sheet_from_proto
from gateway.collection_sheets.schemas import CollectionSheet
from gateway.convert import from_proto
from gateway.institutions.router import _loan_settings
from gateway.jobs.schemas import CloseOfBusinessJob
from gateway.loan_products.schemas import LoanProduct, Quote
from gateway.loans.schemas import Loan, Outstanding, Pricing
from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import loans_pb2 as v2
from kopa.loan.v2 import repayments_pb2
from shared.dates import to_proto_date
from tests.support.loan_world import TODAY, World, active, create_product, institution

pytestmark = pytest.mark.integration


def shown(model: Any) -> Any:
    return model.model_dump(mode="json")


async def test_a_serviced_loan_and_its_product_show_the_same_json(world: World) -> None:
    inst = institution(world)
    product = await create_product(
        inst,
        late_penalty_flat="50.00",
        upfront_fee_rate="2",
        upfront_fee_mode="financed",
        installment_fee="10.00",
    )
    disbursed = TODAY - timedelta(days=75)
    loan = await active(inst, product.id, disbursed)
    for payment_id, units in (("pay_1", 2500), ("pay_2", 700)):
        await world.money.ApplyRepayment(
            repayments_pb2.ApplyRepaymentRequest(
                loan_id=loan.id,
                payment_id=payment_id,
                amount=units * 100 + 5,
                currency="KES",
                paid_on=to_proto_date(disbursed + timedelta(days=35)),
            ),
            metadata=inst.manager,
        )
    await world.money.ReverseRepayment(
        repayments_pb2.ReverseRepaymentRequest(loan_id=loan.id, payment_id="pay_2", reason="x"),
        metadata=inst.manager,
    )
    await world.v2.RescheduleLoan(
        v2.RescheduleLoanRequest(
            loan_id=loan.id,
            new_term=9,
            reason="harvest",
            date=to_proto_date(disbursed + timedelta(days=40)),
        ),
        metadata=inst.manager,
    )
    await world.v2.RunCloseOfBusiness(
        v2.RunCloseOfBusinessRequest(as_of=to_proto_date(TODAY - timedelta(days=1)), wait=True),
        metadata=inst.admin,
    )

    old = await world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)
    new = await world.v2.GetLoan(v2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)
    json = shown(Loan.of(new.loan))
    assert json == shown(Loan.of(old.loan))
    assert json["repayments"][0]["amount"] == "2500.05"
    assert json["repayments"][1]["reversed"] is True
    assert json["rescheduled"] is True
    assert json["classification_history"] != []

    old_p = await world.loans.GetLoanProduct(
        loan_pb2.GetLoanProductRequest(product_id=product.id), metadata=inst.admin
    )
    new_p = await world.v2.GetLoanProduct(
        v2.GetLoanProductRequest(product_id=product.id), metadata=inst.admin
    )
    assert shown(from_proto(LoanProduct, new_p.product)) == shown(
        from_proto(LoanProduct, old_p.product)
    )

    on = TODAY.isoformat()
    old_o = await world.loans.GetPayoffQuote(
        loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date=on), metadata=inst.admin
    )
    new_o = await world.v2.GetPayoffQuote(
        v2.GetPayoffQuoteRequest(loan_id=loan.id, date=to_proto_date(on)), metadata=inst.admin
    )
    assert shown(from_proto(Outstanding, new_o.payoff)) == shown(
        from_proto(Outstanding, old_o.payoff)
    )

    old_s = await world.loans.GetCollectionSheet(
        loan_pb2.GetCollectionSheetRequest(date=on), metadata=inst.admin
    )
    new_s = await world.v2.GetCollectionSheet(
        v2.GetCollectionSheetRequest(date=to_proto_date(on)), metadata=inst.admin
    )
    assert new_s.items
    assert shown(sheet_from_proto(new_s)) == shown(from_proto(CollectionSheet, old_s))

    as_of = (TODAY - timedelta(days=1)).isoformat()
    old_j = await world.loans.GetCloseOfBusinessJob(
        loan_pb2.GetCloseOfBusinessJobRequest(as_of=as_of), metadata=inst.admin
    )
    new_j = await world.v2.GetCloseOfBusinessJob(
        v2.GetCloseOfBusinessJobRequest(as_of=to_proto_date(as_of)), metadata=inst.admin
    )
    assert shown(from_proto(CloseOfBusinessJob, new_j.job)) == shown(
        from_proto(CloseOfBusinessJob, old_j.job)
    )


async def test_a_quote_and_the_settings_show_the_same_json(world: World) -> None:
    inst = institution(world, currency="UGX")
    product = await create_product(
        inst, min_principal="100000", max_principal="90000000", rounding_multiple="100"
    )
    old_q = await world.loans.QuoteLoan(
        loan_pb2.QuoteLoanRequest(
            product_id=product.id, principal="1500000", term=5, disbursement_date="2025-01-31"
        ),
        metadata=inst.agent,
    )
    new_q = await world.v2.QuoteLoan(
        v2.QuoteLoanRequest(
            product_id=product.id,
            principal=money_pb2.Money(units=1_500_000),
            term=5,
            disbursement_date=to_proto_date("2025-01-31"),
        ),
        metadata=inst.agent,
    )

    def quote(reply: Any) -> Any:
        return shown(from_proto(Quote, reply, **from_proto(Pricing, reply.pricing).model_dump()))

    assert quote(new_q) == quote(old_q)
    assert quote(new_q)["total_repayment"].isdigit()  # UGX has no decimals

    await world.v2.UpdateLoanSettings(
        v2.UpdateLoanSettingsRequest(
            institution_id=inst.id,
            set_approval_limits=True,
            approval_limits=[
                v2.ApprovalLimit(role="branch_manager", amount=money_pb2.Money(units=5_000_000))
            ],
        ),
        metadata=inst.admin,
    )
    old_t = await world.loans.GetLoanSettings(
        loan_pb2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.admin
    )
    new_t = await world.v2.GetLoanSettings(
        v2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.admin
    )
    json = shown(_loan_settings(new_t.settings))
    # v1's text, as the gateway showed it.
    assert json["approval_limits"] == {
        limit.role: limit.amount or None for limit in old_t.settings.approval_limits
    }
    assert json["approval_limits"] == {"admin": None, "branch_manager": "5000000"}
    assert json["business_date"] is None and json["delinquency_buckets"][-1] == {
        "name": "over_180",
        "min_days": 181,
        "max_days": None,
    }
