/** Checking an amount collected before it is queued: the server would refuse it later, when
 * the agent may be far from the borrower. */
import { t } from "@/i18n";

/** The currency's decimals (2 for KES, 0 for UGX). */
export function minorUnits(currency: string | null | undefined): number {
  if (!currency) return 2;
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** Why `text` is not an amount to record (more than zero, at most `decimals` decimals). */
export function amountError(text: string, decimals: number): string | undefined {
  const pattern = new RegExp(decimals ? `^[0-9]{1,12}(\\.[0-9]{1,${decimals}})?$` : "^[0-9]{1,12}$");
  if (pattern.test(text) && Number(text) > 0) return undefined;
  return t("collections.badAmount", { example: decimals ? `1250.${"5".padEnd(decimals, "0")}` : "1250" });
}
