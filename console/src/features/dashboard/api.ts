/** What the dashboard reads: today's portfolio and arrears over the caller's scope, and the
 * branch names to label the arrears with. */
import { useQuery } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

type ArrearsReport = components["schemas"]["ArrearsReport"];
export type Trends = components["schemas"]["TrendsReport"];
export type Interval = "day" | "month";

export function usePortfolio() {
  return useQuery({
    queryKey: ["reports", "portfolio", "today"],
    queryFn: () => call(api.GET("/v1/reports/portfolio")),
  });
}

export function useArrears() {
  return useQuery({
    queryKey: ["reports", "arrears", "today"],
    // The operation also answers CSV and XLSX files; asked for JSON it is the report.
    queryFn: async () =>
      (await call(api.GET("/v1/reports/arrears", { params: { query: { format: "json" } } }))) as ArrearsReport,
  });
}

/** The last 31 days by day, or the last 12 months by month (the server's default ranges). */
export function useTrends(interval: Interval) {
  return useQuery({
    queryKey: ["reports", "trends", interval],
    queryFn: async () =>
      (await call(api.GET("/v1/reports/trends", { params: { query: { interval, format: "json" } } }))) as Trends,
  });
}

/** Branch id -> name; an institution has far fewer branches than a page holds. */
export function useBranchNames() {
  return useQuery({
    queryKey: ["branches", "names"],
    queryFn: async () => {
      const page = await call(api.GET("/v1/branches", { params: { query: { page_size: 1000 } } }));
      return new Map(page.items.map((b) => [b.id, b.name]));
    },
  });
}
