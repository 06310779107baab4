/** Scorecard versions: the list, one version, creating a draft, publishing and retiring, the
 * what-if comparison and the track record. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

type Scorecard = components["schemas"]["Scorecard"];
type ScorecardBody = components["schemas"]["ScorecardBody"];
export type ScoreBand = components["schemas"]["WhatIfBody"]["approval_band"];

export function useScorecards() {
  return useInfiniteQuery({
    queryKey: ["scorecards", "list"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/scorecards", { params: { query: { page_size: 50, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (page) => page.next_page_token || undefined,
  });
}

export function useScorecard(id: string) {
  return useQuery({
    queryKey: ["scorecards", "version", id],
    queryFn: () => call(api.GET("/v1/scorecards/{scorecard_id}", { params: { path: { scorecard_id: id } } })),
    enabled: !!id,
  });
}

export function useCreateScorecard() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: ScorecardBody) => call(api.POST("/v1/scorecards", { body })),
    onSuccess: (created) => {
      queries.setQueryData(["scorecards", "version", created.id], created);
      void queries.invalidateQueries({ queryKey: ["scorecards", "list"] });
    },
  });
}

/** Publishing one version retires the one published until now: every version may change. */
export function useLifecycle(id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (verb: "publish" | "retire"): Promise<Scorecard> => {
      const params = { params: { path: { scorecard_id: id } } };
      return call(
        verb === "publish"
          ? api.POST("/v1/scorecards/{scorecard_id}/publish", params)
          : api.POST("/v1/scorecards/{scorecard_id}/retire", params),
      );
    },
    onSuccess: (changed) => {
      queries.setQueryData(["scorecards", "version", changed.id], changed);
      void queries.invalidateQueries({ queryKey: ["scorecards"] });
    },
  });
}

export function useWhatIf(id: string) {
  return useMutation({
    mutationFn: (band: ScoreBand) =>
      call(
        api.POST("/v1/scorecards/{scorecard_id}/what-if", {
          params: { path: { scorecard_id: id } },
          body: { approval_band: band },
        }),
      ),
  });
}

export function useGovernance(id: string) {
  return useQuery({
    queryKey: ["scorecards", "governance", id],
    queryFn: () =>
      call(api.GET("/v1/scorecards/{scorecard_id}/governance", { params: { path: { scorecard_id: id } } })),
  });
}
