/** What the borrowers screens read and write. The borrower itself is cached under
 * ["borrower", id], the key the shared name lookups use. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Borrower = components["schemas"]["Borrower"];
export type BorrowerDocument = components["schemas"]["Document"];
export type DocumentKind = BorrowerDocument["kind"];
export type KycStatusBody = components["schemas"]["KycStatusBody"];
export type BorrowerBody = components["schemas"]["BorrowerBody"];

/** The version of the consent text shown to the borrower (borrowers.consentText): a new
 * wording needs a new version, so each recorded consent says which text was agreed to. */
export const CONSENT_TEXT_VERSION = "console-data-processing-1";
export const CONSENT_KIND = "data_processing";

const PAGE = 25;

export function useBorrowerSearch(q: string) {
  return useQuery({
    queryKey: ["borrowers", "search", q],
    queryFn: async () =>
      (await call(api.GET("/v1/borrowers", { params: { query: { q, page_size: PAGE } } }))).items,
    enabled: q !== "",
    // Results of the previous text stay on screen while the next ones come.
    placeholderData: (previous) => previous,
    // The index follows new borrowers within seconds: the same text asked again is searched again.
    staleTime: 0,
  });
}

export function useBorrowerList() {
  return useInfiniteQuery({
    queryKey: ["borrowers", "list"],
    queryFn: async ({ pageParam }) =>
      call(api.GET("/v1/borrowers", { params: { query: { page_size: PAGE, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

/** Branch id -> name; an institution has far fewer branches than a page holds. */
export function useBranches() {
  return useQuery({
    queryKey: ["branches", "all"],
    queryFn: async () => (await call(api.GET("/v1/branches", { params: { query: { page_size: 1000 } } }))).items,
    staleTime: 5 * 60_000,
  });
}

export function useBorrowerVersions(id: string) {
  return useQuery({
    queryKey: ["borrower", id, "versions"],
    queryFn: async () =>
      (await call(api.GET("/v1/borrowers/{borrower_id}/versions", { params: { path: { borrower_id: id } } }))).items,
  });
}

export function useBorrowerLoans(id: string) {
  return useQuery({
    queryKey: ["loans", { borrower_id: id }],
    queryFn: async () =>
      (await call(api.GET("/v1/loans", { params: { query: { borrower_id: id, page_size: 100 } } }))).items,
  });
}

function recordConsent(id: string): Promise<Borrower> {
  return call(
    api.POST("/v1/borrowers/{borrower_id}/consents", {
      params: { path: { borrower_id: id } },
      body: { kind: CONSENT_KIND, text_version: CONSENT_TEXT_VERSION },
    }),
  );
}

export function useRecordConsent(id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: () => recordConsent(id),
    onSuccess: (borrower) => queries.setQueryData(["borrower", id], borrower),
  });
}

/** What registration produced: the borrower, and the refusal of their message preferences
 * if those could not be recorded (the borrower stays registered; their file offers them). */
export type Registered = { borrower: Borrower; preferencesError: unknown };

/** Registers the borrower, then records the consent given on the form and the channels and
 * language they chose for messages. A consent that fails to record leaves a registered
 * borrower whose file offers to record it again; so do preferences, and the file says so. */
export function useRegisterBorrower() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: async ({ body, preferences }: { body: BorrowerBody; preferences?: PreferencesBody }): Promise<Registered> => {
      const created = await call(api.POST("/v1/borrowers", { body }));
      let borrower: Borrower = created;
      try {
        borrower = await recordConsent(created.id);
      } catch {
        borrower = created;
      }
      let preferencesError: unknown = null;
      if (preferences) {
        try {
          queries.setQueryData(
            ["borrower", created.id, "notification-preferences"],
            await putPreferences(created.id, preferences),
          );
        } catch (error) {
          preferencesError = error;
        }
      }
      return { borrower, preferencesError };
    },
    onSuccess: ({ borrower }) => {
      queries.setQueryData(["borrower", borrower.id], borrower);
      void queries.invalidateQueries({ queryKey: ["borrowers"] });
    },
  });
}

/** The borrower's documents; asked again every two seconds while one is still being read. */
export function useDocuments(id: string) {
  return useQuery({
    queryKey: ["borrower", id, "documents"],
    queryFn: async () =>
      (await call(api.GET("/v1/borrowers/{borrower_id}/documents", { params: { path: { borrower_id: id } } })))
        .items,
    refetchInterval: (query) =>
      query.state.data?.some((d) => d.ocr.status === "pending") ? 2000 : false,
  });
}

export function useUploadDocument(id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ kind, file }: { kind: DocumentKind; file: File }) => {
      const form = new FormData();
      form.append("kind", kind);
      form.append("file", file);
      return call(
        api.POST("/v1/borrowers/{borrower_id}/documents", {
          params: { path: { borrower_id: id } },
          // The browser writes the multipart body and its boundary from the FormData.
          body: form as unknown as { file: string; kind: DocumentKind },
        }),
      );
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ["borrower", id, "documents"] }),
  });
}

export function useSetKycStatus(id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: KycStatusBody) =>
      call(api.PUT("/v1/borrowers/{borrower_id}/kyc-status", { params: { path: { borrower_id: id } }, body })),
    onSuccess: (borrower) => {
      queries.setQueryData(["borrower", id], borrower);
      void queries.invalidateQueries({ queryKey: ["borrower", id, "versions"] });
    },
  });
}

/** Opens a stored document in a new tab (fetched with the session's token, not by URL). */
export async function openDocument(documentId: string): Promise<void> {
  const blob = await call(
    api.GET("/v1/documents/{document_id}/content", {
      params: { path: { document_id: documentId } },
      parseAs: "blob",
    }),
  );
  window.open(URL.createObjectURL(blob as Blob), "_blank", "noopener");
}

export type Preferences = components["schemas"]["Preferences"];
export type PreferencesBody = components["schemas"]["PreferencesBody"];

export function usePreferences(id: string) {
  return useQuery({
    queryKey: ["borrower", id, "notification-preferences"],
    queryFn: () =>
      call(
        api.GET("/v1/borrowers/{borrower_id}/notification-preferences", { params: { path: { borrower_id: id } } }),
      ),
  });
}

function putPreferences(id: string, body: PreferencesBody): Promise<Preferences> {
  return call(
    api.PUT("/v1/borrowers/{borrower_id}/notification-preferences", { params: { path: { borrower_id: id } }, body }),
  );
}

export function useSavePreferences(id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: PreferencesBody) => putPreferences(id, body),
    onSuccess: (saved) => queries.setQueryData(["borrower", id, "notification-preferences"], saved),
  });
}
