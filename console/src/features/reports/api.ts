/** The reports as of a date, the branch names to label them with, and the arrears as files. */
import { useMutation, useQuery } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

import { fileName, save } from "./download";

type ArrearsReport = components["schemas"]["ArrearsReport"];
export type FileFormat = "csv" | "xlsx";

export function usePortfolio(asOf: string, enabled: boolean) {
  return useQuery({
    queryKey: ["reports", "portfolio", asOf],
    queryFn: () => call(api.GET("/v1/reports/portfolio", { params: { query: { as_of: asOf } } })),
    enabled,
  });
}

export function useArrears(asOf: string, enabled: boolean) {
  return useQuery({
    queryKey: ["reports", "arrears", asOf],
    // The operation also answers CSV and XLSX files; asked for JSON it is the report.
    queryFn: async () =>
      (await call(
        api.GET("/v1/reports/arrears", { params: { query: { as_of: asOf, format: "json" } } }),
      )) as ArrearsReport,
    enabled,
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

/** Downloads the arrears as a file (through the client, so with the bearer token and its
 * renewal) and saves it; resolves to the file's name. */
export function useArrearsDownload() {
  return useMutation({
    mutationFn: async ({ asOf, format }: { asOf: string; format: FileFormat }) => {
      const reply = api.GET("/v1/reports/arrears", {
        params: { query: { as_of: asOf, format } },
        parseAs: "blob",
      });
      const blob = await call(reply);
      const name = fileName((await reply).response.headers.get("Content-Disposition"), `arrears-${asOf}.${format}`);
      save(blob, name);
      return name;
    },
  });
}
