/** The staff accounts and the branches they work in, as the users screen reads and changes them. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type User = components["schemas"]["User"];
export type Role = User["role"];
export type NewUser = components["schemas"]["CreateUserBody"];

const PAGE = 50;

export function useUsers() {
  return useInfiniteQuery({
    queryKey: ["users", "pages"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/users", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

/** Every branch (an institution has tens, not thousands), to name and to choose from. */
export function useBranches(enabled: boolean) {
  return useQuery({
    queryKey: ["branches", "all"],
    queryFn: () => call(api.GET("/v1/branches", { params: { query: { page_size: 1000 } } })),
    select: (page) => page.items,
    enabled,
  });
}

export function useCreateUser() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: NewUser) => call(api.POST("/v1/users", { body })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["users"] }),
  });
}

export type UserChange =
  | { verb: "disable"; user: User }
  | { verb: "enable"; user: User }
  | { verb: "reset"; user: User; temporaryPassword: string };

export function useChangeUser() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (change: UserChange) => {
      const path = { user_id: change.user.id };
      if (change.verb === "disable") return call(api.POST("/v1/users/{user_id}/disable", { params: { path } }));
      if (change.verb === "enable") return call(api.POST("/v1/users/{user_id}/enable", { params: { path } }));
      return call(
        api.POST("/v1/users/{user_id}/reset-password", {
          params: { path },
          body: { temporary_password: change.temporaryPassword },
        }),
      );
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ["users"] }),
  });
}

export function useChangeOwnPassword() {
  return useMutation({
    mutationFn: (body: components["schemas"]["ChangePasswordBody"]) => call(api.POST("/v1/me/password", { body })),
  });
}
