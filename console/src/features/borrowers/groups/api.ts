/** What the groups screens read and write: centres, groups and a group's group loans. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Group = components["schemas"]["Group"];
export type GroupBody = components["schemas"]["GroupBody"];
export type Center = components["schemas"]["Center"];
export type GroupLoan = components["schemas"]["GroupLoan"];

/** The groups in scope, or with `q` the best matches by name (typo-tolerant). */
export function useGroups(q: string) {
  return useQuery({
    queryKey: ["groups", q],
    queryFn: async () =>
      (await call(api.GET("/v1/groups", { params: { query: { q, page_size: 100 } } }))).items,
    placeholderData: (previous) => previous,
  });
}

export function useCenters() {
  return useQuery({
    queryKey: ["centers"],
    queryFn: async () => (await call(api.GET("/v1/centers", { params: { query: { page_size: 200 } } }))).items,
    staleTime: 60_000,
  });
}

export function useGroup(id: string) {
  return useQuery({
    queryKey: ["group", id],
    queryFn: () => call(api.GET("/v1/groups/{group_id}", { params: { path: { group_id: id } } })),
  });
}

export function useGroupLoans(groupId: string) {
  return useQuery({
    queryKey: ["group-loans", groupId],
    queryFn: async () =>
      (await call(api.GET("/v1/group-loans", { params: { query: { group_id: groupId } } }))).items,
  });
}

export function useFormGroup() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: GroupBody) => call(api.POST("/v1/groups", { body })),
    onSuccess: (group) => {
      queries.setQueryData(["group", group.id], group);
      void queries.invalidateQueries({ queryKey: ["groups"] });
    },
  });
}

export function useAddMember(groupId: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (borrowerId: string) =>
      call(
        api.POST("/v1/groups/{group_id}/members", {
          params: { path: { group_id: groupId } },
          body: { borrower_id: borrowerId, reason: "", expected_version: 0 },
        }),
      ),
    onSuccess: (group) => queries.setQueryData(["group", groupId], group),
  });
}

export function useLeave(groupId: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ borrowerId, reason }: { borrowerId: string; reason: string }) =>
      call(
        api.POST("/v1/groups/{group_id}/members/{borrower_id}/leave", {
          params: { path: { group_id: groupId, borrower_id: borrowerId } },
          body: { reason, expected_version: 0 },
        }),
      ),
    onSuccess: (group) => queries.setQueryData(["group", groupId], group),
  });
}
