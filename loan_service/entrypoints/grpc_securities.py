"""The LoanSecurityService servicer (kopa.loan.v2): guarantors and collateral of a loan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeAlias

import grpc

from kopa.loan.v2 import securities_pb2 as pb
from kopa.loan.v2 import securities_pb2_grpc
from loan_service.entrypoints.mapping import amount_text
from loan_service.service_layer import securities
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.ports import UserDirectory
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared.errors import ValidationError
from shared.money import to_money
from shared.wire import enum_word

Ctx: TypeAlias = grpc.aio.ServicerContext


def _guarantor(g: dict[str, Any], currency: str) -> pb.Guarantor:
    return pb.Guarantor(
        id=g["id"],
        borrower_id=g.get("borrower_id", ""),
        full_name=g.get("full_name", ""),
        national_id=g.get("national_id", ""),
        phone=g.get("phone", ""),
        amount=to_money(Decimal(g["amount"]), currency),
    )


def _collateral(c: dict[str, Any]) -> pb.Collateral:
    return pb.Collateral(
        id=c["id"],
        type=pb.CollateralType.Value(f"COLLATERAL_TYPE_{c['type'].upper()}"),
        description=c["description"],
        value=to_money(Decimal(c["value"]), c["currency"]),
        location=c.get("location", ""),
        document_ids=c.get("document_ids") or [],
    )


class LoanSecurityServicer(securities_pb2_grpc.LoanSecurityServiceServicer):
    def __init__(self, uow: UnitOfWork, users: UserDirectory) -> None:
        self.uow = uow
        self.users = users

    async def AddGuarantor(
        self, request: pb.AddGuarantorRequest, context: Ctx
    ) -> pb.AddGuarantorResponse:
        errors: list[tuple[str, str]] = []
        amount = collect(errors, lambda: amount_text(request.amount, "amount"))
        if not request.HasField("amount") and not errors:
            errors.append(("amount", "is required: the amount guaranteed"))
        if errors:
            raise ValidationError("the guarantor is invalid", field_errors=errors)
        added = await securities.add_guarantor(
            self.uow,
            self.users,
            securities.AddGuarantor(
                loan_id=request.loan_id,
                amount=amount or "",
                borrower_id=request.borrower_id,
                full_name=request.full_name,
                national_id=request.national_id,
                phone=request.phone,
                currencies=(request.amount.currency_code,) if request.amount.currency_code else (),
            ),
        )
        return pb.AddGuarantorResponse(guarantor=_guarantor(added, added["currency"]))

    async def RemoveGuarantor(
        self, request: pb.RemoveGuarantorRequest, context: Ctx
    ) -> pb.RemoveGuarantorResponse:
        await securities.remove(self.uow, request.loan_id, "guarantors", request.guarantor_id)
        return pb.RemoveGuarantorResponse()

    async def AddCollateral(
        self, request: pb.AddCollateralRequest, context: Ctx
    ) -> pb.AddCollateralResponse:
        errors: list[tuple[str, str]] = []
        value = collect(errors, lambda: amount_text(request.value, "value"))
        if not request.HasField("value") and not errors:
            errors.append(("value", "is required: the estimated value"))
        if errors:
            raise ValidationError("the collateral item is invalid", field_errors=errors)
        added = await securities.add_collateral(
            self.uow,
            securities.AddCollateral(
                loan_id=request.loan_id,
                type=enum_word(pb.CollateralType.DESCRIPTOR, request.type, "type"),
                description=request.description,
                value=value or "",
                currency=request.value.currency_code,
                location=request.location,
                document_ids=tuple(request.document_ids),
            ),
        )
        return pb.AddCollateralResponse(collateral=_collateral(added))

    async def RemoveCollateral(
        self, request: pb.RemoveCollateralRequest, context: Ctx
    ) -> pb.RemoveCollateralResponse:
        await securities.remove(self.uow, request.loan_id, "collateral", request.collateral_id)
        return pb.RemoveCollateralResponse()

    async def ListSecurities(
        self, request: pb.ListSecuritiesRequest, context: Ctx
    ) -> pb.ListSecuritiesResponse:
        doc, guarantors, collateral = await securities.securities(self.uow, request.loan_id)
        currency = doc["currency"]
        coverage, required = securities.coverage_figures(doc)
        return pb.ListSecuritiesResponse(
            guarantors=[_guarantor(g, currency) for g in guarantors],
            collateral=[_collateral(c) for c in collateral],
            coverage=to_money(coverage, currency),
            required=to_money(required, currency),
        )
