/** The institution, its security policy and its lending settings, read and replaced. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type LoanSettings = components["schemas"]["LoanSettings"];
export type LoanSettingsBody = components["schemas"]["LoanSettingsBody"];
export type MfaRole = components["schemas"]["SecurityPolicyBody"]["mfa_required_roles"][number];

export function useInstitution(institution_id: string) {
  return useQuery({
    queryKey: ["institution", institution_id],
    queryFn: () => call(api.GET("/v1/institutions/{institution_id}", { params: { path: { institution_id } } })),
  });
}

export function useSecurityPolicy(institution_id: string, enabled: boolean) {
  return useQuery({
    queryKey: ["institution", institution_id, "security-policy"],
    queryFn: () =>
      call(api.GET("/v1/institutions/{institution_id}/security-policy", { params: { path: { institution_id } } })),
    enabled,
  });
}

export function useSaveSecurityPolicy(institution_id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (mfa_required_roles: MfaRole[]) =>
      call(
        api.PUT("/v1/institutions/{institution_id}/security-policy", {
          params: { path: { institution_id } },
          body: { mfa_required_roles },
        }),
      ),
    onSuccess: (policy) => queries.setQueryData(["institution", institution_id, "security-policy"], policy),
  });
}

export function useLoanSettings(institution_id: string) {
  return useQuery({
    queryKey: ["institution", institution_id, "loan-settings"],
    queryFn: () =>
      call(api.GET("/v1/institutions/{institution_id}/loan-settings", { params: { path: { institution_id } } })),
  });
}

export function useSaveLoanSettings(institution_id: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: LoanSettingsBody) =>
      call(
        api.PUT("/v1/institutions/{institution_id}/loan-settings", { params: { path: { institution_id } }, body }),
      ),
    onSuccess: (settings) => queries.setQueryData(["institution", institution_id, "loan-settings"], settings),
  });
}
