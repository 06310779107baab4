"""Read models kept from events, and the queries staff run on them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from google.protobuf.json_format import MessageToDict

from kopa.loan.v1 import events_pb2 as loan_events
from kopa.loan.v1 import loan_pb2
from kopa.user.v1 import events_pb2 as user_events
from kopa.user.v1 import user_pb2
from reporting_service.adapters.search_index import SearchIndex
from reporting_service.domain import portfolio
from shared import context
from shared.errors import ValidationError
from shared.logging import get_logger
from shared.money import fmt, minor_units
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

REPORTED_STATUSES = ["active", "closed", "written_off"]


def _to_minor(amount: str, currency: str) -> int:
    return int(Decimal(amount or "0").scaleb(minor_units(currency)))


def _from_minor(value: float | int, currency: str) -> Decimal:
    return Decimal(round(value)).scaleb(-minor_units(currency))


def parse_date(value: str, field: str = "as_of") -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.of(field, "must be an ISO date, e.g. 2026-03-31") from None


def scope_query(p: Principal) -> list[dict[str, Any]]:
    return [{"term": {k: v}} for k, v in p.scope_filter().items()]


class ReportingHandlers:
    def __init__(self, index: SearchIndex, institution_currency: Any) -> None:
        self.index = index
        self._currency_of = institution_currency

    # --- event handlers (idempotent: external versions) ---------------------------------

    async def on_event(self, routing_key: str, body: bytes, _: dict[str, Any]) -> None:
        if routing_key.startswith("borrower."):
            event = user_events.BorrowerEvent.FromString(body)
            await self._index_borrower(event.borrower)
        elif routing_key.startswith("loan."):
            loan_event = loan_events.LoanEvent.FromString(body)
            await self._index_loan(loan_event.loan, loan_event.payment_id)

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
        await self.index.put(self.index.borrowers, b.id, b.version, doc)

    async def _index_loan(self, loan: loan_pb2.Loan, payment_id: str) -> None:
        status = loan_pb2.LoanStatus.Name(loan.status).removeprefix("LOAN_STATUS_").lower()
        currency = loan.currency
        doc = {
            "id": loan.id,
            "institution_id": loan.institution_id,
            "branch_id": loan.branch_id,
            "borrower_id": loan.borrower_id,
            "status": status,
            "currency": currency,
            "rescheduled": loan.rescheduled,
            "disbursement_date": loan.disbursement_date or None,
            "oldest_unpaid_due_date": loan.oldest_unpaid_due_date or None,
            "principal_minor": _to_minor(loan.principal, currency),
            "outstanding_principal_minor": _to_minor(loan.outstanding.principal, currency)
            if status == "active"
            else 0,
            "days_past_due": loan.days_past_due,
            "delinquency_bucket": loan.delinquency_bucket,
            "snapshot": {
                "schedule": [
                    MessageToDict(i, preserving_proto_field_name=True) for i in loan.schedule
                ]
            },
        }
        await self.index.put(self.index.loans, loan.id, loan.version, doc)
        # Only the repayment this event is about: re-indexing every repayment of the loan on
        # every event would make a loan's events cost O(repayments) each.
        for r in loan.repayments:
            if r.payment_id != payment_id:
                continue
            await self.index.put(
                self.index.repayments,
                r.payment_id,
                2 if r.reversed else 1,
                {
                    "institution_id": loan.institution_id,
                    "branch_id": loan.branch_id,
                    "loan_id": loan.id,
                    "paid_on": r.paid_on,
                    "amount_minor": _to_minor(r.amount, currency),
                    "reversed": r.reversed,
                },
            )

    # --- queries ------------------------------------------------------------------------

    async def search_borrowers(self, text: str, size: int) -> list[dict[str, Any]]:
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
            {
                "id": h["_id"],
                **{
                    k: h["_source"][k]
                    for k in ("first_name", "last_name", "national_id", "phone", "branch_id")
                },
            }
            for h in reply["hits"]["hits"]
        ]

    async def portfolio(self, as_of_text: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.REPORTS_READ)
        as_of = parse_date(as_of_text)
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
        figures = await self.index.aggregate(self.index.loans, active, aggs)
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
        return {
            "as_of": as_of.isoformat(),
            "currency": currency,
            "active_loans": result.active_loans,
            "gross_portfolio": fmt(result.gross_portfolio, currency),
            **{f"par{d}": str(result.par(d)) for d in portfolio.PAR_THRESHOLDS},
            "disbursed": fmt(result.disbursed, currency),
            "repaid": fmt(result.repaid, currency),
        }

    async def arrears(self, as_of_text: str) -> tuple[str, list[dict[str, Any]]]:
        p = context.principal()
        require(p, Permission.REPORTS_READ)
        as_of = parse_date(as_of_text)
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
        lines = []
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
            lines.append(
                {
                    "loan_id": loan["id"],
                    "borrower_id": loan["borrower_id"],
                    "branch_id": loan["branch_id"],
                    "days_past_due": dpd,
                    "overdue_principal": fmt(overdue["principal"], currency),
                    "overdue_interest": fmt(overdue["interest"], currency),
                    "overdue_total": fmt(overdue["total"], currency),
                    "outstanding_principal": fmt(
                        _from_minor(loan["outstanding_principal_minor"], currency), currency
                    ),
                    "bucket": loan.get("delinquency_bucket", ""),
                }
            )
        lines.sort(key=lambda line: -int(line["days_past_due"]))
        return currency, lines
