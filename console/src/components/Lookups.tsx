/** What many screens look up: people and products by name where the API answers with their
 * ids, and the institution's currency. Each is fetched once and cached under a key the screens
 * share, so a list of loans shows who, not `brw_…`. When the caller may not read it (an agent
 * reading staff accounts) the id itself is shown. */
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, call } from "@/api/client";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

export function useBorrower(id: string) {
  return useQuery({
    queryKey: ["borrower", id],
    queryFn: () => call(api.GET("/v1/borrowers/{borrower_id}", { params: { path: { borrower_id: id } } })),
    enabled: !!id,
  });
}

export function useLoanProducts() {
  return useQuery({
    queryKey: ["loan-products"],
    queryFn: async () => (await call(api.GET("/v1/loan-products", { params: { query: { page_size: 1000 } } }))).items,
    staleTime: 5 * 60_000,
  });
}

/** The institution's currency (ISO 4217), for amounts the API sends without one. */
export function useCurrency(): string | undefined {
  const me = useMe();
  const id = me.institution_id ?? "";
  return useQuery({
    queryKey: ["institution", id],
    queryFn: () => call(api.GET("/v1/institutions/{institution_id}", { params: { path: { institution_id: id } } })),
    enabled: !!id,
    staleTime: 5 * 60_000,
  }).data?.currency;
}

export function BorrowerName({ id, name: known, link = true }: { id: string; name?: string; link?: boolean }) {
  // A name the caller already holds (a report's line) spares a request per row.
  const { data: borrower, isPending } = useBorrower(known ? "" : id);
  const name = known || (borrower ? `${borrower.first_name} ${borrower.last_name}` : isPending ? "…" : id);
  return link ? <Link to={`/borrowers/${id}`}>{name}</Link> : <>{name}</>;
}

export function StaffName({ id }: { id: string }) {
  const me = useMe();
  const user = useQuery({
    queryKey: ["user", id],
    queryFn: () => call(api.GET("/v1/users/{user_id}", { params: { path: { user_id: id } } })),
    enabled: !!id && id !== me.id && can(me, "users:read"),
    staleTime: 5 * 60_000,
  }).data;
  if (!id) return <>—</>;
  if (id === me.id) return <>{t("lookups.you", { name: me.full_name })}</>;
  return <>{user?.full_name ?? id}</>;
}

export function ProductName({ id }: { id: string }) {
  const product = useLoanProducts().data?.find((p) => p.id === id);
  return <>{product?.name ?? id}</>;
}
