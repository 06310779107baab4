/** The loan settings as the form edits them (text in inputs), the browser's checks of their
 * format, and the body sent. Errors are keyed by the server's field names
 * (`approval_limits.branch_manager`, `delinquency_buckets[2].max_days`) so that the browser's
 * and the server's show in the same place. Whether buckets are contiguous is the server's to
 * say. */
import { t } from "@/i18n";

import type { LoanSettings, LoanSettingsBody } from "./api";

export type BucketDraft = { name: string; min: string; max: string };
export type LoanDraft = { limits: Record<string, string>; buckets: BucketDraft[] };

const AMOUNT = /^\d{1,15}(\.\d{1,10})?$/;
const DAYS = /^\d{1,9}$/;

export const bucketField = (row: number, part: "name" | "min_days" | "max_days") =>
  `delinquency_buckets[${row}].${part}`;

export function draftOf(settings: LoanSettings): LoanDraft {
  return {
    limits: Object.fromEntries(Object.entries(settings.approval_limits).map(([role, amount]) => [role, amount ?? ""])),
    buckets: settings.delinquency_buckets.map((b) => ({
      name: b.name,
      min: String(b.min_days),
      max: b.max_days === null ? "" : String(b.max_days),
    })),
  };
}

export function check(draft: LoanDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [role, amount] of Object.entries(draft.limits)) {
    if (amount.trim() && !AMOUNT.test(amount.trim())) errors[`approval_limits.${role}`] = t("settings.amount");
  }
  draft.buckets.forEach((b, row) => {
    if (!b.name.trim()) errors[bucketField(row, "name")] = t("settings.required");
    if (!DAYS.test(b.min.trim())) errors[bucketField(row, "min_days")] = t("settings.wholeDays");
    if (b.max.trim() && !DAYS.test(b.max.trim())) errors[bucketField(row, "max_days")] = t("settings.wholeDays");
  });
  return errors;
}

export function bodyOf(draft: LoanDraft): LoanSettingsBody {
  return {
    approval_limits: Object.fromEntries(
      Object.entries(draft.limits).map(([role, amount]) => [role, amount.trim() || null]),
    ),
    delinquency_buckets: draft.buckets.map((b) => ({
      name: b.name.trim(),
      min_days: Number(b.min.trim()),
      max_days: b.max.trim() ? Number(b.max.trim()) : null,
    })),
  };
}

/** A new last bucket, starting the day after the one before ends. */
export function withBucket(buckets: BucketDraft[]): BucketDraft[] {
  const last = buckets[buckets.length - 1];
  const min = last && DAYS.test(last.max.trim()) ? String(Number(last.max) + 1) : "";
  return [...buckets, { name: "", min, max: "" }];
}
