/** The institution's audit trail, newest first, and the check of its hash chain. */
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";

import { api, call } from "@/api/client";

const PAGE = 50;

export function useAuditLog() {
  return useInfiniteQuery({
    queryKey: ["audit-log", "pages"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/audit-log", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

/** A fresh recomputation each time it is asked for, never a cached answer. */
export function useVerifyChain() {
  return useMutation({ mutationFn: () => call(api.GET("/v1/audit-log/verify")) });
}
