"""A peer's channel retries the idempotent calls of every service the peer serves, the v2
contracts beside v1, and never a write that could apply twice."""

from __future__ import annotations

import json

import pytest

from shared.grpc_client import retried_methods, service_config
from shared.service import peer_services

pytestmark = pytest.mark.unit


def test_the_payment_channel_retries_reads_of_both_contracts_and_no_posting() -> None:
    retried = set(retried_methods(peer_services("payment")))

    assert ("kopa.payment.v2.RepaymentService", "GetPayment") in retried
    assert ("kopa.payment.v2.RepaymentService", "ListRepayments") in retried
    assert ("kopa.payment.v1.PaymentService", "GetTrialBalance") in retried
    assert {m for _, m in retried}.isdisjoint(
        {"PostRepayment", "RefundCredit", "ReverseRepayment", "ReceiveMobileMoney"}
    )


def test_the_loan_channel_retries_none_of_the_money_path() -> None:
    retried = set(retried_methods(peer_services("loan")))

    assert not any(s == "kopa.loan.v2.RepaymentService" for s, _ in retried)
    assert ("kopa.loan.v1.LoanService", "GetLoan") in retried
    assert ("kopa.loan.v1.LoanService", "ScoreLoan") in retried  # idempotent by request


def test_the_service_config_names_each_pair() -> None:
    config = json.loads(service_config([("a.v1.S", "GetX"), ("a.v2.T", "ListY")]))
    (method,) = config["methodConfig"]
    assert method["name"] == [
        {"service": "a.v1.S", "method": "GetX"},
        {"service": "a.v2.T", "method": "ListY"},
    ]
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
