/** What the loans screens read and write. A loan is cached under ["loan", id]; every action
 * answers the loan (or changes it), so it is put there and the lists are marked stale. */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import type { components } from "@/api/schema";

export type Loan = components["schemas"]["Loan"];
export type LoanStatus = Loan["status"];
export type Quote = components["schemas"]["Quote"];
export type QuoteBody = components["schemas"]["QuoteBody"];
export type LoanBody = components["schemas"]["LoanBody"];
export type Repayment = components["schemas"]["Repayment"];
export type RepaymentBody = components["schemas"]["RepaymentBody"];
export type Channel = RepaymentBody["channel"];
export type RescheduleBody = components["schemas"]["RescheduleBody"];
export type Product = components["schemas"]["LoanProduct"];

export const STATUSES: LoanStatus[] = ["submitted", "approved", "rejected", "active", "closed", "written_off"];
export const CHANNELS: Channel[] = ["cash", "bank", "mobile_money"];

/** A fresh Idempotency-Key. getRandomValues works outside secure contexts too (a console
 * opened over plain HTTP on a branch network), unlike randomUUID. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function useLoans(status: LoanStatus | "") {
  return useInfiniteQuery({
    queryKey: ["loans", { status }],
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/v1/loans", {
          params: { query: { status: status || undefined, page_size: 25, page_token: pageParam } },
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

export function useLoan(id: string) {
  return useQuery({
    queryKey: ["loan", id],
    queryFn: () => call(api.GET("/v1/loans/{loan_id}", { params: { path: { loan_id: id } } })),
  });
}

export function useBorrowerSearch(q: string) {
  return useQuery({
    queryKey: ["borrowers", "search", q, "pick"],
    queryFn: async () => (await call(api.GET("/v1/borrowers", { params: { query: { q, page_size: 8 } } }))).items,
    enabled: q !== "",
    placeholderData: keepPreviousData,
    // The index follows new borrowers within seconds: the same text asked again is searched again.
    staleTime: 0,
  });
}

/** The quote of `body`, none while it is null; the last quote stays shown while the next comes. */
export function useQuote(body: QuoteBody | null) {
  return useQuery({
    queryKey: ["loan-quote", body],
    queryFn: () => call(api.POST("/v1/loan-quotes", { body: body as QuoteBody })),
    enabled: body !== null,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  });
}

export function useCreateLoan() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: LoanBody) => call(api.POST("/v1/loans", { body })),
    onSuccess: (loan) => {
      queries.setQueryData(["loan", loan.id], loan);
      void queries.invalidateQueries({ queryKey: ["loans"] });
    },
  });
}

export function useRepayments(loanId: string) {
  return useQuery({
    queryKey: ["loan", loanId, "repayments"],
    queryFn: async () =>
      (
        await call(
          api.GET("/v1/loans/{loan_id}/repayments", { params: { path: { loan_id: loanId }, query: { page_size: 1000 } } }),
        )
      ).items,
  });
}

export function usePayoff(loanId: string, date: string) {
  return useQuery({
    queryKey: ["loan", loanId, "payoff", date],
    queryFn: () =>
      call(api.GET("/v1/loans/{loan_id}/payoff-quote", { params: { path: { loan_id: loanId }, query: { date } } })),
    enabled: date !== "",
  });
}

export function useStatement(loanId: string) {
  return useQuery({
    queryKey: ["loan", loanId, "statement"],
    queryFn: async () =>
      (await call(api.GET("/v1/loans/{loan_id}/statement", { params: { path: { loan_id: loanId } } }))).items,
  });
}

/** A change to the loan: the answer (the loan, when it is one) replaces the cached loan, and
 * everything derived from it is fetched again. */
function useLoanChange<Vars, Answer>(loanId: string, change: (vars: Vars) => Promise<Answer>) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: (answer) => {
      if (answer && typeof answer === "object" && "schedule" in answer) queries.setQueryData(["loan", loanId], answer);
      void queries.invalidateQueries({ queryKey: ["loan", loanId] });
      void queries.invalidateQueries({ queryKey: ["loans"] });
    },
  });
}

const path = (loan_id: string) => ({ path: { loan_id } });

export function useApprove(id: string) {
  return useLoanChange(id, (body: { override_reason?: string }) =>
    call(api.POST("/v1/loans/{loan_id}/approve", { params: path(id), body })),
  );
}

export function useReject(id: string) {
  return useLoanChange(id, (reason: string) =>
    call(api.POST("/v1/loans/{loan_id}/reject", { params: path(id), body: { reason } })),
  );
}

export function useDisburse(id: string) {
  return useLoanChange(id, ({ key, ...body }: { key: string; disbursement_date: string; channel: Channel }) =>
    call(api.POST("/v1/loans/{loan_id}/disburse", { params: { ...path(id), header: { "Idempotency-Key": key } }, body })),
  );
}

export function useScore(id: string) {
  return useLoanChange(id, () => call(api.POST("/v1/loans/{loan_id}/score", { params: path(id) })));
}

export function useWriteOff(id: string) {
  return useLoanChange(id, (body: { reason: string; date: string }) =>
    call(api.POST("/v1/loans/{loan_id}/write-off", { params: path(id), body })),
  );
}

export function useReschedule(id: string) {
  return useLoanChange(id, (body: RescheduleBody) =>
    call(api.POST("/v1/loans/{loan_id}/reschedule", { params: path(id), body })),
  );
}

export function useRepay(id: string) {
  return useLoanChange(id, ({ key, body }: { key: string; body: RepaymentBody }) =>
    call(api.POST("/v1/loans/{loan_id}/repayments", { params: { ...path(id), header: { "Idempotency-Key": key } }, body })),
  );
}

export function useRefund(id: string) {
  return useLoanChange(id, ({ key, body }: { key: string; body: RepaymentBody }) =>
    call(api.POST("/v1/loans/{loan_id}/refunds", { params: { ...path(id), header: { "Idempotency-Key": key } }, body })),
  );
}

export function useReverse(loanId: string) {
  return useLoanChange(loanId, ({ paymentId, reason }: { paymentId: string; reason: string }) =>
    call(api.POST("/v1/repayments/{payment_id}/reverse", { params: { path: { payment_id: paymentId } }, body: { reason } })),
  );
}
