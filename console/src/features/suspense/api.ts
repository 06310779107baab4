/** Money received that matched no loan (a mobile-money payment with a wrong account number),
 * paged, and its assignment to the loan it was meant for. */
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";

const PAGE = 50;

export function useSuspensePages() {
  return useInfiniteQuery({
    queryKey: ["suspense", "pages"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/suspense", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

export function useAssign() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ paymentId, loanId }: { paymentId: string; loanId: string }) =>
      call(api.POST("/v1/suspense/{payment_id}/assign", { params: { path: { payment_id: paymentId } }, body: { loan_id: loanId } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["suspense"] }),
  });
}
