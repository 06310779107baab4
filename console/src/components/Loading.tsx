/** The three states of anything fetched: waiting (progress), refused (alert), or shown. */
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { Busy, ErrorAlert } from "./Feedback";

export function Loading<T>({ query, children }: { query: UseQueryResult<T>; children: (data: T) => ReactNode }) {
  if (query.isPending) return <Busy />;
  if (query.isError) return <ErrorAlert error={query.error} />;
  return <>{children(query.data)}</>;
}
