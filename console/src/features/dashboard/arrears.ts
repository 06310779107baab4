/** The arrears report summed per branch. Amounts are added as exact decimals: money is never a
 * float, even on its way to the screen. */
import type { components } from "@/api/schema";

type ArrearsLine = components["schemas"]["ArrearsLine"];

export type BranchArrears = { branchId: string; loans: number; overdue: string; outstanding: string };

/** The exact sum of decimal strings ("1250.50"), at the finest scale among them. */
export function addDecimals(values: string[]): string {
  const scale = Math.max(0, ...values.map((v) => (v.split(".")[1] ?? "").length));
  let total = 0n;
  for (const value of values) {
    const negative = value.startsWith("-");
    const [whole, fraction = ""] = value.replace(/^[-+]/, "").split(".");
    const units = BigInt((whole || "0") + fraction.padEnd(scale, "0"));
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const shown = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${shown}` : shown;
}

/** One row per branch with loans in arrears, the most overdue first. */
export function byBranch(lines: ArrearsLine[]): BranchArrears[] {
  const groups = new Map<string, ArrearsLine[]>();
  for (const line of lines) groups.set(line.branch_id, [...(groups.get(line.branch_id) ?? []), line]);
  return [...groups].map(([branchId, group]) => ({
    branchId,
    loans: group.length,
    overdue: addDecimals(group.map((l) => l.overdue_total)),
    outstanding: addDecimals(group.map((l) => l.outstanding_principal)),
  }))
    .sort((a, b) => Number(b.overdue) - Number(a.overdue));
}
