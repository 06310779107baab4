"""Stored documents to proto messages and requests to plain fields, for both versions of the
contract.

Reading a loan maps its stored document: the figures were derived when it was last written
(by a use case or the close of business), so a read never replays the loan's history and
costs the same at month 1 and month 24. Amounts go out with exactly the currency's decimals.

kopa.loan.v1 and kopa.loan.v2 answer the same messages by the same field names; they differ
only in how a value is written (a `Wire`): v1 writes amounts as decimal strings, dates as ISO
text and closed sets of words as text; v2 writes `google.type.Money`, `google.type.Date` and
enums. Each function here takes the wire to write (v1 by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import ModuleType
from typing import Any

from google.type import money_pb2

from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import loans_pb2
from loan_service.adapters.contract import STATUS_TO_PROTO, score_to_proto, ts
from loan_service.adapters.serialization import (
    STATE_COLUMNS,
    split_rows,
    stored_repayments,
)
from loan_service.domain.arrears import DEFAULT_BUCKETS, Bucket
from loan_service.service_layer.cob import loan_counts
from loan_service.service_layer.collection_sheet import CollectionSheet
from loan_service.service_layer.settings import InstitutionSettings
from loan_service.service_layer.views import effective_arrears
from shared.dates import to_proto_date
from shared.money import Formatter, quantum, to_money

# The edge's reading of typed requests, shared with the other typed contracts.
from shared.wire import RequestFields as RequestFields
from shared.wire import amount_text as amount_text
from shared.wire import enum_prefix
from shared.wire import request_fields as request_fields

_COL = {name: i for i, name in enumerate(STATE_COLUMNS)}

#: An amount as one currency's wire writes it (`Formatter` or `AsMoney`).
Amounts = Callable[[Decimal | str | None], Any]


class AsMoney:
    """Amounts of one currency as `google.type.Money` naming it, with no more decimals than
    it has (stored amounts are exact; computed ones are rounded half-even as `Formatter`
    rounds them)."""

    __slots__ = ("_currency", "_quantum")

    def __init__(self, currency: str) -> None:
        self._currency = currency
        self._quantum = quantum(currency)

    def __call__(self, value: Decimal | str | None) -> money_pb2.Money:
        amount = value if isinstance(value, Decimal) else Decimal(value or 0)
        return to_money(amount.quantize(self._quantum), self._currency)


def _v1_day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else value or ""


def _v1_word(enum: str, word: str) -> str:
    return word


def _v2_word(enum: str, word: str) -> int:
    """The number of `word` (`declining_balance`) in kopa.loan.v2's enum `enum`; 0 for none."""
    if not word:
        return 0
    value: int = getattr(loans_pb2, enum).Value(enum_prefix(enum) + word.upper())
    return value


@dataclass(frozen=True)
class Wire:
    """How one version of the contract writes values."""

    #: The module of its messages.
    pb: ModuleType
    #: The writer of one currency's amounts.
    money: Callable[[str], Amounts]
    #: A date (or stored ISO text; None or "" for none).
    day: Callable[[date | str | None], Any]
    #: A word of a closed set as the enum of that name (v1: the word itself).
    word: Callable[[str, str], Any]
    #: An amount that is not there (an optional fee, no approval limit).
    absent: Any


V1 = Wire(pb=loan_pb2, money=Formatter, day=_v1_day, word=_v1_word, absent="")
V2 = Wire(pb=loans_pb2, money=AsMoney, day=to_proto_date, word=_v2_word, absent=None)


def product_to_proto(doc: dict[str, Any], wire: Wire = V1) -> Any:
    t = doc["terms"]
    money = wire.money(doc["currency"])
    word = wire.word

    def amount(key: str) -> Any:
        return money(t[key]) if t.get(key) not in (None, "") else wire.absent

    return wire.pb.LoanProduct(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        name=t["name"],
        currency=doc["currency"],
        interest_method=word("InterestMethod", t["interest_method"]),
        amortization=word("Amortization", t["amortization"]),
        annual_interest_rate=t["annual_interest_rate"],
        repayment_frequency=word("RepaymentFrequency", t["repayment_frequency"]),
        min_principal=money(t["min_principal"]),
        max_principal=money(t["max_principal"]),
        min_term=t["min_term"],
        max_term=t["max_term"],
        days_in_year=word("DaysInYear", t["days_in_year"]),
        grace_on_principal=t["grace_on_principal"],
        grace_on_interest=t["grace_on_interest"],
        upfront_fee_rate=t.get("upfront_fee_rate") or "",
        upfront_fee_flat=amount("upfront_fee_amount"),
        upfront_fee_mode=word("FeeMode", t.get("upfront_fee_treatment") or ""),
        installment_fee=money(t.get("installment_fee")),
        late_penalty_rate=t.get("late_penalty_rate") or "",
        late_penalty_flat=amount("late_penalty_amount"),
        penalty_tolerance_days=t.get("late_penalty_tolerance_days") or 0,
        # v1 shows the multiple as it was given ("1"), v2 as an amount of the currency.
        rounding_multiple=(t.get("rounding_multiple") or "")
        if wire is V1
        else amount("rounding_multiple"),
        allocation_strategy=word("AllocationStrategy", t["allocation_strategy"]),
        prepayment_mode=word("PrepaymentMode", t["prepayment_strategy"]),
        min_score_band=t.get("min_score_band") or "",
        max_open_loans=doc.get("max_open_loans", 0),
        create_time=ts(doc.get("create_time")),
        **(_lending_rules(doc) if wire is V2 else {}),
    )


def _lending_rules(doc: dict[str, Any]) -> dict[str, Any]:
    """kopa.loan.v2's fields for the product's rules beyond its terms (v1 has none)."""
    group = doc.get("group_lending") or {}
    return {
        "group_lending": bool(group.get("enabled")),
        "min_group_members": group.get("min_members", 0),
        "max_group_members": group.get("max_members", 0),
        "joint_liability": bool(group.get("joint_liability")),
        "min_security_coverage": doc.get("min_security_coverage") or "",
        "requires_kyc_verified": bool(doc.get("requires_kyc_verified")),
    }


def installments_from_rows(
    rows: str | list[str],
    principal: Decimal,
    money: Amounts,
    as_of: date | None,
    *,
    arrears: bool,
    wire: Wire = V1,
) -> list[Any]:
    """Proto installments from stored state rows; ``balance`` is the principal left after
    each, days past due are counted as of ``as_of`` (only for an active loan)."""
    out = []
    balance = principal
    # Stored amounts are already canonical, so they are formatted from their text (the fast
    # path of `Formatter`); only the sums are computed. This runs for every installment of
    # every loan read and every event snapshot.
    n, due_at = _COL["number"], _COL["due_date"]
    dues = [_COL[k] for k in ("principal", "interest", "fees", "penalties")]
    paids = [_COL[k] for k in ("principal_paid", "interest_paid", "fees_paid", "penalties_paid")]
    make, day = wire.pb.Installment, wire.day
    for r in split_rows(rows):
        p, i, f, pen = (r[k] for k in dues)
        pp, ip, fp, penp = (r[k] for k in paids)
        dp, di, df, dpen = Decimal(p), Decimal(i), Decimal(f), Decimal(pen)
        dpp, dip, dfp, dpenp = Decimal(pp), Decimal(ip), Decimal(fp), Decimal(penp)
        balance -= dp
        due = r[due_at]
        scheduled_left = (dp - dpp) + (di - dip) + (df - dfp)
        dpd = 0
        if arrears and as_of is not None and scheduled_left > 0:
            due_date = date.fromisoformat(due)
            if due_date < as_of:
                dpd = (as_of - due_date).days
        out.append(
            make(
                number=int(r[n]),
                due_date=day(due),
                principal=money(p),
                interest=money(i),
                fees=money(f),
                penalties=money(pen),
                total=money(dp + di + df + dpen),
                balance=money(balance),
                principal_paid=money(pp),
                interest_paid=money(ip),
                fees_paid=money(fp),
                penalties_paid=money(penp),
                total_paid=money(dpp + dip + dfp + dpenp),
                days_past_due=dpd,
                paid=scheduled_left <= 0 and dpen - dpenp <= 0,
            )
        )
    return out


def schedule_rows_to_proto(schedule: dict[str, Any], money: Amounts, wire: Wire = V1) -> list[Any]:
    """A superseded schedule: dues only."""
    return [
        wire.pb.Installment(
            number=int(r[0]),
            due_date=wire.day(r[1]),
            principal=money(r[3]),
            interest=money(r[4]),
            fees=money(r[5]),
            penalties=money("0"),
            total=money(r[6]),
            balance=money(r[7]),
        )
        for r in split_rows(schedule["rows"])
    ]


def quote_to_proto(schedule: Any, pricing: dict[str, Any], currency: str, wire: Wire = V1) -> Any:
    """A quoted schedule (dues only) and its price."""
    money = wire.money(currency)
    return wire.pb.QuoteLoanResponse(
        installments=[
            wire.pb.Installment(
                number=i.number,
                due_date=wire.day(i.due_date),
                principal=money(i.principal),
                interest=money(i.interest),
                fees=money(i.fees),
                penalties=money(None),
                total=money(i.total),
                balance=money(i.balance),
            )
            for i in schedule.installments
        ],
        pricing=pricing_to_proto(pricing, money, wire),
    )


def pricing_to_proto(pricing: dict[str, Any], money: Amounts, wire: Wire = V1) -> Any:
    return wire.pb.Pricing(
        total_interest=money(pricing.get("total_interest")),
        total_fees=money(pricing.get("total_fees")),
        total_repayment=money(pricing.get("total_repayment")),
        apr=pricing.get("apr", ""),
        eir=pricing.get("eir", ""),
    )


def allocation_to_proto(doc: dict[str, str] | None, money: Amounts, wire: Wire = V1) -> Any:
    doc = doc or {}
    return wire.pb.Allocation(
        principal=money(doc.get("principal")),
        interest=money(doc.get("interest")),
        fees=money(doc.get("fees")),
        penalties=money(doc.get("penalties")),
        overpayment=money(doc.get("overpayment")),
    )


def refund_to_proto(doc: dict[str, Any], amount: Decimal) -> loan_pb2.RefundCreditResponse:
    """A refund of credit (v1): the amount and the loan's credit balance after it."""
    money = Formatter(doc["currency"])
    return loan_pb2.RefundCreditResponse(
        amount=money(amount),
        credit_balance=money((doc.get("view") or {}).get("overpayment")),
        loan_status=STATUS_TO_PROTO[doc["status"]],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        currency=doc["currency"],
    )


def outstanding_to_proto(doc: dict[str, str] | None, money: Amounts, wire: Wire = V1) -> Any:
    doc = doc or {}
    return wire.pb.Outstanding(
        principal=money(doc.get("principal")),
        interest=money(doc.get("interest")),
        fees=money(doc.get("fees")),
        penalties=money(doc.get("penalties")),
        total=money(doc.get("total")),
    )


def loan_to_proto(
    doc: dict[str, Any],
    as_of: date | None = None,
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS,
    wire: Wire = V1,
) -> Any:
    """The loan as stored, with its days past due counted up to `as_of` (the institution's
    business date) when that is later than the date its figures were stored as of, in the
    institution's delinquency `buckets`."""
    currency = doc["currency"]
    money = wire.money(currency)
    pb, day = wire.pb, wire.day
    status = doc["status"]
    view = doc.get("view") or {}
    repayments = stored_repayments(doc)
    when, dpd, bucket = effective_arrears(doc, as_of, buckets)
    schedule = installments_from_rows(
        view.get("rows") or "",
        Decimal(view.get("principal") or "0"),
        money,
        when,
        arrears=status == "active",
        wire=wire,
    )
    written_off = doc.get("written_off_amounts") or {}
    product = doc.get("product") or {}
    fields: dict[str, Any] = {}
    if wire is V1:  # superseded by `repayments`
        fields["applied_payment_ids"] = [r["id"] for r in repayments]
    else:
        fields["group_loan_id"] = doc.get("group_loan_id") or ""
        fields["group_id"] = doc.get("group_id") or ""
    return pb.Loan(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        borrower_id=doc["borrower_id"],
        product_id=doc["product_id"],
        status=STATUS_TO_PROTO[status],
        principal=money(doc["principal"]),
        term=doc["term"],
        currency=currency,
        purpose=doc.get("purpose") or "",
        # Before disbursement, the date the application expects (as the API documents it).
        disbursement_date=day(
            doc.get("disbursement_date") or doc.get("expected_disbursement_date")
        ),
        schedule=schedule,
        outstanding=outstanding_to_proto(doc.get("outstanding"), money, wire),
        pricing=pricing_to_proto(doc.get("pricing") or {}, money, wire),
        days_past_due=dpd,
        delinquency_bucket=bucket,
        score=score_to_proto(doc.get("score"), pb),
        created_by=doc["created_by"],
        approved_by=doc.get("approved_by") or "",
        history=[
            pb.StatusChange(
                status=STATUS_TO_PROTO[h["status"]],
                time=ts(h.get("time")),
                actor_id=h.get("actor_id", ""),
                note=h.get("note", ""),
            )
            for h in doc.get("history", [])
        ],
        credit_balance=money(view.get("overpayment")),
        written_off_principal=money(written_off.get("principal")) if written_off else wire.absent,
        version=doc["version"],
        create_time=ts(doc.get("create_time")),
        update_time=ts(doc.get("update_time")),
        annual_interest_rate=product.get("annual_interest_rate", ""),
        override_reason=(doc.get("eligibility_override") or {}).get("reason", ""),
        repayments=[
            pb.AppliedRepayment(
                payment_id=r["id"],
                amount=money(r["amount"]),
                paid_on=day(r["paid_on"]),
                allocation=allocation_to_proto(r.get("allocation"), money, wire),
                reversed=bool(r.get("reversed")),
                reversal_reason=r.get("reversal_reason") or "",
            )
            for r in repayments
        ],
        rescheduled=bool(doc.get("schedule_history")),
        oldest_unpaid_due_date=day(doc.get("oldest_unpaid_due_date")),
        schedule_history=[
            pb.ScheduleVersion(
                time=ts(datetime.combine(date.fromisoformat(v["superseded_on"]), time(), UTC)),
                reason=v.get("reason", ""),
                schedule=schedule_rows_to_proto(v["schedule"], money, wire),
            )
            for v in doc.get("schedule_history") or []
        ],
        first_repayment_date=day(doc.get("first_repayment_date")),
        classification_history=[
            pb.Reclassification(
                date=day(h.get("date")),
                from_bucket=h["from"],
                to_bucket=h["to"],
                days_past_due=int(h.get("days_past_due") or 0),
            )
            for h in doc.get("classification_history") or []
        ],
        **fields,
    )


def collection_sheet_to_proto(sheet: CollectionSheet, wire: Wire = V1) -> Any:
    money = wire.money(sheet.currency) if sheet.currency else None
    pb = wire.pb
    items = []
    for item in sheet.items:
        due, b = item.due, item.borrower
        assert money is not None  # a sheet with items has their currency
        items.append(
            pb.CollectionSheetItem(
                loan_id=due.loan_id,
                borrower_id=due.borrower_id,
                borrower_name=b.name if b else "",
                group_id=b.group_id if b else "",
                group_name=b.group_name if b else "",
                phone=b.phone if b else "",
                installment_number=due.number,
                due_date=wire.day(due.due_date),
                amount_due=money(due.amount_due),
                arrears=money(due.arrears),
                days_past_due=due.days_past_due,
                **({"center_id": b.center_id if b else ""} if wire is V2 else {}),
            )
        )
    return pb.GetCollectionSheetResponse(
        date=wire.day(sheet.date), currency=sheet.currency, items=items
    )


def job_to_proto(job: dict[str, Any], partitions: list[dict[str, Any]], wire: Wire = V1) -> Any:
    processed, changed = loan_counts(partitions)
    return wire.pb.CloseOfBusinessJob(
        id=job["_id"],
        as_of=wire.day(job["as_of"]),
        state=wire.word("JobState", job["state"]),
        partitions_total=job["partitions_total"],
        partitions_done=sum(1 for p in partitions if p.get("state") == "done"),
        loans_processed=processed,
        loans_changed=changed,
        start_time=ts(job.get("start_time")),
        end_time=ts(job.get("end_time")),
    )


def settings_to_proto(
    institution_id: str, s: InstitutionSettings, wire: Wire = V1, currency: str = ""
) -> Any:
    """The settings; `currency` (the institution's) writes the approval limits on v2."""
    money = wire.money(currency) if currency else str
    return wire.pb.LoanSettings(
        institution_id=institution_id,
        approval_limits=[
            wire.pb.ApprovalLimit(
                role=role, amount=wire.absent if limit.is_infinite() else money(limit)
            )
            for role, limit in sorted(s.approval_limits.items())
        ],
        delinquency_buckets=[
            wire.pb.DelinquencyBucket(
                name=b.name,
                min_days=b.min_days,
                max_days=b.max_days or 0,
                open_ended=b.max_days is None,
            )
            for b in s.buckets
        ],
        business_date=wire.day(s.business_date),
    )


def buckets_from_proto(buckets: Sequence[Any]) -> list[Bucket]:
    return [Bucket(b.name, b.min_days, None if b.open_ended else b.max_days) for b in buckets]
