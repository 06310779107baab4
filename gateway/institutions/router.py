"""Institutions (created by the platform administrator), their security policy, their lending
settings and their clock."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.convert import from_proto, money_of, money_text, to_proto
from gateway.deps import Stubs, allowed
from gateway.institutions.schemas import (
    DelinquencyBucket,
    Institution,
    InstitutionBody,
    LoanSettings,
    LoanSettingsBody,
    Schedule,
    ScheduleBody,
    SecurityPolicy,
    SecurityPolicyBody,
)
from gateway.schema import IsoDate, Page, PageSize, PageToken, Timestamp
from kopa.auth.v1 import auth_pb2
from kopa.loan.v2 import loans_pb2
from kopa.notification.v1 import notification_pb2
from kopa.user.v2 import user_pb2
from shared.errors import ValidationError
from shared.permissions import Permission as P

router = APIRouter(tags=["institutions"])


@router.post(
    "/v1/institutions",
    summary="Create an institution",
    status_code=201,
    dependencies=[allowed(P.INSTITUTIONS_CREATE)],
)
async def create_institution(body: InstitutionBody, stubs: Stubs) -> Institution:
    """A new institution, empty: the platform administrator then creates its first admin
    (`POST /v1/users` naming `institution_id`), who sets up its branches, staff and
    products."""
    reply = await stubs.user.CreateInstitution(to_proto(user_pb2.CreateInstitutionRequest, body))
    return from_proto(Institution, reply.institution)


@router.get(
    "/v1/institutions", summary="List institutions", dependencies=[allowed(P.INSTITUTIONS_READ)]
)
async def list_institutions(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Institution]:
    """Every institution for the platform administrator; for staff, their own only."""
    reply = await stubs.user.ListInstitutions(
        user_pb2.ListInstitutionsRequest(page_size=page_size, page_token=page_token)
    )
    return Page(
        items=[from_proto(Institution, i) for i in reply.institutions],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/institutions/{institution_id}",
    summary="Get an institution",
    dependencies=[allowed(P.INSTITUTIONS_READ)],
)
async def get_institution(institution_id: str, stubs: Stubs) -> Institution:
    """An institution: the caller's own, or any for the platform administrator; another is
    404."""
    reply = await stubs.user.GetInstitution(
        user_pb2.GetInstitutionRequest(institution_id=institution_id)
    )
    return from_proto(Institution, reply.institution)


@router.get(
    "/v1/institutions/{institution_id}/security-policy",
    summary="Get the security policy",
    dependencies=[allowed(P.SECURITY_POLICY_READ)],
)
async def get_security_policy(institution_id: str, stubs: Stubs) -> SecurityPolicy:
    """Which staff roles must sign in with two-factor authentication, for the institution's
    admins and auditors or the platform administrator. Another institution's is 404."""
    reply = await stubs.auth.GetSecurityPolicy(
        auth_pb2.GetSecurityPolicyRequest(institution_id=institution_id)
    )
    return from_proto(SecurityPolicy, reply.policy)


@router.put(
    "/v1/institutions/{institution_id}/security-policy",
    summary="Replace the security policy",
    dependencies=[allowed(P.SECURITY_POLICY_MANAGE)],
)
async def replace_security_policy(
    institution_id: str, body: SecurityPolicyBody, stubs: Stubs
) -> SecurityPolicy:
    """Replace the institution's security policy, by its admins or the platform administrator
    (who may have to require a second factor of the admins it created). Another institution's
    is 404. The change is in the institution's audit log."""
    policy = to_proto(auth_pb2.SecurityPolicy, body, institution_id=institution_id)
    reply = await stubs.auth.UpdateSecurityPolicy(
        auth_pb2.UpdateSecurityPolicyRequest(policy=policy)
    )
    return from_proto(SecurityPolicy, reply.policy)


def _loan_settings(settings: loans_pb2.LoanSettings) -> LoanSettings:
    return from_proto(
        LoanSettings,
        settings,
        approval_limits={
            limit.role: money_text(limit.amount) or None for limit in settings.approval_limits
        },
        delinquency_buckets=[
            from_proto(DelinquencyBucket, b, max_days=None if b.open_ended else b.max_days)
            for b in settings.delinquency_buckets
        ],
    )


@router.get(
    "/v1/institutions/{institution_id}/loan-settings",
    summary="Get the lending settings",
    dependencies=[allowed(P.SETTINGS_READ)],
)
async def get_loan_settings(institution_id: str, stubs: Stubs) -> LoanSettings:
    """Approval limits per role, delinquency buckets and the last close-of-business date, for
    the institution's staff. Another institution's are 404."""
    reply = await stubs.loan.GetLoanSettings(
        loans_pb2.GetLoanSettingsRequest(institution_id=institution_id)
    )
    return _loan_settings(reply.settings)


@router.put(
    "/v1/institutions/{institution_id}/loan-settings",
    summary="Change the lending settings",
    dependencies=[allowed(P.SETTINGS_MANAGE)],
)
async def update_loan_settings(
    institution_id: str, body: LoanSettingsBody, stubs: Stubs
) -> LoanSettings:
    """Replace the approval limits and/or the delinquency buckets, by the institution's
    admins; a field left out stays as it is. A limit applies to loans approved from now on;
    new buckets classify every active loan from the next close of business. Every bad limit
    or bucket is named at once (422)."""
    request = loans_pb2.UpdateLoanSettingsRequest(institution_id=institution_id)
    if body.approval_limits is not None:
        request.set_approval_limits = True
        errors: list[tuple[str, str]] = []
        for role, amount in body.approval_limits.items():
            limit = request.approval_limits.add(role=role)
            if amount:  # else no limit
                try:
                    limit.amount.CopyFrom(money_of(amount, f"approval_limits.{role}"))
                except ValidationError as exc:
                    errors.extend(exc.field_errors)
        if errors:
            raise ValidationError("the approval limits are invalid", field_errors=errors)
    if body.delinquency_buckets is not None:
        request.set_delinquency_buckets = True
        request.delinquency_buckets.extend(
            loans_pb2.DelinquencyBucket(
                name=b.name,
                min_days=b.min_days,
                max_days=b.max_days or 0,
                open_ended=b.max_days is None,
            )
            for b in body.delinquency_buckets
        )
    reply = await stubs.loan.UpdateLoanSettings(request)
    return _loan_settings(reply.settings)


class _Run(BaseModel):
    """A `ScheduleRun` as the API writes its parts (flat in `Schedule`)."""

    time: Timestamp | None
    business_date: IsoDate | None


def _schedule(schedule: notification_pb2.Schedule) -> Schedule:
    last, following = from_proto(_Run, schedule.last_run), from_proto(_Run, schedule.next_run)
    return from_proto(
        Schedule,
        schedule,
        last_run=last.time,
        last_business_date=last.business_date,
        next_run=following.time,
        next_business_date=following.business_date,
    )


@router.get(
    "/v1/institutions/{institution_id}/schedule",
    summary="Get the institution's clock",
    dependencies=[allowed(P.SCHEDULE_READ)],
)
async def get_schedule(institution_id: str, stubs: Stubs) -> Schedule:
    """The time zone and local time of the daily close of business, the reminders and quiet
    hours, with the last run (and the business date it closed) and the next. Another
    institution's is 404."""
    reply = await stubs.schedule.GetSchedule(
        notification_pb2.GetScheduleRequest(institution_id=institution_id)
    )
    return _schedule(reply.schedule)


@router.put(
    "/v1/institutions/{institution_id}/schedule",
    summary="Set the institution's clock",
    dependencies=[allowed(P.SCHEDULE_MANAGE)],
)
async def update_schedule(institution_id: str, body: ScheduleBody, stubs: Stubs) -> Schedule:
    """Replaces the clock. The close of business then runs every day at
    `close_of_business_time` in `time_zone` on its own (exactly once per date, days missed
    while the platform was down caught up in order), and reminders go out
    `reminder_days_before` days before each due date after it; messages that fall in the
    quiet hours wait until they end. `enabled: false` leaves the close of business to
    `POST /v1/jobs/close-of-business`. Another institution's is 404."""
    schedule = to_proto(notification_pb2.Schedule, body, institution_id=institution_id)
    reply = await stubs.schedule.UpdateSchedule(
        notification_pb2.UpdateScheduleRequest(schedule=schedule)
    )
    return _schedule(reply.schedule)
