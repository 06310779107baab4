/** The institution's branches, paged, and a new one. */
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";

const PAGE = 50;

export function useBranchPages() {
  return useInfiniteQuery({
    queryKey: ["branches", "pages"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/branches", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

export function useCreateBranch() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => call(api.POST("/v1/branches", { body: { name } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["branches"] }),
  });
}
