/** The day's collection sheet (saved on the device for when there is no connection) and the
 * repayment each collection becomes. */
import { queryOptions, useQuery } from "@tanstack/react-query";

import { api, call } from "@/api/client";
import { isOffline } from "@/api/problem";

import { loadSheet, saveSheet, type SavedSheet } from "./db";
import { outcomeOf, type Collection, type Outcome } from "./queue";

export type ShownSheet = SavedSheet & { fromDevice: boolean };

export const SHEETS = ["collection-sheet"] as const;

/** The sheet of `date` (nothing is fetched while it is empty). */
export function useCollectionSheet(userId: string, date: string) {
  return useQuery({ ...sheetQuery(userId, date), enabled: date !== "" });
}

/** How the sheet of a date is fetched, also to fetch today's ahead of its screen. */
export function sheetQuery(userId: string, date: string) {
  return queryOptions({
    queryKey: [...SHEETS, userId, date],
    // Offline the query still runs, and answers with the copy saved on this device.
    networkMode: "always",
    queryFn: async (): Promise<ShownSheet> => {
      try {
        const sheet = await call(api.GET("/v1/collection-sheets", { params: { query: { date } } }));
        const saved = { userId, date, sheet, savedAt: new Date().toISOString() };
        // Shown without waiting for the disk; a device that cannot store (private browsing,
        // a full disk) still shows it.
        saveSheet(saved).catch(() => undefined);
        return { ...saved, fromDevice: false };
      } catch (error) {
        const saved = isOffline(error) ? await loadSheet(userId, date) : undefined;
        if (!saved) throw error;
        return { ...saved, fromDevice: true };
      }
    },
  });
}

/** Records a collection as a cash repayment, with its own Idempotency-Key. */
export async function sendCollection(collection: Collection): Promise<Outcome> {
  try {
    await call(
      api.POST("/v1/loans/{loan_id}/repayments", {
        params: { path: { loan_id: collection.loanId }, header: { "Idempotency-Key": collection.key } },
        body: {
          amount: collection.amount,
          paid_on: collection.paidOn,
          channel: "cash",
          reference: "collection-sheet",
        },
      }),
    );
    return { kind: "sent" };
  } catch (error) {
    return outcomeOf(error);
  }
}
