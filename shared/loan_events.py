"""The message each ``loan.*`` routing key carries (``kopa/loan/v1/events.proto``): one for
the loan service, which publishes them, and for every consumer, which reads them; and, in a
table of their own, the close of business's events (about a job, not a loan)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol, cast

from google.protobuf.message import Message

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as ev
from kopa.loan.v1 import loan_pb2


class LoanEventMessage(Protocol):
    """What every loan event message has: its metadata and the loan's position after it."""

    @property
    def meta(self) -> common_pb2.EventMeta: ...

    @property
    def loan(self) -> ev.LoanPosition: ...

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


MESSAGES: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {
        "loan.submitted": ev.LoanSubmitted,
        "loan.eligibility_overridden": ev.EligibilityOverridden,
        "loan.scored": ev.LoanScored,
        "loan.approved": ev.LoanApproved,
        "loan.rejected": ev.LoanRejected,
        "loan.disbursed": ev.LoanDisbursed,
        "loan.repayment_applied": ev.RepaymentApplied,
        "loan.repayment_reversed": ev.RepaymentReversed,
        "loan.credit_refunded": ev.CreditRefunded,
        "loan.closed": ev.LoanClosed,
        "loan.reopened": ev.LoanReopened,
        "loan.written_off": ev.LoanWrittenOff,
        "loan.rescheduled": ev.LoanRescheduled,
        "loan.installment_overdue": ev.InstallmentsOverdue,
        "loan.reclassified": ev.LoanReclassified,
    }
)


#: The events loan_service publishes about a close-of-business job (aggregate
#: ``cob_<institution>_<date>``), not a loan: they carry no ``loan`` position, so they are not
#: `LoanEventMessage`s and stay out of `MESSAGES`, which `decode` and the loan event codec
#: read as loan events (``loan.*`` consumers read ``event.loan`` off whatever it decodes).
JOB_MESSAGES: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {"close_of_business.completed": ev.CloseOfBusinessCompleted}
)


def status_word(value: int) -> str:
    """``LOAN_STATUS_WRITTEN_OFF`` -> ``written_off`` (the REST spelling); ValueError for a
    number this build does not know (each reader decides what that means to it)."""
    name = loan_pb2.LoanStatus.Name(value)  # type: ignore[arg-type]
    return name.removeprefix("LOAN_STATUS_").lower()


def decode(routing_key: str, body: bytes) -> LoanEventMessage | None:
    """The event a ``loan.*`` delivery carries; None for a routing key this release does not
    know (published by a newer one: skipped, not dead-lettered)."""
    message_type = MESSAGES.get(routing_key)
    if message_type is None:
        return None
    return cast(LoanEventMessage, message_type.FromString(body))


def decode_job(routing_key: str, body: bytes) -> Message | None:
    """The event a close-of-business delivery carries (`JOB_MESSAGES`); None for a routing key
    this release does not know (skipped, not dead-lettered)."""
    message_type = JOB_MESSAGES.get(routing_key)
    return message_type.FromString(body) if message_type is not None else None
