"""The LoanService servicer of kopa.loan.v2: products, quotes, the loan's life cycle, payoff
quotes, collection sheets, lending settings and the close of business with typed contracts.

It shares every method with kopa.loan.v1's servicer (`LoanUseCases`): a request's
google.type.Money and google.type.Date are read once at the edge (`mapping.request_fields`,
a malformed one refused naming its field) and the use case judges the values against the
product, the loan and the institution's currency; the answer is written in v2's messages
(`mapping.V2`: Money naming the currency, Date, enums)."""

from __future__ import annotations

from kopa.loan.v2 import loans_pb2_grpc
from loan_service.entrypoints import mapping as m
from loan_service.entrypoints.grpc_servicer import LoanUseCases


class LoanServicer(LoanUseCases, loans_pb2_grpc.LoanServiceServicer):
    wire = m.V2
