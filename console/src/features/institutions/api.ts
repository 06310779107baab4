/** The platform's institutions, a new one, and an admin for one. */
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Institution = components["schemas"]["Institution"];
export type NewAdmin = { full_name: string; email: string; password: string };

const PAGE = 50;

export function useInstitutions() {
  return useInfiniteQuery({
    queryKey: ["institutions", "pages"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/institutions", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

export function useCreateInstitution() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: components["schemas"]["InstitutionBody"]) => call(api.POST("/v1/institutions", { body })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["institutions"] }),
  });
}

export function useCreateAdmin(institution_id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (admin: NewAdmin) =>
      call(api.POST("/v1/users", { body: { ...admin, role: "admin", institution_id } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["users"] }),
  });
}
