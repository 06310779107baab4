"""Stored documents to proto messages.

Reading a loan maps its stored document: the figures were derived when it was last written
(by a use case or the close of business), so a read never replays the loan's history and
costs the same at month 1 and month 24. Amounts go out with exactly the currency's decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from kopa.loan.v1 import loan_pb2
from loan_service.adapters.contract import STATUS_TO_PROTO, score_to_proto, ts
from loan_service.adapters.serialization import (
    STATE_COLUMNS,
    split_rows,
    stored_repayments,
)
from loan_service.domain.arrears import DEFAULT_BUCKETS, Bucket
from loan_service.service_layer.collection_sheet import CollectionSheet
from loan_service.service_layer.settings import InstitutionSettings
from loan_service.service_layer.views import effective_arrears
from shared.money import Formatter

_COL = {name: i for i, name in enumerate(STATE_COLUMNS)}


def product_to_proto(doc: dict[str, Any]) -> loan_pb2.LoanProduct:
    t = doc["terms"]
    money = Formatter(doc["currency"])

    def amount(key: str) -> str:
        return money(t[key]) if t.get(key) not in (None, "") else ""

    return loan_pb2.LoanProduct(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        name=t["name"],
        currency=doc["currency"],
        interest_method=t["interest_method"],
        amortization=t["amortization"],
        annual_interest_rate=t["annual_interest_rate"],
        repayment_frequency=t["repayment_frequency"],
        min_principal=money(t["min_principal"]),
        max_principal=money(t["max_principal"]),
        min_term=t["min_term"],
        max_term=t["max_term"],
        days_in_year=t["days_in_year"],
        grace_on_principal=t["grace_on_principal"],
        grace_on_interest=t["grace_on_interest"],
        upfront_fee_rate=t.get("upfront_fee_rate") or "",
        upfront_fee_flat=amount("upfront_fee_amount"),
        upfront_fee_mode=t.get("upfront_fee_treatment") or "",
        installment_fee=money(t.get("installment_fee")),
        late_penalty_rate=t.get("late_penalty_rate") or "",
        late_penalty_flat=amount("late_penalty_amount"),
        penalty_tolerance_days=t.get("late_penalty_tolerance_days") or 0,
        rounding_multiple=t.get("rounding_multiple") or "",
        allocation_strategy=t["allocation_strategy"],
        prepayment_mode=t["prepayment_strategy"],
        min_score_band=t.get("min_score_band") or "",
        max_open_loans=doc.get("max_open_loans", 0),
        create_time=ts(doc.get("create_time")),
    )


def installments_from_rows(
    rows: str | list[str],
    principal: Decimal,
    money: Formatter,
    as_of: date | None,
    *,
    arrears: bool,
) -> list[loan_pb2.Installment]:
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
            loan_pb2.Installment(
                number=int(r[n]),
                due_date=due,
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


def schedule_rows_to_proto(
    schedule: dict[str, Any], money: Formatter
) -> list[loan_pb2.Installment]:
    """A superseded (or quoted) schedule: dues only."""
    return [
        loan_pb2.Installment(
            number=int(r[0]),
            due_date=r[1],
            principal=money(r[3]),
            interest=money(r[4]),
            fees=money(r[5]),
            penalties=money("0"),
            total=money(r[6]),
            balance=money(r[7]),
        )
        for r in split_rows(schedule["rows"])
    ]


def allocation_to_proto(doc: dict[str, str] | None, money: Formatter) -> loan_pb2.Allocation:
    doc = doc or {}
    return loan_pb2.Allocation(
        principal=money(doc.get("principal")),
        interest=money(doc.get("interest")),
        fees=money(doc.get("fees")),
        penalties=money(doc.get("penalties")),
        overpayment=money(doc.get("overpayment")),
    )


def refund_to_proto(doc: dict[str, Any], amount: Decimal) -> loan_pb2.RefundCreditResponse:
    """A refund of credit: the amount and the loan's credit balance after it."""
    money = Formatter(doc["currency"])
    return loan_pb2.RefundCreditResponse(
        amount=money(amount),
        credit_balance=money((doc.get("view") or {}).get("overpayment")),
        loan_status=STATUS_TO_PROTO[doc["status"]],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        currency=doc["currency"],
    )


def outstanding_to_proto(doc: dict[str, str] | None, money: Formatter) -> loan_pb2.Outstanding:
    doc = doc or {}
    return loan_pb2.Outstanding(
        principal=money(doc.get("principal")),
        interest=money(doc.get("interest")),
        fees=money(doc.get("fees")),
        penalties=money(doc.get("penalties")),
        total=money(doc.get("total")),
    )


def loan_to_proto(
    doc: dict[str, Any], as_of: date | None = None, buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
) -> loan_pb2.Loan:
    """The loan as stored, with its days past due counted up to `as_of` (the institution's
    business date) when that is later than the date its figures were stored as of, in the
    institution's delinquency `buckets`."""
    currency = doc["currency"]
    money = Formatter(currency)
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
    )
    pricing = doc.get("pricing") or {}
    written_off = doc.get("written_off_amounts") or {}
    product = doc.get("product") or {}
    return loan_pb2.Loan(
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
        disbursement_date=doc.get("disbursement_date") or "",
        schedule=schedule,
        outstanding=outstanding_to_proto(doc.get("outstanding"), money),
        pricing=loan_pb2.Pricing(
            total_interest=money(pricing.get("total_interest")),
            total_fees=money(pricing.get("total_fees")),
            total_repayment=money(pricing.get("total_repayment")),
            apr=pricing.get("apr", ""),
            eir=pricing.get("eir", ""),
        ),
        days_past_due=dpd,
        delinquency_bucket=bucket,
        score=score_to_proto(doc.get("score")),
        created_by=doc["created_by"],
        approved_by=doc.get("approved_by") or "",
        history=[
            loan_pb2.StatusChange(
                status=STATUS_TO_PROTO[h["status"]],
                time=ts(h.get("time")),
                actor_id=h.get("actor_id", ""),
                note=h.get("note", ""),
            )
            for h in doc.get("history", [])
        ],
        credit_balance=money(view.get("overpayment")),
        written_off_principal=money(written_off.get("principal")) if written_off else "",
        version=doc["version"],
        create_time=ts(doc.get("create_time")),
        update_time=ts(doc.get("update_time")),
        annual_interest_rate=product.get("annual_interest_rate", ""),
        applied_payment_ids=[r["id"] for r in repayments],
        override_reason=(doc.get("eligibility_override") or {}).get("reason", ""),
        repayments=[
            loan_pb2.AppliedRepayment(
                payment_id=r["id"],
                amount=money(r["amount"]),
                paid_on=r["paid_on"],
                allocation=allocation_to_proto(r.get("allocation"), money),
                reversed=bool(r.get("reversed")),
                reversal_reason=r.get("reversal_reason") or "",
            )
            for r in repayments
        ],
        rescheduled=bool(doc.get("schedule_history")),
        oldest_unpaid_due_date=doc.get("oldest_unpaid_due_date") or "",
        schedule_history=[
            loan_pb2.ScheduleVersion(
                time=ts(datetime.combine(date.fromisoformat(v["superseded_on"]), time(), UTC)),
                reason=v.get("reason", ""),
                schedule=schedule_rows_to_proto(v["schedule"], money),
            )
            for v in doc.get("schedule_history") or []
        ],
        first_repayment_date=doc.get("first_repayment_date") or "",
        classification_history=[
            loan_pb2.Reclassification(
                date=h.get("date") or "",
                from_bucket=h["from"],
                to_bucket=h["to"],
                days_past_due=int(h.get("days_past_due") or 0),
            )
            for h in doc.get("classification_history") or []
        ],
    )


def collection_sheet_to_proto(sheet: CollectionSheet) -> loan_pb2.GetCollectionSheetResponse:
    money = Formatter(sheet.currency) if sheet.currency else None
    items = []
    for item in sheet.items:
        due, b = item.due, item.borrower
        assert money is not None  # a sheet with items has their currency
        items.append(
            loan_pb2.CollectionSheetItem(
                loan_id=due.loan_id,
                borrower_id=due.borrower_id,
                borrower_name=b.name if b else "",
                group_id=b.group_id if b else "",
                group_name=b.group_name if b else "",
                phone=b.phone if b else "",
                installment_number=due.number,
                due_date=due.due_date,
                amount_due=money(due.amount_due),
                arrears=money(due.arrears),
                days_past_due=due.days_past_due,
            )
        )
    return loan_pb2.GetCollectionSheetResponse(
        date=sheet.date.isoformat(), currency=sheet.currency, items=items
    )


def job_to_proto(
    job: dict[str, Any], partitions: list[dict[str, Any]]
) -> loan_pb2.CloseOfBusinessJob:
    return loan_pb2.CloseOfBusinessJob(
        id=job["_id"],
        as_of=job["as_of"],
        state=job["state"],
        partitions_total=job["partitions_total"],
        partitions_done=sum(1 for p in partitions if p.get("state") == "done"),
        loans_processed=sum(int(p.get("processed", 0)) for p in partitions),
        loans_changed=sum(int(p.get("changed", 0)) for p in partitions),
        start_time=ts(job.get("start_time")),
        end_time=ts(job.get("end_time")),
    )


def settings_to_proto(institution_id: str, s: InstitutionSettings) -> loan_pb2.LoanSettings:
    return loan_pb2.LoanSettings(
        institution_id=institution_id,
        approval_limits=[
            loan_pb2.ApprovalLimit(role=role, amount="" if limit.is_infinite() else str(limit))
            for role, limit in sorted(s.approval_limits.items())
        ],
        delinquency_buckets=[
            loan_pb2.DelinquencyBucket(
                name=b.name,
                min_days=b.min_days,
                max_days=b.max_days or 0,
                open_ended=b.max_days is None,
            )
            for b in s.buckets
        ],
        business_date=s.business_date.isoformat() if s.business_date else "",
    )


def buckets_from_proto(buckets: Sequence[loan_pb2.DelinquencyBucket]) -> list[Bucket]:
    return [Bucket(b.name, b.min_days, None if b.open_ended else b.max_days) for b in buckets]
