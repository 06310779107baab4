/** The institution's audit trail, newest first, and the check of its hash chain. */
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type AuditEntry = components["schemas"]["AuditEntry"];
/** The entries about one resource, e.g. `{ target_kind: "borrowers", target_id: "brw_…" }`. */
export type AuditTarget = { target_kind: string; target_id: string };

const PAGE = 50;

export function useAuditLog(target?: AuditTarget) {
  return useInfiniteQuery({
    queryKey: ["audit-log", "pages", target ?? "all"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/audit-log", { params: { query: { page_size: PAGE, page_token: pageParam, ...target } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

/** A fresh recomputation each time it is asked for, never a cached answer. */
export function useVerifyChain() {
  return useMutation({ mutationFn: () => call(api.GET("/v1/audit-log/verify")) });
}
