"""Messages to borrowers: what was sent, the templates it is written from, each borrower's
consent and language, and the SMS gateway's delivery reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed, rate_limit_client
from gateway.notifications.schemas import (
    Language,
    MessageChannel,
    Notification,
    Preferences,
    PreferencesBody,
    Template,
    TemplateBody,
    TemplateKind,
)
from gateway.schema import INT32_MAX, Page, PageSize, PageToken
from kopa.notification.v1 import notification_pb2 as pb
from shared.permissions import Permission as P

router = APIRouter(tags=["notifications"])

TEMPLATE_PATH = "/v1/notification-templates/{kind}/{channel}/{language}"


@router.get(
    "/v1/notifications",
    summary="List the messages sent to borrowers",
    dependencies=[allowed(P.NOTIFICATIONS_READ)],
)
async def list_notifications(
    stubs: Stubs,
    borrower_id: Annotated[str, Query(description="only the messages to this borrower")] = "",
    loan_id: Annotated[str, Query(description="only the messages about this loan")] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Notification]:
    """Every SMS and email to the institution's borrowers (agents and branch managers: their
    branch's), newest first, with the text as sent and what the provider reported."""
    reply = await stubs.notifications.ListNotifications(
        pb.ListNotificationsRequest(
            borrower_id=borrower_id, loan_id=loan_id, page_size=page_size, page_token=page_token
        )
    )
    return Page[Notification](
        items=[from_proto(Notification, n) for n in reply.notifications],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/notifications/{notification_id}",
    summary="Get a message",
    dependencies=[allowed(P.NOTIFICATIONS_READ)],
)
async def get_notification(notification_id: str, stubs: Stubs) -> Notification:
    """One message; another institution's, or for branch staff another branch's, is 404."""
    reply = await stubs.notifications.GetNotification(
        pb.GetNotificationRequest(notification_id=notification_id)
    )
    return from_proto(Notification, reply.notification)


@router.get(
    "/v1/notification-templates",
    summary="List the message templates",
    dependencies=[allowed(P.NOTIFICATIONS_READ)],
)
async def list_templates(stubs: Stubs) -> Page[Template]:
    """Every kind, channel and language, in one page: the institution's own text where it
    saved one (`default: false`), else Kopa's."""
    reply = await stubs.notifications.ListTemplates(pb.ListTemplatesRequest())
    return Page[Template](
        items=[from_proto(Template, t) for t in reply.templates], next_page_token=""
    )


def _template_key(
    kind: TemplateKind, channel: MessageChannel, language: Language
) -> dict[str, str]:
    return {"kind": kind, "channel": channel, "language": language}


@router.get(TEMPLATE_PATH, summary="Get a template", dependencies=[allowed(P.NOTIFICATIONS_READ)])
async def get_template(
    kind: TemplateKind, channel: MessageChannel, language: Language, stubs: Stubs
) -> Template:
    """The text in use for this kind, channel and language, with the variables it may use."""
    reply = await stubs.notifications.GetTemplate(
        to_proto(pb.GetTemplateRequest, _template_key(kind, channel, language))
    )
    return from_proto(Template, reply.template)


@router.put(
    TEMPLATE_PATH, summary="Save a template", dependencies=[allowed(P.NOTIFICATIONS_MANAGE)]
)
async def put_template(
    kind: TemplateKind,
    channel: MessageChannel,
    language: Language,
    body: TemplateBody,
    stubs: Stubs,
) -> Template:
    """The institution's own text for this kind, channel and language, used from the next
    message on. It is checked as it is saved, never at send time: a syntax error or a variable
    the kind does not offer is 422 naming `body` (or `subject`) with the line, and nothing is
    saved."""
    template = to_proto(pb.Template, body, **_template_key(kind, channel, language))
    reply = await stubs.notifications.PutTemplate(pb.PutTemplateRequest(template=template))
    return from_proto(Template, reply.template)


@router.delete(
    TEMPLATE_PATH,
    summary="Go back to the default template",
    dependencies=[allowed(P.NOTIFICATIONS_MANAGE)],
)
async def delete_template(
    kind: TemplateKind, channel: MessageChannel, language: Language, stubs: Stubs
) -> Template:
    """Forgets the institution's text: Kopa's default is used again, and answered."""
    reply = await stubs.notifications.DeleteTemplate(
        to_proto(pb.DeleteTemplateRequest, _template_key(kind, channel, language))
    )
    return from_proto(Template, reply.template)


@router.get(
    "/v1/borrowers/{borrower_id}/notification-preferences",
    summary="A borrower's message preferences",
    dependencies=[allowed(P.NOTIFICATIONS_READ)],
)
async def get_preferences(borrower_id: str, stubs: Stubs) -> Preferences:
    """The channels the borrower consented to (recorded at onboarding), their email address,
    language and whether they opted out of every message."""
    reply = await stubs.notifications.GetBorrowerPreferences(
        pb.GetBorrowerPreferencesRequest(borrower_id=borrower_id)
    )
    return from_proto(Preferences, reply.preferences)


@router.put(
    "/v1/borrowers/{borrower_id}/notification-preferences",
    summary="Record a borrower's message preferences",
    dependencies=[allowed(P.NOTIFICATION_PREFERENCES_UPDATE)],
)
async def put_preferences(borrower_id: str, body: PreferencesBody, stubs: Stubs) -> Preferences:
    """Replaces the borrower's choices; messages from now on follow them (one queued already
    is judged again when it is sent)."""
    preferences = to_proto(pb.BorrowerPreferences, body, borrower_id=borrower_id)
    reply = await stubs.notifications.UpdateBorrowerPreferences(
        pb.UpdateBorrowerPreferencesRequest(preferences=preferences)
    )
    return from_proto(Preferences, reply.preferences)


@router.get(
    "/v1/sms/delivery-reports",
    summary="Receive an SMS delivery report",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "enum": ["ok"]}}}},
        401: {"description": "The token is not the one the message's callback address holds."},
        404: {"description": "No such message."},
        429: {"description": "Too many reports from this address a minute."},
    },
)
async def delivery_report(
    request: Request,
    stubs: Stubs,
    notification_id: Annotated[str, Query(min_length=1, max_length=200)],
    token: Annotated[
        str, Query(min_length=1, max_length=200, description="the callback address's secret")
    ],
    dlr_type: Annotated[
        int,
        Query(
            ge=0,
            le=INT32_MAX,
            description="Kannel's DLR type: 1 delivered, 2 failed, 4 buffered, 8 submitted to "
            "the SMSC, 16 rejected by the SMSC",
        ),
    ],
    reply: Annotated[
        str, Query(max_length=1000, description="the SMSC's own text, kept for the record")
    ] = "",
) -> PlainTextResponse:
    """For Kannel, not for staff: it takes no bearer token. notification_service gives Kannel
    each message's `dlr-url` with this address, the message's id and a token, which
    authenticates the report (401 when it is wrong). Idempotent: a report older than the
    status held changes nothing. Rate-limited per address, generously (one smsbox sends
    every report)."""
    await rate_limit_client(
        request, request.app.state.settings.delivery_report_rate_limit_per_minute
    )
    await stubs.notifications.RecordDeliveryReport(
        pb.RecordDeliveryReportRequest(
            notification_id=notification_id, token=token, dlr_type=dlr_type, reply=reply
        )
    )
    return PlainTextResponse("ok")
