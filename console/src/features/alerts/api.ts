/** The alert queue: alerts the caller may see, by status, and what staff do with them. Cached
 * under ["alerts", ...]: the live feed refreshes it when an alert arrives or changes. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";
import { can, useMe } from "@/lib/session";

export type Alert = components["schemas"]["Alert"];
export type AlertStatus = Alert["status"];
export type User = components["schemas"]["User"];

export const STATUSES = ["open", "acknowledged", "resolved", ""] as const;
const PAGE = 25;

export function useAlerts(status: AlertStatus | "") {
  return useInfiniteQuery({
    queryKey: ["alerts", "queue", status],
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/v1/alerts", {
          params: { query: { ...(status ? { status } : {}), page_size: PAGE, page_token: pageParam } },
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
    // Live items refresh it; a queue left open for hours is asked again now and then too.
    refetchInterval: 5 * 60_000,
  });
}

/** The staff an alert may be given to (active accounts of the institution, as the caller may
 * list them); only the caller themselves when their role may not list staff. */
export function useAssignees() {
  const me = useMe();
  return useQuery({
    queryKey: ["users", "assignees"],
    queryFn: async (): Promise<Pick<User, "id" | "full_name" | "role" | "branch_id">[]> => {
      if (!can(me, "users:read"))
        return [{ id: me.id, full_name: me.full_name, role: me.role as User["role"], branch_id: me.branch_id ?? null }];
      const users: User[] = [];
      let token = "";
      do {
        const page = await call(api.GET("/v1/users", { params: { query: { page_size: 1000, page_token: token } } }));
        users.push(...page.items);
        token = page.next_page_token;
      } while (token);
      return users.filter((u) => !u.disabled && u.role !== "platform_admin" && u.role !== "auditor");
    },
    staleTime: 5 * 60_000,
  });
}

export type Step =
  | { verb: "assign"; alert: Alert; assigneeId: string; note: string }
  | { verb: "acknowledge"; alert: Alert; note?: string }
  | { verb: "resolve"; alert: Alert; note: string };

export function useAlertStep() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (step: Step) => {
      const path = { alert_id: step.alert.id };
      if (step.verb === "assign")
        return call(
          api.POST("/v1/alerts/{alert_id}/assign", {
            params: { path },
            body: { assignee_id: step.assigneeId, note: step.note },
          }),
        );
      if (step.verb === "acknowledge")
        return call(api.POST("/v1/alerts/{alert_id}/acknowledge", { params: { path }, body: { note: step.note ?? "" } }));
      return call(api.POST("/v1/alerts/{alert_id}/resolve", { params: { path }, body: { note: step.note } }));
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ["alerts"] }),
  });
}
