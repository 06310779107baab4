/** The institution's clock, webhook endpoints, alert rules and message templates, read and
 * changed (notification_service behind the gateway). A webhook's signing secret comes back once,
 * in the answer to its creation: it is handed to the caller and never kept in the cache. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Schedule = components["schemas"]["Schedule"];
export type ScheduleBody = components["schemas"]["ScheduleBody"];
export type WebhookEndpoint = components["schemas"]["WebhookEndpoint"];
export type WebhookBody = components["schemas"]["WebhookBody"];
export type CreatedWebhook = components["schemas"]["CreatedWebhookEndpoint"];
export type WebhookDelivery = components["schemas"]["WebhookDelivery"];
export type AlertRule = components["schemas"]["AlertRule"];
export type AlertRuleBody = components["schemas"]["AlertRuleBody"];
export type Trigger = AlertRuleBody["trigger"];
export type Template = components["schemas"]["Template"];
export type TemplateKey = Pick<Template, "kind" | "channel" | "language">;

// --- the clock ---------------------------------------------------------------------------

export function useSchedule(institution_id: string) {
  return useQuery({
    queryKey: ["institution", institution_id, "schedule"],
    queryFn: () =>
      call(api.GET("/v1/institutions/{institution_id}/schedule", { params: { path: { institution_id } } })),
  });
}

export function useSaveSchedule(institution_id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: ScheduleBody) =>
      call(api.PUT("/v1/institutions/{institution_id}/schedule", { params: { path: { institution_id } }, body })),
    onSuccess: (schedule) => queries.setQueryData(["institution", institution_id, "schedule"], schedule),
  });
}

// --- webhooks ----------------------------------------------------------------------------

const WEBHOOKS = ["settings", "webhooks"];

export function useWebhooks() {
  return useQuery({
    queryKey: WEBHOOKS,
    queryFn: async () => (await call(api.GET("/v1/webhooks", { params: { query: { page_size: 1000 } } }))).items,
  });
}

export function useCreateWebhook() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: WebhookBody) => call(api.POST("/v1/webhooks", { body })),
    // The answer holds the secret: the mutation cache forgets it at once, and the list is read
    // again (without it), never written from this answer.
    gcTime: 0,
    onSuccess: () => queries.invalidateQueries({ queryKey: WEBHOOKS }),
  });
}

export function useDeleteWebhook() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (webhook_id: string) =>
      call(api.DELETE("/v1/webhooks/{webhook_id}", { params: { path: { webhook_id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: WEBHOOKS }),
  });
}

export function useEnableWebhook() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (webhook_id: string) =>
      call(api.POST("/v1/webhooks/{webhook_id}/enable", { params: { path: { webhook_id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: WEBHOOKS }),
  });
}

export function useDeliveries(webhook_id: string) {
  return useQuery({
    queryKey: [...WEBHOOKS, webhook_id, "deliveries"],
    queryFn: async () =>
      (
        await call(
          api.GET("/v1/webhooks/{webhook_id}/deliveries", {
            params: { path: { webhook_id }, query: { page_size: 50 } },
          }),
        )
      ).items,
  });
}

export function useReplayDelivery(webhook_id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (delivery_id: string) =>
      call(
        api.POST("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", {
          params: { path: { webhook_id, delivery_id } },
        }),
      ),
    onSuccess: () => queries.invalidateQueries({ queryKey: [...WEBHOOKS, webhook_id, "deliveries"] }),
  });
}

// --- alert rules -------------------------------------------------------------------------

const RULES = ["settings", "alert-rules"];

export function useAlertRules() {
  return useQuery({
    queryKey: RULES,
    queryFn: async () => (await call(api.GET("/v1/alert-rules"))).items,
  });
}

export function useSaveAlertRule() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id?: string; body: AlertRuleBody }) =>
      id
        ? call(api.PUT("/v1/alert-rules/{rule_id}", { params: { path: { rule_id: id } }, body }))
        : call(api.POST("/v1/alert-rules", { body })),
    onSuccess: () => queries.invalidateQueries({ queryKey: RULES }),
  });
}

export function useDeleteAlertRule() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (rule_id: string) => call(api.DELETE("/v1/alert-rules/{rule_id}", { params: { path: { rule_id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: RULES }),
  });
}

/** Every branch, for choosing which a rule covers. */
export function useAllBranches() {
  return useQuery({
    queryKey: ["branches", "all"],
    queryFn: async () => (await call(api.GET("/v1/branches", { params: { query: { page_size: 1000 } } }))).items,
    staleTime: 5 * 60_000,
  });
}

// --- message templates -------------------------------------------------------------------

const TEMPLATES = ["settings", "notification-templates"];

export function useTemplates() {
  return useQuery({
    queryKey: TEMPLATES,
    queryFn: async () => (await call(api.GET("/v1/notification-templates"))).items,
  });
}

function useReplaceTemplate() {
  const queries = useQueryClient();
  return (saved: Template) =>
    queries.setQueryData<Template[]>(TEMPLATES, (list) =>
      list?.map((t) =>
        t.kind === saved.kind && t.channel === saved.channel && t.language === saved.language ? saved : t,
      ),
    );
}

export function useSaveTemplate() {
  const replace = useReplaceTemplate();
  return useMutation({
    mutationFn: ({ key, subject, body }: { key: TemplateKey; subject?: string | null; body: string }) =>
      call(
        api.PUT("/v1/notification-templates/{kind}/{channel}/{language}", {
          params: { path: key },
          body: key.channel === "email" ? { subject: subject ?? null, body } : { body },
        }),
      ),
    onSuccess: replace,
  });
}

export function useRestoreTemplate() {
  const replace = useReplaceTemplate();
  return useMutation({
    mutationFn: (key: TemplateKey) =>
      call(api.DELETE("/v1/notification-templates/{kind}/{channel}/{language}", { params: { path: key } })),
    onSuccess: replace,
  });
}
