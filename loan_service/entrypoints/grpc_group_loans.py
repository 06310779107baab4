"""The GroupLoanService servicer (kopa.loan.v2): typed amounts and dates read once here into
the use cases' commands (`service_layer.group_loans`), each bad one named by its field."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

import grpc
from google.type import money_pb2

from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import group_loans_pb2 as pb
from kopa.loan.v2 import group_loans_pb2_grpc
from loan_service.entrypoints.mapping import amount_text
from loan_service.service_layer import views
from loan_service.service_layer.group_loans import (
    CreateGroupLoan,
    GroupLoans,
    GroupLoanView,
    MemberRequest,
    PlanGroupRepayment,
    RepaymentPart,
)
from loan_service.service_layer.inputs import collect
from shared.dates import from_proto_date
from shared.errors import ValidationError
from shared.money import to_money
from shared.protos import timestamp

Ctx: TypeAlias = grpc.aio.ServicerContext


def _amount(
    errors: list[tuple[str, str]], value: money_pb2.Money, field: str, currencies: set[str]
) -> str:
    """The amount's exact text ("" when unset); its currency code, if any, noted for the use
    case to compare with the product's."""
    if not value.ByteSize():
        return ""
    if value.currency_code:
        currencies.add(value.currency_code)
    return collect(errors, lambda: amount_text(value, field)) or ""


def group_loan_to_proto(view: GroupLoanView) -> pb.GroupLoan:
    doc, currency = view.doc, view.doc["currency"]
    loans = {d["_id"]: d for d in view.loans}
    members = []
    for m in doc["members"]:
        loan = loans.get(m["loan_id"], {})
        status = loan.get("status") or "unspecified"
        members.append(
            pb.GroupLoanMember(
                borrower_id=m["borrower_id"],
                loan_id=m["loan_id"],
                principal=to_money(Decimal(m["principal"]), currency),
                status=loan_pb2.LoanStatus.Value(f"LOAN_STATUS_{status.upper()}"),
                outstanding=to_money(
                    Decimal((loan.get("outstanding") or {}).get("total") or 0), currency
                ),
                days_past_due=views.effective_arrears(loan, None)[1] if loan else 0,
            )
        )
    return pb.GroupLoan(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        center_id=doc.get("center_id", ""),
        group_id=doc["group_id"],
        product_id=doc["product_id"],
        term=doc["term"],
        status=pb.GroupLoanStatus.Value(f"GROUP_LOAN_STATUS_{doc['status'].upper()}"),
        joint_liability=doc.get("joint_liability", False),
        loans=members,
        outstanding=to_money(view.outstanding, currency),
        days_past_due=view.days_past_due,
        create_time=timestamp(doc["create_time"]),
    )


class GroupLoanServicer(group_loans_pb2_grpc.GroupLoanServiceServicer):
    def __init__(self, group_loans: GroupLoans) -> None:
        self.group_loans = group_loans

    async def CreateGroupLoan(
        self, request: pb.CreateGroupLoanRequest, context: Ctx
    ) -> pb.CreateGroupLoanResponse:
        errors: list[tuple[str, str]] = []
        currencies: set[str] = set()
        members = tuple(
            MemberRequest(
                m.borrower_id, _amount(errors, m.principal, f"members[{i}].principal", currencies)
            )
            for i, m in enumerate(request.members)
        )
        start = collect(
            errors, lambda: from_proto_date(request.disbursement_date, "disbursement_date")
        )
        if errors:
            raise ValidationError("the group loan application is invalid", field_errors=errors)
        view = await self.group_loans.create(
            CreateGroupLoan(
                group_id=request.group_id,
                product_id=request.product_id,
                term=request.term,
                members=members,
                disbursement_date=start.isoformat() if start else "",
                purpose=request.purpose,
                request_id=request.request_id,
                currencies=tuple(sorted(currencies)),
            )
        )
        return pb.CreateGroupLoanResponse(group_loan=group_loan_to_proto(view))

    async def GetGroupLoan(
        self, request: pb.GetGroupLoanRequest, context: Ctx
    ) -> pb.GetGroupLoanResponse:
        view = await self.group_loans.get(request.group_loan_id)
        return pb.GetGroupLoanResponse(group_loan=group_loan_to_proto(view))

    async def ListGroupLoans(
        self, request: pb.ListGroupLoansRequest, context: Ctx
    ) -> pb.ListGroupLoansResponse:
        views = await self.group_loans.of_group(request.group_id)
        return pb.ListGroupLoansResponse(group_loans=[group_loan_to_proto(v) for v in views])

    async def ApproveGroupLoan(
        self, request: pb.ApproveGroupLoanRequest, context: Ctx
    ) -> pb.ApproveGroupLoanResponse:
        view = await self.group_loans.approve(
            request.group_loan_id, request.note, request.override_reason
        )
        return pb.ApproveGroupLoanResponse(group_loan=group_loan_to_proto(view))

    async def RejectGroupLoan(
        self, request: pb.RejectGroupLoanRequest, context: Ctx
    ) -> pb.RejectGroupLoanResponse:
        view = await self.group_loans.reject(request.group_loan_id, request.reason)
        return pb.RejectGroupLoanResponse(group_loan=group_loan_to_proto(view))

    async def DisburseGroupLoan(
        self, request: pb.DisburseGroupLoanRequest, context: Ctx
    ) -> pb.DisburseGroupLoanResponse:
        errors: list[tuple[str, str]] = []
        on = collect(
            errors, lambda: from_proto_date(request.disbursement_date, "disbursement_date")
        )
        first = collect(
            errors, lambda: from_proto_date(request.first_repayment_date, "first_repayment_date")
        )
        if errors:
            raise ValidationError("the disbursement is invalid", field_errors=errors)
        view = await self.group_loans.disburse(
            request.group_loan_id,
            on.isoformat() if on else "",
            first.isoformat() if first else "",
            request.channel,
            request.request_id,
        )
        return pb.DisburseGroupLoanResponse(group_loan=group_loan_to_proto(view))

    async def PlanGroupRepayment(
        self, request: pb.PlanGroupRepaymentRequest, context: Ctx
    ) -> pb.PlanGroupRepaymentResponse:
        errors: list[tuple[str, str]] = []
        currencies: set[str] = set()
        paid_on = collect(errors, lambda: from_proto_date(request.paid_on, "paid_on"))
        if paid_on is None and not errors:
            errors.append(("paid_on", "is required"))
        amount = _amount(errors, request.amount, "amount", currencies)
        parts = tuple(
            RepaymentPart(p.loan_id, _amount(errors, p.amount, f"parts[{i}].amount", currencies))
            for i, p in enumerate(request.parts)
        )
        if errors:
            raise ValidationError("the group repayment is invalid", field_errors=errors)
        assert paid_on is not None
        plan, currency = await self.group_loans.plan_repayment(
            PlanGroupRepayment(
                group_loan_id=request.group_loan_id,
                idempotency_key=request.idempotency_key,
                paid_on=paid_on,
                amount=amount,
                parts=parts,
                currencies=tuple(sorted(currencies)),
            )
        )
        return pb.PlanGroupRepaymentResponse(
            id=plan["id"],
            parts=[
                pb.RepaymentPart(
                    loan_id=p["loan_id"], amount=to_money(Decimal(p["amount"]), currency)
                )
                for p in plan["parts"]
            ],
        )
