"""Loan events and the ledger reports, driven through the fakes
(``tests/support/payment_fakes.py``): what loan_service did is booked once, and the books
read back balanced. No I/O."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from payment_service.domain.loans import Applied, LoanEventData, LoanPosition
from payment_service.domain.payment import PaymentStatus
from payment_service.service_layer.repayments import command_from_text
from shared.errors import NotFound
from shared.permissions import Role
from tests.support.payment_fakes import BRANCH, INST, FakePayments

pytestmark = pytest.mark.unit


@pytest.fixture
def w() -> FakePayments:
    return FakePayments()


def loan_event(
    w: FakePayments, key: str, *, version: int, status: str = "active", **fields: object
) -> LoanEventData:
    """What the consumer's adapter makes of loan_service's event `key` (a disbursement of
    1,000.00 unless the fields say otherwise)."""
    branch = str(fields.pop("branch_id", BRANCH))
    loan = LoanPosition(
        id=w.loan.id,
        institution_id=INST,
        branch_id=branch,
        borrower_id="bor_1",
        status=status,
        currency="KES",
        outstanding_principal=Decimal(str(fields.pop("outstanding_principal", "1000.00"))),
    )
    values: dict[str, object] = {
        "routing_key": key,
        "institution_id": INST,
        "branch_id": branch,
        "aggregate_version": version,
        "occurred_at_ms": 0,
        "loan": loan,
        "business_date": w.clock.now.date(),
    }
    if key == "loan.disbursed":
        values["principal"] = Decimal("1000.00")
    values.update(
        (k, Decimal(v) if k == "disbursed_net" and isinstance(v, str) else v)
        for k, v in fields.items()
    )
    return LoanEventData(**values)  # type: ignore[arg-type]


async def balances(w: FakePayments) -> dict[str, Decimal]:
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    tb = await w.ledger.trial_balance(None)
    assert tb.total_debit == tb.total_credit
    return {row.account_code: row.debit - row.credit for row in tb.rows}


async def test_a_disbursement_is_booked_once_and_the_loan_remembered(w: FakePayments) -> None:
    disbursed = loan_event(w, "loan.disbursed", version=3, disbursed_net="950.00", channel="cash")
    await w.events.handle(disbursed)
    await w.events.handle(disbursed)  # redelivered
    assert list(w.repo.entries) == ["disbursement:loan_1"]
    books = await balances(w)
    assert (books["1100"], books["1000"], books["4100"]) == (
        Decimal("1000.00"),
        Decimal("-950.00"),
        Decimal("-50.00"),
    )
    seen = w.repo.loans_seen["loan_1"]
    assert (seen["ref"], seen["status"], seen["version"]) == ("LOAN_1", "active", 3)
    # An older event never overwrites what a newer one said.
    await w.events.handle(loan_event(w, "loan.approved", version=2, status="approved"))
    assert w.repo.loans_seen["loan_1"]["status"] == "active"


async def test_a_write_off_takes_the_principal_off_the_portfolio(w: FakePayments) -> None:
    await w.events.handle(loan_event(w, "loan.disbursed", version=1, disbursed_net="1000.00"))
    await w.events.handle(
        loan_event(
            w,
            "loan.written_off",
            version=2,
            status="written_off",
            outstanding_principal="600.00",
        )
    )
    books = await balances(w)
    assert books["1100"] == Decimal("400.00") and books["5000"] == Decimal("600.00")
    assert w.repo.loans_seen["loan_1"]["status"] == "written_off"


async def test_a_reversal_at_the_loan_service_is_booked_from_its_event(w: FakePayments) -> None:
    await w.events.handle(loan_event(w, "loan.disbursed", version=1, disbursed_net="1000.00"))
    w.act_as()
    cmd = command_from_text("loan_1", "100.00", w.clock.now.date().isoformat(), "cash", "", "k")
    posted, _ = await w.repayments.post(cmd)
    reversed_event = loan_event(w, "loan.repayment_reversed", version=3, payment_id=posted.id)
    reversed_event = dataclasses.replace(reversed_event, reversal_reason="bounced")
    await w.events.handle(reversed_event)
    await w.events.handle(reversed_event)
    payment = await w.stored(posted.id)
    assert payment.status is PaymentStatus.REVERSED and payment.reversal_reason == "bounced"
    assert w.repo.routing_keys(posted.id) == ["payment.posted", "payment.reversed"]
    books = await balances(w)
    assert books["1100"] == Decimal("1000.00") and books["1000"] == Decimal("-1000.00")


async def test_an_event_for_a_payment_of_another_institution_changes_nothing(
    w: FakePayments,
) -> None:
    w.act_as()
    cmd = command_from_text("loan_1", "100.00", w.clock.now.date().isoformat(), "cash", "", "k")
    posted, _ = await w.repayments.post(cmd)
    event = loan_event(w, "loan.repayment_reversed", version=3, payment_id=posted.id)
    await w.events.handle(dataclasses.replace(event, institution_id="inst_other"))
    assert (await w.stored(posted.id)).status is PaymentStatus.POSTED
    applied = Applied({"principal": Decimal("1.00")}, {}, 4, INST, BRANCH, "KES")
    unknown = loan_event(w, "loan.repayment_applied", version=4, payment_id="pay_x")
    await w.events.handle(dataclasses.replace(unknown, applied=applied))
    assert "pay_x" not in w.repo.payments


async def test_the_ledger_reports_read_the_books(w: FakePayments) -> None:
    await w.events.handle(loan_event(w, "loan.disbursed", version=1, disbursed_net="1000.00"))
    w.act_as()
    cmd = command_from_text("loan_1", "250.00", w.clock.now.date().isoformat(), "cash", "", "k")
    await w.repayments.post(cmd)
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    page, token, currency = await w.ledger.general_ledger("1100", 1, "")
    assert (
        currency == "KES" and token and [r.entry_id for r in page.rows] == ["disbursement:loan_1"]
    )
    page, token, _ = await w.ledger.general_ledger("1100", 1, token)
    assert len(page.rows) == 1 and not token and page.rows[0].balance == Decimal("750.00")
    statement, sources = await w.ledger.loan_statement("loan_1")
    assert [ln.principal_outstanding for ln in statement.lines] == [
        Decimal("1000.00"),
        Decimal("750.00"),
    ]
    assert sorted(kind for kind, _ in sources.values()) == ["disbursement", "repayment"]
    codes = [a.code for a in await w.ledger.list_accounts()]
    assert "1100" in codes and codes == sorted(codes)
    w.act_as(Role.ADMIN, "usr_admin")
    created = await w.ledger.create_account("1030", "Second wallet", "asset")
    assert created.code == "1030"
    assert "1030" in [a.code for a in await w.ledger.list_accounts()]
    # Once the loan moved to another branch, this branch's manager no longer sees it.
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    w.repo.loans_seen["loan_1"]["branch_id"] = "br_9"
    with pytest.raises(NotFound):
        await w.ledger.loan_statement("loan_1")


async def test_a_loans_place_is_read_once_and_again_after_an_event_moves_it(
    w: FakePayments,
) -> None:
    await w.events.handle(loan_event(w, "loan.disbursed", version=1))
    reads: list[str] = []
    read_seen = w.repo.get_loan_seen

    async def counted(loan_id: str) -> dict[str, object] | None:
        reads.append(loan_id)
        return await read_seen(loan_id)

    w.repo.get_loan_seen = counted  # type: ignore[method-assign]
    today = w.clock.now.date().isoformat()
    w.act_as(Role.AGENT)
    for key in ("k-1", "k-2"):
        await w.repayments.post(command_from_text("loan_1", "10.00", today, "cash", "", key))
    assert reads == ["loan_1"]

    await w.events.handle(loan_event(w, "loan.reopened", version=9, branch_id="br_9"))
    w.act_as(Role.AGENT)
    with pytest.raises(NotFound):
        await w.repayments.post(command_from_text("loan_1", "10.00", today, "cash", "", "k-3"))
    assert reads == ["loan_1", "loan_1"]
