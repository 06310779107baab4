"""kopa.loan.v2.LoanService over real gRPC, on the loan service as it runs: products, quotes,
a loan's life cycle, payoff quotes, collection sheets, settings and the close of business
with google.type.Money, google.type.Date and enums; a malformed Money or Date refused naming
its field and changing nothing; v1 and v2 show the same loan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from google.type import date_pb2, money_pb2

from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import loans_pb2 as v2
from shared.dates import to_proto_date
from tests.support.loan_world import TODAY, Institution, World, institution
from tests.support.rpc import Code, fails

pytestmark = pytest.mark.integration


def kes(units: int, nanos: int = 0, currency: str = "KES") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def day(text: str) -> date_pb2.Date:
    value = to_proto_date(text)
    assert value is not None
    return value


async def product(inst: Institution, **changes: Any) -> v2.LoanProduct:
    fields: dict[str, Any] = {
        "name": "Biashara monthly",
        "interest_method": v2.INTEREST_METHOD_DECLINING_BALANCE,
        "amortization": v2.AMORTIZATION_EQUAL_INSTALLMENTS,
        "annual_interest_rate": "24",
        "repayment_frequency": v2.REPAYMENT_FREQUENCY_MONTHLY,
        "min_principal": kes(1000, currency=""),
        "max_principal": kes(5_000_000, currency=""),
        "min_term": 3,
        "max_term": 24,
        "days_in_year": v2.DAYS_IN_YEAR_360,
    } | changes
    reply = await inst.world.v2.CreateLoanProduct(
        v2.CreateLoanProductRequest(product=v2.LoanProduct(**fields)), metadata=inst.admin
    )
    return reply.product


async def apply(inst: Institution, product_id: str, **kw: Any) -> v2.Loan:
    reply = await inst.world.v2.CreateLoan(
        v2.CreateLoanRequest(
            borrower_id=inst.borrower,
            product_id=product_id,
            principal=kw.pop("principal", kes(12000, currency="")),
            term=6,
            **kw,
        ),
        metadata=inst.agent,
    )
    return reply.loan


async def disbursed(inst: Institution, product_id: str, on: str) -> v2.Loan:
    loan = await apply(inst, product_id)
    await inst.world.v2.ApproveLoan(v2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.manager)
    reply = await inst.world.v2.DisburseLoan(
        v2.DisburseLoanRequest(
            loan_id=loan.id,
            disbursement_date=day(on),
            channel=v2.DISBURSEMENT_CHANNEL_MOBILE_MONEY,
        ),
        metadata=inst.manager,
    )
    return reply.loan


async def loan_count(inst: Institution) -> int:
    reply = await inst.world.v2.ListLoans(v2.ListLoansRequest(page_size=100), metadata=inst.admin)
    return len(reply.loans)


# --- products and quotes ----------------------------------------------------------------------


async def test_a_product_is_made_and_read_with_enums_and_money(world: World) -> None:
    inst = institution(world)
    made = await product(
        inst,
        upfront_fee_rate="2.5",
        upfront_fee_mode=v2.FEE_MODE_FINANCED,
        late_penalty_flat=kes(50, currency="KES"),
        allocation_strategy=v2.ALLOCATION_STRATEGY_INSTALLMENT_BY_INSTALLMENT,
    )
    assert made.currency == "KES"
    assert made.interest_method == v2.INTEREST_METHOD_DECLINING_BALANCE
    assert made.amortization == v2.AMORTIZATION_EQUAL_INSTALLMENTS
    assert made.repayment_frequency == v2.REPAYMENT_FREQUENCY_MONTHLY
    assert made.days_in_year == v2.DAYS_IN_YEAR_360
    assert made.upfront_fee_mode == v2.FEE_MODE_FINANCED
    assert made.allocation_strategy == v2.ALLOCATION_STRATEGY_INSTALLMENT_BY_INSTALLMENT
    assert made.prepayment_mode == v2.PREPAYMENT_MODE_REDUCE_TERM
    assert (made.min_principal, made.max_principal) == (kes(1000), kes(5_000_000))
    assert made.late_penalty_flat == kes(50) and made.installment_fee == kes(0)
    assert not made.HasField("upfront_fee_flat") and not made.HasField("rounding_multiple")
    assert made.upfront_fee_rate == "2.5" and made.annual_interest_rate == "24"

    got = (
        await world.v2.GetLoanProduct(
            v2.GetLoanProductRequest(product_id=made.id), metadata=inst.agent
        )
    ).product
    assert got == made
    # v1 shows the same product as text.
    old = (
        await world.loans.GetLoanProduct(
            loan_pb2.GetLoanProductRequest(product_id=made.id), metadata=inst.agent
        )
    ).product
    assert (old.min_principal, old.late_penalty_flat, old.upfront_fee_mode) == (
        "1000.00",
        "50.00",
        "financed",
    )


async def test_bad_product_amounts_are_named_and_nothing_is_made(world: World) -> None:
    inst = institution(world)
    err = await fails(
        product(
            inst,
            min_principal=kes(1000, -1, currency=""),  # units and nanos disagree in sign
            max_principal=kes(10, 5_000_000, currency=""),  # more decimals than KES has
            installment_fee=kes(5, currency="USD"),
            interest_method=7,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert {f for f, _ in err.field_errors} == {"min_principal", "interest_method"}
    # Readable but wrong for the institution: the use case names them.
    err = await fails(
        product(
            inst,
            max_principal=kes(10, 5_000_000, currency=""),
            installment_fee=kes(5, currency="USD"),
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert {f for f, _ in err.field_errors} >= {"max_principal", "installment_fee"}
    listed = await world.v2.ListLoanProducts(v2.ListLoanProductsRequest(), metadata=inst.admin)
    assert list(listed.products) == []


async def test_a_quote_is_priced_in_money_from_a_date(world: World) -> None:
    inst = institution(world)
    made = await product(inst)
    quote = await world.v2.QuoteLoan(
        v2.QuoteLoanRequest(
            product_id=made.id,
            principal=kes(12000, currency=""),
            term=6,
            disbursement_date=day("2025-01-15"),
        ),
        metadata=inst.agent,
    )
    first = quote.installments[0]
    assert first.due_date == day("2025-02-15")
    assert first.interest == kes(240)  # 2% a month of 12000
    assert quote.installments[-1].balance == kes(0)
    assert [i.due_date.month for i in quote.installments] == [2, 3, 4, 5, 6, 7]
    assert quote.pricing.apr and quote.pricing.total_repayment.currency_code == "KES"

    err = await fails(
        world.v2.QuoteLoan(
            v2.QuoteLoanRequest(
                product_id=made.id,
                principal=kes(12000, currency="UGX"),
                term=6,
                disbursement_date=date_pb2.Date(year=2025, month=2, day=30),
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["disbursement_date"]
    err = await fails(
        world.v2.QuoteLoan(
            v2.QuoteLoanRequest(
                product_id=made.id,
                principal=kes(12000, currency="UGX"),
                term=0,
                disbursement_date=day("2025-01-15"),
            ),
            metadata=inst.agent,
        )
    )
    assert {f for f, _ in err.field_errors} == {"principal", "term"}


# --- the life cycle ---------------------------------------------------------------------------


async def test_a_loan_goes_through_its_life_cycle_typed_and_v1_shows_the_same(
    world: World,
) -> None:
    inst = institution(world)
    made = await product(inst)
    loan = await apply(inst, made.id, disbursement_date=day("2025-01-15"))
    assert loan.status == v2.LOAN_STATUS_SUBMITTED
    assert loan.principal == kes(12000) and loan.schedule[0].due_date == day("2025-02-15")
    assert not loan.HasField("written_off_principal")

    approved = (
        await world.v2.ApproveLoan(
            v2.ApproveLoanRequest(loan_id=loan.id, note="ok"), metadata=inst.manager
        )
    ).loan
    assert approved.status == v2.LOAN_STATUS_APPROVED
    active = (
        await world.v2.DisburseLoan(
            v2.DisburseLoanRequest(
                loan_id=loan.id,
                disbursement_date=day("2025-01-15"),
                first_repayment_date=day("2025-02-10"),
                channel=v2.DISBURSEMENT_CHANNEL_BANK,
            ),
            metadata=inst.manager,
        )
    ).loan
    assert active.status == v2.LOAN_STATUS_ACTIVE
    assert active.schedule[0].due_date == day("2025-02-10")
    assert active.first_repayment_date == day("2025-02-10")
    assert active.outstanding.principal == kes(12000)
    assert [h.status for h in active.history] == [
        v2.LOAN_STATUS_SUBMITTED,
        v2.LOAN_STATUS_APPROVED,
        v2.LOAN_STATUS_ACTIVE,
    ]

    old = (
        await world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)
    ).loan
    typed = (await world.v2.GetLoan(v2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)).loan
    assert [i.due_date for i in old.schedule] == [
        date(i.due_date.year, i.due_date.month, i.due_date.day).isoformat() for i in typed.schedule
    ]
    assert [i.total for i in old.schedule] == [
        f"{i.total.units}.{i.total.nanos // 10_000_000:02d}" for i in typed.schedule
    ]
    assert typed.status == old.status and typed.days_past_due == old.days_past_due

    payoff = await world.v2.GetPayoffQuote(
        v2.GetPayoffQuoteRequest(loan_id=loan.id, date=day("2025-02-10")), metadata=inst.agent
    )
    assert payoff.payoff.principal == kes(12000)
    assert payoff.payoff.interest == typed.schedule[0].interest  # a whole period's

    rescheduled = (
        await world.v2.RescheduleLoan(
            v2.RescheduleLoanRequest(
                loan_id=loan.id, new_term=12, reason="harvest failed", date=day("2025-01-20")
            ),
            metadata=inst.manager,
        )
    ).loan
    assert rescheduled.rescheduled and len(rescheduled.schedule) == 12
    assert rescheduled.schedule_history[0].schedule[0].due_date == day("2025-02-10")

    written_off = (
        await world.v2.WriteOffLoan(
            v2.WriteOffLoanRequest(loan_id=loan.id, reason="fled", date=day("2025-03-01")),
            metadata=inst.admin,
        )
    ).loan
    assert written_off.status == v2.LOAN_STATUS_WRITTEN_OFF
    assert written_off.written_off_principal == kes(12000)

    listed = await world.v2.ListLoans(
        v2.ListLoansRequest(status=v2.LOAN_STATUS_WRITTEN_OFF), metadata=inst.admin
    )
    assert [x.id for x in listed.loans] == [loan.id]
    err = await fails(world.v2.ListLoans(v2.ListLoansRequest(status=42), metadata=inst.admin))
    assert [f for f, _ in err.field_errors] == ["status"]


async def test_a_bad_money_or_date_is_named_and_changes_nothing(world: World) -> None:
    inst = institution(world)
    made = await product(inst)
    before = await loan_count(inst)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"principal": kes(12000, 1_000_000_000, currency="")}, {"principal"}),
        ({"principal": kes(12000, 5_000_000, currency="")}, {"principal"}),  # KES 12000.005
        ({"principal": kes(12000, currency="USD")}, {"principal"}),
        ({"principal": kes(12000, currency="XYZ")}, {"principal"}),
        ({"principal": kes(-12000, currency="")}, {"principal"}),
        ({"disbursement_date": date_pb2.Date(year=2025, month=13, day=1)}, {"disbursement_date"}),
        (
            {
                "principal": kes(1, -1, currency=""),
                "disbursement_date": date_pb2.Date(year=2025, month=2, day=29),
            },
            {"principal", "disbursement_date"},
        ),
    ]
    for fields, named in cases:
        err = await fails(apply(inst, made.id, **fields))
        assert err.code == Code.INVALID_ARGUMENT, fields
        assert {f for f, _ in err.field_errors} == named, fields
    assert await loan_count(inst) == before

    loan = await apply(inst, made.id)
    await world.v2.ApproveLoan(v2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.manager)
    err = await fails(
        world.v2.DisburseLoan(
            v2.DisburseLoanRequest(
                loan_id=loan.id,
                disbursement_date=date_pb2.Date(year=2025, month=4, day=31),
                channel=9,
            ),
            metadata=inst.manager,
        )
    )
    assert {f for f, _ in err.field_errors} == {"disbursement_date", "channel"}
    still = (await world.v2.GetLoan(v2.GetLoanRequest(loan_id=loan.id), metadata=inst.admin)).loan
    assert still.status == v2.LOAN_STATUS_APPROVED and still.version == loan.version + 1


# --- collection sheets, settings, close of business -------------------------------------------


async def test_a_collection_sheet_in_money_and_dates(world: World) -> None:
    inst = institution(world)
    made = await product(inst)
    loan = await disbursed(inst, made.id, "2025-01-15")
    reply = await world.v2.GetCollectionSheet(
        v2.GetCollectionSheetRequest(date=day("2025-03-15")), metadata=inst.admin
    )
    assert reply.date == day("2025-03-15") and reply.currency == "KES"
    assert [(i.loan_id, i.installment_number, i.due_date) for i in reply.items] == [
        (loan.id, 1, day("2025-02-15")),
        (loan.id, 2, day("2025-03-15")),
    ]
    first = reply.items[0]
    assert first.amount_due == loan.schedule[0].total and first.amount_due.currency_code == "KES"
    assert reply.items[1].arrears == first.amount_due
    assert first.days_past_due == 28

    err = await fails(
        world.v2.GetCollectionSheet(
            v2.GetCollectionSheetRequest(date=date_pb2.Date(year=2025, month=0, day=3)),
            metadata=inst.admin,
        )
    )
    assert [f for f, _ in err.field_errors] == ["date"]


async def test_approval_limits_are_money_of_the_institution(world: World) -> None:
    inst = institution(world)
    settings = (
        await world.v2.GetLoanSettings(
            v2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.admin
        )
    ).settings
    assert [(x.role, x.HasField("amount")) for x in settings.approval_limits] == [
        ("admin", False),
        ("branch_manager", False),
    ]
    assert not settings.HasField("business_date")

    def limits(*pairs: tuple[str, money_pb2.Money | None]) -> v2.UpdateLoanSettingsRequest:
        return v2.UpdateLoanSettingsRequest(
            institution_id=inst.id,
            set_approval_limits=True,
            approval_limits=[v2.ApprovalLimit(role=r, amount=a) for r, a in pairs],
        )

    err = await fails(
        world.v2.UpdateLoanSettings(
            limits(
                ("branch_manager", kes(50000, 1, currency="")),
                ("admin", kes(1, currency="UGX")),
                ("agent", kes(10, currency="")),
            ),
            metadata=inst.admin,
        )
    )
    assert {f for f, _ in err.field_errors} == {
        "approval_limits.branch_manager",
        "approval_limits.admin",
        "approval_limits.agent",
    }
    updated = (
        await world.v2.UpdateLoanSettings(
            limits(("branch_manager", kes(50000, currency="")), ("admin", None)),
            metadata=inst.admin,
        )
    ).settings
    assert [(x.role, x.amount) for x in updated.approval_limits] == [
        ("admin", money_pb2.Money()),
        ("branch_manager", kes(50000)),
    ]


async def test_the_close_of_business_by_date_with_its_state(world: World) -> None:
    inst = institution(world)
    made = await product(inst)
    await disbursed(inst, made.id, (TODAY - timedelta(days=40)).isoformat())
    as_of = TODAY - timedelta(days=1)
    job = (
        await world.v2.RunCloseOfBusiness(
            v2.RunCloseOfBusinessRequest(as_of=to_proto_date(as_of), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert job.state == v2.JOB_STATE_COMPLETED and job.as_of == to_proto_date(as_of)
    assert job.loans_processed == 1
    again = (
        await world.v2.GetCloseOfBusinessJob(
            v2.GetCloseOfBusinessJobRequest(as_of=to_proto_date(as_of)), metadata=inst.admin
        )
    ).job
    assert again.id == job.id and again.state == v2.JOB_STATE_COMPLETED
    settings = (
        await world.v2.GetLoanSettings(
            v2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.admin
        )
    ).settings
    assert settings.business_date == to_proto_date(as_of)

    for bad in (date_pb2.Date(), date_pb2.Date(year=2025, month=2, day=30)):
        err = await fails(
            world.v2.RunCloseOfBusiness(
                v2.RunCloseOfBusinessRequest(as_of=bad, wait=True), metadata=inst.admin
            )
        )
        assert [f for f, _ in err.field_errors] == ["as_of"]
