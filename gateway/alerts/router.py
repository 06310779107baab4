"""Alert rules and the alert queue: what staff are told to act on, and what they did."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.alerts.schemas import (
    Alert,
    AlertAssignBody,
    AlertRule,
    AlertRuleBody,
    AlertStatus,
    NoteBody,
)
from gateway.convert import from_proto, to_proto
from gateway.deps import CurrentPrincipal, Stubs, allowed
from gateway.schema import OptionalIdempotencyKey, Page, PageSize, PageToken
from kopa.notification.v1 import notification_pb2 as pb
from kopa.user.v2 import user_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["alerts"])


async def typed_rule(
    body: AlertRuleBody, stubs: Stubs, principal: CurrentPrincipal, **values: str
) -> pb.AlertRule:
    """The rule as the contract carries it, its `amount` in the institution's currency:
    notification_service keeps the threshold with its currency and answers it so."""
    rule = to_proto(pb.AlertRule, body, **values)
    if body.amount is not None:
        # Managing alert rules is an institution's admins' (the platform's has no rules).
        reply = await stubs.user.GetInstitution(
            user_pb2.GetInstitutionRequest(institution_id=principal.institution_id or "")
        )
        rule.amount.currency_code = reply.institution.currency
    return rule


def alert_rule(rule: pb.AlertRule) -> AlertRule:
    # proto3 has no null: the thresholds a trigger does not use travel as 0.
    return from_proto(AlertRule, rule, days=rule.days or None, hours=rule.hours or None)


@router.get(
    "/v1/alert-rules", summary="List alert rules", dependencies=[allowed(P.ALERT_RULES_READ)]
)
async def list_alert_rules(stubs: Stubs) -> Page[AlertRule]:
    """The institution's rules, in one page."""
    reply = await stubs.alerts.ListAlertRules(pb.ListAlertRulesRequest())
    return Page[AlertRule](items=[alert_rule(r) for r in reply.rules], next_page_token="")


@router.post(
    "/v1/alert-rules",
    status_code=201,
    summary="Add an alert rule",
    dependencies=[allowed(P.ALERT_RULES_MANAGE)],
)
async def create_alert_rule(
    body: AlertRuleBody,
    stubs: Stubs,
    principal: CurrentPrincipal,
    idempotency_key: OptionalIdempotencyKey = "",
) -> AlertRule:
    """From now on the rule's trigger raises an alert in the queue of the staff it names
    (`roles`, in `branch_ids`; admins always), and sends it by the `channels` it names. The
    trigger's threshold is required: `days`, `ratio`, `hours` or `amount` (in the
    institution's currency); a missing or bad one is 422 naming it. With an
    `Idempotency-Key`, a retry answers the same rule."""
    reply = await stubs.alerts.CreateAlertRule(
        pb.CreateAlertRuleRequest(
            rule=await typed_rule(body, stubs, principal), request_id=idempotency_key
        )
    )
    return alert_rule(reply.rule)


@router.get(
    "/v1/alert-rules/{rule_id}",
    summary="Get an alert rule",
    dependencies=[allowed(P.ALERT_RULES_READ)],
)
async def get_alert_rule(rule_id: str, stubs: Stubs) -> AlertRule:
    reply = await stubs.alerts.GetAlertRule(pb.GetAlertRuleRequest(rule_id=rule_id))
    return alert_rule(reply.rule)


@router.put(
    "/v1/alert-rules/{rule_id}",
    summary="Replace an alert rule",
    dependencies=[allowed(P.ALERT_RULES_MANAGE)],
)
async def replace_alert_rule(
    rule_id: str, body: AlertRuleBody, stubs: Stubs, principal: CurrentPrincipal
) -> AlertRule:
    """Every field replaced; alerts raised already keep who sees them."""
    reply = await stubs.alerts.UpdateAlertRule(
        pb.UpdateAlertRuleRequest(rule=await typed_rule(body, stubs, principal, id=rule_id))
    )
    return alert_rule(reply.rule)


@router.delete(
    "/v1/alert-rules/{rule_id}",
    status_code=204,
    summary="Remove an alert rule",
    dependencies=[allowed(P.ALERT_RULES_MANAGE)],
)
async def delete_alert_rule(rule_id: str, stubs: Stubs) -> Response:
    """It raises nothing more; its alerts stay in the queue."""
    await stubs.alerts.DeleteAlertRule(pb.DeleteAlertRuleRequest(rule_id=rule_id))
    return Response(status_code=204)


@router.get("/v1/alerts", summary="The alert queue", dependencies=[allowed(P.ALERTS_READ)])
async def list_alerts(
    stubs: Stubs,
    status: Annotated[AlertStatus | None, Query(description="only those in this status")] = None,
    branch_id: Annotated[str, Query(description="only this branch's")] = "",
    assignee_id: Annotated[str, Query(description="only those assigned to this user")] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[Alert]:
    """The alerts the caller may see (their role named by the alert's rule, or admin; agents
    and branch managers: their branch's), newest first. New ones also arrive live on
    `GET /v1/events/stream`."""
    reply = await stubs.alerts.ListAlerts(
        to_proto(
            pb.ListAlertsRequest,
            {
                "status": status,
                "branch_id": branch_id,
                "assignee_id": assignee_id,
                "page_size": page_size,
                "page_token": page_token,
            },
        )
    )
    return Page[Alert](
        items=[from_proto(Alert, a) for a in reply.alerts], next_page_token=reply.next_page_token
    )


@router.get("/v1/alerts/{alert_id}", summary="Get an alert", dependencies=[allowed(P.ALERTS_READ)])
async def get_alert(alert_id: str, stubs: Stubs) -> Alert:
    """An alert with its history; one the caller may not see is 404."""
    reply = await stubs.alerts.GetAlert(pb.GetAlertRequest(alert_id=alert_id))
    return from_proto(Alert, reply.alert)


@router.post(
    "/v1/alerts/{alert_id}/assign",
    summary="Assign an alert",
    dependencies=[allowed(P.ALERTS_HANDLE)],
)
async def assign_alert(alert_id: str, body: AlertAssignBody, stubs: Stubs) -> Alert:
    """Gives the alert to a staff member (again, to another); a resolved alert is 409."""
    reply = await stubs.alerts.AssignAlert(to_proto(pb.AssignAlertRequest, body, alert_id=alert_id))
    return from_proto(Alert, reply.alert)


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert",
    dependencies=[allowed(P.ALERTS_HANDLE)],
)
async def acknowledge_alert(alert_id: str, stubs: Stubs, body: NoteBody | None = None) -> Alert:
    """Someone is on it: an `open` alert becomes `acknowledged` (otherwise 409); the body may be
    left out."""
    reply = await stubs.alerts.AcknowledgeAlert(
        to_proto(pb.AcknowledgeAlertRequest, body or {}, alert_id=alert_id)
    )
    return from_proto(Alert, reply.alert)


@router.post(
    "/v1/alerts/{alert_id}/resolve",
    summary="Resolve an alert",
    dependencies=[allowed(P.ALERTS_HANDLE)],
)
async def resolve_alert(alert_id: str, stubs: Stubs, body: NoteBody | None = None) -> Alert:
    """Done with: the alert becomes `resolved` (a resolved one is 409); the body may be left
    out."""
    reply = await stubs.alerts.ResolveAlert(
        to_proto(pb.ResolveAlertRequest, body or {}, alert_id=alert_id)
    )
    return from_proto(Alert, reply.alert)
