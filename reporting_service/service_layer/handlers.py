"""Read models kept from events, and the queries staff run on them.

The queries answer typed values (exact Decimal amounts, dates, ratios as Decimal): how each
version of the contract writes them is the entrypoints' mapping's to say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from kopa.user.v1 import events_pb2 as user_events
from kopa.user.v1 import user_pb2
from reporting_service.adapters.loan_changes import loan_change
from reporting_service.adapters.search_index import Indexed, SearchIndex
from reporting_service.domain import loan_view, portfolio, trends
from shared import context, loan_events
from shared.dates import parse_date
from shared.errors import ValidationError
from shared.logging import get_logger
from shared.money import from_minor
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

REPORTED_STATUSES = ["active", "closed", "written_off"]


def _from_minor(value: float | int, currency: str) -> Decimal:
    # Elasticsearch sums integer fields as doubles: exact up to 2**53 minor units.
    return from_minor(round(value), currency)


@dataclass(frozen=True)
class BorrowerHit:
    id: str
    first_name: str
    last_name: str
    national_id: str
    phone: str
    branch_id: str


@dataclass(frozen=True)
class PortfolioReport:
    as_of: date
    currency: str
    figures: portfolio.PortfolioFigures
    #: The active portfolio per centre or group (its id, "" for the loans of none), largest
    #: first; empty unless asked.
    groups: list[tuple[str, portfolio.PortfolioFigures]]


@dataclass(frozen=True)
class ArrearsLine:
    loan_id: str
    borrower_id: str
    branch_id: str
    days_past_due: int
    overdue_principal: Decimal
    overdue_interest: Decimal
    overdue_total: Decimal
    outstanding_principal: Decimal
    #: The institution's name of the loan's delinquency bucket; "" before a close of business.
    bucket: str
    #: "" until the borrower is indexed.
    borrower_name: str


@dataclass(frozen=True)
class TrendsPeriod:
    date: date
    gross_portfolio: Decimal
    #: Portfolio at risk over 1, 30 and 90 days, 4 places.
    par: dict[int, Decimal]
    disbursed: Decimal
    collected: Decimal


@dataclass(frozen=True)
class TrendsReport:
    currency: str
    interval: trends.Interval
    #: The range applied, defaults filled in.
    start: date
    end: date
    rows: list[TrendsPeriod]


def scope_query(p: Principal) -> list[dict[str, Any]]:
    return [{"term": {k: v}} for k, v in p.scope_filter().items()]


def trends_range(
    from_text: str, to_text: str, interval_text: str, today: date
) -> tuple[date, date, trends.Interval]:
    """The trends report's range and interval, defaults filled in. Raises ValidationError
    naming every bad field (`from`, `to`, `interval`: the gateway's names)."""
    errors: list[tuple[str, str]] = []
    interval = trends.Interval.DAY
    if interval_text:
        try:
            interval = trends.Interval(interval_text)
        except ValueError:
            errors.append(("interval", "must be day or month"))
    end = start = None
    for name, text in (("from", from_text), ("to", to_text)):
        try:
            value = parse_date(text, name, required=False)
        except ValidationError as exc:
            errors.extend(exc.field_errors)
            continue
        if name == "from":
            start = value
        else:
            end = value
    if errors:
        raise ValidationError("the report's range is invalid", field_errors=errors)
    end = end or today
    start = start or trends.default_start(end, interval)
    if start > end:
        raise ValidationError.of("from", f"must not be after `to` ({end.isoformat()})")
    limit = trends.MAX_ROWS[interval]
    if trends.row_count(start, end, interval) > limit:
        raise ValidationError.of(
            "from", f"the range holds more than {limit} rows by {interval.value}: narrow it"
        )
    return start, end, interval


def timeline_of(doc: dict[str, Any]) -> trends.LoanTimeline | None:
    """The loan's timeline from its indexed document (kept by `loan_view.merge`); None before
    the loan is disbursed, and for documents indexed before the timeline was kept."""
    raw = (doc.get("snapshot") or {}).get("timeline")
    if raw is None or not doc.get("disbursement_date"):
        return None
    amortized = int(raw.get("amortized_minor") or 0)
    status = doc.get("status")

    def day(text: str | None) -> date | None:
        return date.fromisoformat(text) if text else None

    return trends.LoanTimeline(
        disbursed_on=date.fromisoformat(doc["disbursement_date"]),
        principal=int(doc.get("principal_minor") or 0),
        amortized=amortized or None,
        installments=[
            trends.Installment(date.fromisoformat(i["due_date"]), int(i["due_minor"]))
            for i in raw.get("installments") or []
            if i.get("due_date")
        ],
        repayments=[
            trends.Repayment(
                paid_on=date.fromisoformat(r["paid_on"]),
                amount=int(r["amount_minor"]),
                principal=int(r["principal_minor"]),
                applied=int(r["applied_minor"]),
            )
            for r in raw.get("repayments") or []
            if r.get("paid_on") and not r.get("reversed")
        ],
        rescheduled_on=day(raw.get("rescheduled_on")),
        # The dates of the loan's last closing and of its write-off, kept whatever its status:
        # it leaves the portfolio on one only while it is closed or written off.
        written_off_on=day(raw.get("written_off_on")) if status == "written_off" else None,
        closed_on=day(raw.get("closed_on")) if status == "closed" else None,
    )


class ReportingHandlers:
    def __init__(self, index: SearchIndex, institution_currency: Any) -> None:
        self.index = index
        self._currency_of = institution_currency

    # --- event handlers (idempotent, in any order: external versions, merged loans) -----

    async def on_event(self, routing_key: str, body: bytes, _: dict[str, Any]) -> None:
        if routing_key.startswith("borrower."):
            event = user_events.BorrowerEvent.FromString(body)
            await self._index_borrower(event.borrower)
        elif routing_key.startswith("loan."):
            message = loan_events.decode(routing_key, body)
            if message is not None:  # else published by a newer release: nothing to keep
                await self._index_loan(loan_change(message))

    async def _index_borrower(self, b: user_pb2.Borrower) -> None:
        doc = {
            "institution_id": b.institution_id,
            "branch_id": b.branch_id,
            "first_name": b.first_name,
            "last_name": b.last_name,
            "full_name": f"{b.first_name} {b.last_name}",
            "national_id": b.national_id,
            "phone": b.phone,
            "phone_digits": b.phone.lstrip("+"),
        }
        await self.index.put(Indexed(self.index.borrowers, b.id, b.version, doc))

    async def _index_loan(self, change: loan_view.LoanChange) -> None:
        # Only the payment this event is about, whole, in the same request: its document is
        # written once applied and once reversed, and external versions keep the reversal
        # whatever the order.
        payment = loan_view.payment_record(change)
        also = (
            [Indexed(self.index.repayments, payment.payment_id, payment.version, payment.doc)]
            if payment is not None
            else []
        )
        await self.index.merge(
            self.index.loans,
            change.loan.loan_id,
            lambda doc, indexed: loan_view.merge(doc, change, indexed),
            *also,
        )

    # --- queries ------------------------------------------------------------------------

    async def search_borrowers(self, text: str, size: int) -> list[BorrowerHit]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        text = text.strip()
        if not text:
            raise ValidationError.of("q", "is required")
        exact = text.replace(" ", "").upper()
        should: list[dict[str, Any]] = [
            {"term": {"national_id": {"value": exact, "boost": 10}}},
            {"term": {"phone": {"value": text.replace(" ", ""), "boost": 10}}},
            {"term": {"phone_digits": {"value": text.replace(" ", "").lstrip("+"), "boost": 10}}},
            {
                "match": {
                    "full_name": {"query": text, "fuzziness": "AUTO", "operator": "and", "boost": 2}
                }
            },
            {"match": {"full_name": {"query": text, "fuzziness": "AUTO"}}},
        ]
        query = {"bool": {"filter": scope_query(p), "should": should, "minimum_should_match": 1}}
        reply = await self.index.search(self.index.borrowers, query, size=min(size or 20, 100))
        return [
            BorrowerHit(
                id=h["_id"],
                **{
                    k: h["_source"][k]
                    for k in ("first_name", "last_name", "national_id", "phone", "branch_id")
                },
            )
            for h in reply["hits"]["hits"]
        ]

    async def portfolio(self, as_of_text: str, group_by: str = "") -> PortfolioReport:
        p = context.principal()
        require(p, Permission.REPORTS_READ)
        as_of = parse_date(as_of_text, "as_of", required=False) or date.today()
        currency = await self._currency_of(p)
        scope = scope_query(p)
        disbursed_by = {"range": {"disbursement_date": {"lte": as_of.isoformat()}}}
        active = {"bool": {"filter": [*scope, {"term": {"status": "active"}}, disbursed_by]}}
        aggs: dict[str, Any] = {"gross": {"sum": {"field": "outstanding_principal_minor"}}}
        for days in portfolio.PAR_THRESHOLDS:
            cutoff = portfolio.overdue_before(as_of, days).isoformat()
            aggs[f"par{days}"] = {
                "filter": {
                    "bool": {
                        "should": [
                            {"range": {"oldest_unpaid_due_date": {"lt": cutoff}}},
                            {"term": {"rescheduled": True}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                "aggs": {"sum": {"sum": {"field": "outstanding_principal_minor"}}},
            }
        grouped: dict[str, Any] = {}
        if group_by:
            grouped["by"] = {
                "terms": {
                    "field": f"{group_by}_id",
                    "size": 10_000,
                    "missing": "",
                    "order": {"gross": "desc"},
                },
                "aggs": aggs,
            }
        figures = await self.index.aggregate(self.index.loans, active, {**aggs, **grouped})
        count = await self.index.es.count(index=self.index.loans, query=active)
        ever = {
            "bool": {"filter": [*scope, {"terms": {"status": REPORTED_STATUSES}}, disbursed_by]}
        }
        disbursed = await self.index.aggregate(
            self.index.loans, ever, {"s": {"sum": {"field": "principal_minor"}}}
        )
        paid = {
            "bool": {
                "filter": [
                    *scope,
                    {"term": {"reversed": False}},
                    {"range": {"paid_on": {"lte": as_of.isoformat()}}},
                ]
            }
        }
        repaid = await self.index.aggregate(
            self.index.repayments, paid, {"s": {"sum": {"field": "amount_minor"}}}
        )
        result = portfolio.PortfolioFigures(
            active_loans=int(count["count"]),
            gross_portfolio=_from_minor(figures["gross"]["value"], currency),
            at_risk={
                d: _from_minor(figures[f"par{d}"]["sum"]["value"], currency)
                for d in portfolio.PAR_THRESHOLDS
            },
            disbursed=_from_minor(disbursed["s"]["value"], currency),
            repaid=_from_minor(repaid["s"]["value"], currency),
        )
        return PortfolioReport(
            as_of=as_of,
            currency=currency,
            figures=result,
            groups=[
                (b["key"], _portfolio_group(b, currency))
                for b in (figures.get("by") or {}).get("buckets", [])
            ],
        )

    async def arrears(self, as_of_text: str) -> tuple[str, list[ArrearsLine]]:
        p = context.principal()
        require(p, Permission.REPORTS_READ)
        as_of = parse_date(as_of_text, "as_of", required=False) or date.today()
        currency = await self._currency_of(p)
        query = {
            "bool": {
                "filter": [
                    *scope_query(p),
                    {"term": {"status": "active"}},
                    {"range": {"oldest_unpaid_due_date": {"lt": as_of.isoformat()}}},
                ]
            }
        }
        found = []
        async for loan in self.index.scan(self.index.loans, query):
            overdue = {"principal": Decimal(0), "interest": Decimal(0), "total": Decimal(0)}
            for inst in loan["snapshot"]["schedule"]:
                if date.fromisoformat(inst["due_date"]) >= as_of:
                    continue
                for part in ("principal", "interest"):
                    owed = Decimal(inst.get(part) or "0") - Decimal(inst.get(f"{part}_paid") or "0")
                    overdue[part] += owed
                overdue["total"] += Decimal(inst.get("total") or "0") - Decimal(
                    inst.get("total_paid") or "0"
                )
            oldest = loan.get("oldest_unpaid_due_date")
            dpd = portfolio.days_past_due(date.fromisoformat(oldest) if oldest else None, as_of)
            found.append((loan, dpd, overdue))
        names = await self.index.full_names(loan["borrower_id"] for loan, _, _ in found)
        lines = [
            ArrearsLine(
                loan_id=loan["id"],
                borrower_id=loan["borrower_id"],
                branch_id=loan["branch_id"],
                days_past_due=dpd,
                overdue_principal=overdue["principal"],
                overdue_interest=overdue["interest"],
                overdue_total=overdue["total"],
                outstanding_principal=_from_minor(loan["outstanding_principal_minor"], currency),
                bucket=loan.get("delinquency_bucket", ""),
                borrower_name=names.get(loan["borrower_id"], ""),
            )
            for loan, dpd, overdue in found
        ]
        lines.sort(key=lambda line: -line.days_past_due)
        return currency, lines

    async def trends(self, from_text: str, to_text: str, interval_text: str) -> TrendsReport:
        p = context.principal()
        require(p, Permission.REPORTS_READ)
        start, end, interval = trends_range(from_text, to_text, interval_text, date.today())
        currency = await self._currency_of(p)
        query = {
            "bool": {
                "filter": [
                    *scope_query(p),
                    {"terms": {"status": REPORTED_STATUSES}},
                    {"range": {"disbursement_date": {"lte": end.isoformat()}}},
                    {
                        "bool": {
                            "should": [
                                {"range": {"settled_on": {"gte": start.isoformat()}}},
                                {"bool": {"must_not": [{"exists": {"field": "settled_on"}}]}},
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                ]
            }
        }
        sheet = trends.TrendSheet(trends.periods(start, end, interval))
        async for doc in self.index.scan(self.index.loans, query):
            timeline = timeline_of(doc)
            if timeline is not None:
                sheet.add(timeline)

        def money(minor: int) -> Decimal:
            return _from_minor(minor, currency)

        return TrendsReport(
            currency=currency,
            interval=interval,
            start=start,
            end=end,
            rows=[
                TrendsPeriod(
                    date=row.date,
                    gross_portfolio=money(row.gross_portfolio),
                    par={d: row.par(d) for d in trends.TREND_PAR_THRESHOLDS},
                    disbursed=money(row.disbursed),
                    collected=money(row.collected),
                )
                for row in sheet.rows()
            ],
        )


def _portfolio_group(bucket: dict[str, Any], currency: str) -> portfolio.PortfolioFigures:
    """One centre's or group's share of the active portfolio (a terms bucket)."""
    return portfolio.PortfolioFigures(
        active_loans=int(bucket["doc_count"]),
        gross_portfolio=_from_minor(bucket["gross"]["value"], currency),
        at_risk={
            d: _from_minor(bucket[f"par{d}"]["sum"]["value"], currency)
            for d in portfolio.PAR_THRESHOLDS
        },
        disbursed=Decimal(0),
        repaid=Decimal(0),
    )
