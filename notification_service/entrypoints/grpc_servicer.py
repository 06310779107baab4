"""The four kopa.notification.v1 servicers: requests in, use cases called, answers out."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeAlias

import grpc

from kopa.notification.v1 import notification_pb2 as pb
from kopa.notification.v1 import notification_pb2_grpc as pb_grpc
from notification_service.entrypoints import mapping as m
from notification_service.service_layer.alerts import Alerting
from notification_service.service_layer.business_days import BusinessDays
from notification_service.service_layer.clock import now
from notification_service.service_layer.dispatch import Dispatcher
from notification_service.service_layer.messages import Messenger
from notification_service.service_layer.templates import TemplateBook
from notification_service.service_layer.webhooks import Webhooks

Ctx: TypeAlias = grpc.aio.ServicerContext


class NotificationServicer(pb_grpc.NotificationServiceServicer):
    def __init__(self, book: TemplateBook, messenger: Messenger, dispatcher: Dispatcher) -> None:
        self.book = book
        self.messenger = messenger
        self.dispatcher = dispatcher

    async def ListTemplates(
        self, request: pb.ListTemplatesRequest, context: Ctx
    ) -> pb.ListTemplatesResponse:
        views = await self.book.list()
        return pb.ListTemplatesResponse(templates=[m.template_to_proto(v) for v in views])

    async def GetTemplate(
        self, request: pb.GetTemplateRequest, context: Ctx
    ) -> pb.GetTemplateResponse:
        view = await self.book.get(*m.template_key(request.kind, request.channel, request.language))
        return pb.GetTemplateResponse(template=m.template_to_proto(view))

    async def PutTemplate(
        self, request: pb.PutTemplateRequest, context: Ctx
    ) -> pb.PutTemplateResponse:
        t = request.template
        view = await self.book.put(
            *m.template_key(t.kind, t.channel, t.language), t.subject, t.body
        )
        return pb.PutTemplateResponse(template=m.template_to_proto(view))

    async def DeleteTemplate(
        self, request: pb.DeleteTemplateRequest, context: Ctx
    ) -> pb.DeleteTemplateResponse:
        view = await self.book.delete(
            *m.template_key(request.kind, request.channel, request.language)
        )
        return pb.DeleteTemplateResponse(template=m.template_to_proto(view))

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: Ctx
    ) -> pb.ListNotificationsResponse:
        page = await self.messenger.page(
            request.borrower_id, request.loan_id, request.page_size, request.page_token
        )
        return pb.ListNotificationsResponse(
            notifications=[m.notification_to_proto(n) for n in page.items],
            next_page_token=page.next_page_token,
        )

    async def GetNotification(
        self, request: pb.GetNotificationRequest, context: Ctx
    ) -> pb.GetNotificationResponse:
        n = await self.messenger.get(request.notification_id)
        return pb.GetNotificationResponse(notification=m.notification_to_proto(n))

    async def GetBorrowerPreferences(
        self, request: pb.GetBorrowerPreferencesRequest, context: Ctx
    ) -> pb.GetBorrowerPreferencesResponse:
        prefs = await self.messenger.preferences_of(request.borrower_id)
        return pb.GetBorrowerPreferencesResponse(preferences=m.preferences_to_proto(prefs))

    async def UpdateBorrowerPreferences(
        self, request: pb.UpdateBorrowerPreferencesRequest, context: Ctx
    ) -> pb.UpdateBorrowerPreferencesResponse:
        prefs = await self.messenger.set_preferences(m.preferences_of(request.preferences))
        return pb.UpdateBorrowerPreferencesResponse(preferences=m.preferences_to_proto(prefs))

    async def RecordDeliveryReport(
        self, request: pb.RecordDeliveryReportRequest, context: Ctx
    ) -> pb.RecordDeliveryReportResponse:
        n = await self.dispatcher.report(
            request.notification_id, request.token, request.dlr_type, request.reply
        )
        return pb.RecordDeliveryReportResponse(notification=m.notification_to_proto(n))


class WebhookServicer(pb_grpc.WebhookServiceServicer):
    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    async def CreateWebhookEndpoint(
        self, request: pb.CreateWebhookEndpointRequest, context: Ctx
    ) -> pb.CreateWebhookEndpointResponse:
        e = request.endpoint
        made = await self.webhooks.create(e.url, list(e.event_types), e.description)
        return pb.CreateWebhookEndpointResponse(
            endpoint=m.endpoint_to_proto(made, with_secret=True)
        )

    async def ListWebhookEndpoints(
        self, request: pb.ListWebhookEndpointsRequest, context: Ctx
    ) -> pb.ListWebhookEndpointsResponse:
        page = await self.webhooks.page(request.page_size, request.page_token)
        return pb.ListWebhookEndpointsResponse(
            endpoints=[m.endpoint_to_proto(e) for e in page.items],
            next_page_token=page.next_page_token,
        )

    async def GetWebhookEndpoint(
        self, request: pb.GetWebhookEndpointRequest, context: Ctx
    ) -> pb.GetWebhookEndpointResponse:
        e = await self.webhooks.get(request.endpoint_id)
        return pb.GetWebhookEndpointResponse(endpoint=m.endpoint_to_proto(e))

    async def DeleteWebhookEndpoint(
        self, request: pb.DeleteWebhookEndpointRequest, context: Ctx
    ) -> pb.DeleteWebhookEndpointResponse:
        await self.webhooks.delete(request.endpoint_id)
        return pb.DeleteWebhookEndpointResponse()

    async def EnableWebhookEndpoint(
        self, request: pb.EnableWebhookEndpointRequest, context: Ctx
    ) -> pb.EnableWebhookEndpointResponse:
        e = await self.webhooks.enable(request.endpoint_id)
        return pb.EnableWebhookEndpointResponse(endpoint=m.endpoint_to_proto(e))

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Ctx
    ) -> pb.ListWebhookDeliveriesResponse:
        page = await self.webhooks.deliveries_of(
            request.endpoint_id,
            m.word(pb.DeliveryStatus, request.status, "status"),
            request.page_size,
            request.page_token,
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[m.delivery_to_proto(d) for d in page.items],
            next_page_token=page.next_page_token,
        )

    async def ReplayWebhookDelivery(
        self, request: pb.ReplayWebhookDeliveryRequest, context: Ctx
    ) -> pb.ReplayWebhookDeliveryResponse:
        d = await self.webhooks.replay(request.endpoint_id, request.delivery_id)
        return pb.ReplayWebhookDeliveryResponse(delivery=m.delivery_to_proto(d))


class AlertServicer(pb_grpc.AlertServiceServicer):
    def __init__(self, alerting: Alerting) -> None:
        self.alerting = alerting

    async def CreateAlertRule(
        self, request: pb.CreateAlertRuleRequest, context: Ctx
    ) -> pb.CreateAlertRuleResponse:
        rule = await self.alerting.create_rule(m.rule_of(request.rule))
        return pb.CreateAlertRuleResponse(rule=m.rule_to_proto(rule))

    async def ListAlertRules(
        self, request: pb.ListAlertRulesRequest, context: Ctx
    ) -> pb.ListAlertRulesResponse:
        rules = await self.alerting.all_rules()
        return pb.ListAlertRulesResponse(rules=[m.rule_to_proto(r) for r in rules])

    async def GetAlertRule(
        self, request: pb.GetAlertRuleRequest, context: Ctx
    ) -> pb.GetAlertRuleResponse:
        rule = await self.alerting.rule(request.rule_id)
        return pb.GetAlertRuleResponse(rule=m.rule_to_proto(rule))

    async def UpdateAlertRule(
        self, request: pb.UpdateAlertRuleRequest, context: Ctx
    ) -> pb.UpdateAlertRuleResponse:
        rule = await self.alerting.update_rule(m.rule_of(request.rule))
        return pb.UpdateAlertRuleResponse(rule=m.rule_to_proto(rule))

    async def DeleteAlertRule(
        self, request: pb.DeleteAlertRuleRequest, context: Ctx
    ) -> pb.DeleteAlertRuleResponse:
        await self.alerting.delete_rule(request.rule_id)
        return pb.DeleteAlertRuleResponse()

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: Ctx
    ) -> pb.ListAlertsResponse:
        page = await self.alerting.page(
            m.word(pb.AlertStatus, request.status, "status"),
            request.branch_id,
            request.assignee_id,
            request.page_size,
            request.page_token,
        )
        return pb.ListAlertsResponse(
            alerts=[m.alert_to_proto(a) for a in page.items], next_page_token=page.next_page_token
        )

    async def GetAlert(self, request: pb.GetAlertRequest, context: Ctx) -> pb.GetAlertResponse:
        alert = await self.alerting.get(request.alert_id)
        return pb.GetAlertResponse(alert=m.alert_to_proto(alert))

    async def AssignAlert(
        self, request: pb.AssignAlertRequest, context: Ctx
    ) -> pb.AssignAlertResponse:
        alert = await self.alerting.assign(request.alert_id, request.assignee_id, request.note)
        return pb.AssignAlertResponse(alert=m.alert_to_proto(alert))

    async def AcknowledgeAlert(
        self, request: pb.AcknowledgeAlertRequest, context: Ctx
    ) -> pb.AcknowledgeAlertResponse:
        alert = await self.alerting.acknowledge(request.alert_id, request.note)
        return pb.AcknowledgeAlertResponse(alert=m.alert_to_proto(alert))

    async def ResolveAlert(
        self, request: pb.ResolveAlertRequest, context: Ctx
    ) -> pb.ResolveAlertResponse:
        alert = await self.alerting.resolve(request.alert_id, request.note)
        return pb.ResolveAlertResponse(alert=m.alert_to_proto(alert))


class ScheduleServicer(pb_grpc.ScheduleServiceServicer):
    def __init__(self, days: BusinessDays) -> None:
        self.days = days

    async def GetSchedule(
        self, request: pb.GetScheduleRequest, context: Ctx
    ) -> pb.GetScheduleResponse:
        schedule = await self.days.get(request.institution_id)
        return pb.GetScheduleResponse(schedule=m.schedule_to_proto(schedule, now()))

    async def UpdateSchedule(
        self, request: pb.UpdateScheduleRequest, context: Ctx
    ) -> pb.UpdateScheduleResponse:
        wanted = m.schedule_of(request.schedule)
        schedule = await self.days.update(replace(wanted))
        return pb.UpdateScheduleResponse(schedule=m.schedule_to_proto(schedule, now()))
