/** Messages to borrowers, listed per borrower or per loan, newest first. Cached under
 * ["notifications", "borrower" | "loan", id]: the live feed refreshes the list an arriving
 * message belongs to. */
import { useInfiniteQuery } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Notification = components["schemas"]["Notification"];
export type MessagesOf = { borrower_id: string } | { loan_id: string };

const PAGE = 20;

export function messagesKey(of: MessagesOf) {
  return "borrower_id" in of ? ["notifications", "borrower", of.borrower_id] : ["notifications", "loan", of.loan_id];
}

export function useMessages(of: MessagesOf) {
  return useInfiniteQuery({
    queryKey: messagesKey(of),
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/notifications", { params: { query: { ...of, page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}
