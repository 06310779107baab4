"""Batch jobs: the daily close of business."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.jobs.schemas import CloseOfBusinessBody, CloseOfBusinessJob
from gateway.schema import IsoDate
from kopa.loan.v2 import loans_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["jobs"])


# A running job has no end time: the key is left out rather than null, as it always was.
@router.post(
    "/v1/jobs/close-of-business",
    summary="Run the close of business",
    response_model_exclude_none=True,
    dependencies=[allowed(P.JOBS_RUN)],
)
async def close_of_business(body: CloseOfBusinessBody, stubs: Stubs) -> CloseOfBusinessJob:
    """Runs the institution's daily batch up to `as_of`: days past due, late penalties and
    delinquency buckets of every `active` loan, then the business date moves to `as_of`.
    Idempotent per date: running a completed date again answers the same job and changes
    nothing; running one that is under way joins it. A date after tomorrow is 422."""
    reply = await stubs.loan.RunCloseOfBusiness(
        to_proto(loans_pb2.RunCloseOfBusinessRequest, body), timeout=3600
    )
    return from_proto(CloseOfBusinessJob, reply.job)


@router.get(
    "/v1/jobs/close-of-business/{as_of}",
    summary="Follow a close of business",
    response_model_exclude_none=True,
    dependencies=[allowed(P.JOBS_RUN)],
)
async def close_of_business_status(as_of: IsoDate, stubs: Stubs) -> CloseOfBusinessJob:
    """The close of business of a date, `running` or `completed`, with its progress; 404
    `JOB_NOT_FOUND` if none has run for that date."""
    reply = await stubs.loan.GetCloseOfBusinessJob(
        to_proto(loans_pb2.GetCloseOfBusinessJobRequest, as_of=as_of)
    )
    return from_proto(CloseOfBusinessJob, reply.job)
