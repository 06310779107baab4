"""Proto to JSON: the contract's 64-bit counts are JSON numbers, other types unchanged."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.convert import to_json
from kopa.loan.v1 import loan_pb2
from kopa.scoring.v1 import scoring_pb2


def test_64_bit_integers_are_numbers_at_any_depth_and_timestamps_stay_strings() -> None:
    job = loan_pb2.CloseOfBusinessJob(
        id="cob_1",
        loans_processed=1_000_000,
        loans_changed=0,
        start_time=Timestamp(seconds=1_790_000_000),
    )
    data = to_json(job)
    assert (data["loans_processed"], data["loans_changed"]) == (1_000_000, 0)
    assert data["start_time"] == "2026-09-21T14:13:20Z"
    assert data["partitions_total"] == 0

    report = scoring_pb2.GetGovernanceReportResponse(
        applications_scored=5,
        bands=[scoring_pb2.BandOutcome(band="A", scored=3, matured=2, defaulted=1)],
    )
    data = to_json(report)
    assert data["applications_scored"] == 5
    assert [(b["scored"], b["matured"], b["defaulted"]) for b in data["bands"]] == [(3, 2, 1)]
    assert to_json(loan_pb2.Loan(id="l", version=7), drop=("version",)) == to_json(
        loan_pb2.Loan(id="l"), drop=("version",)
    )
