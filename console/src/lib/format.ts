/** Money in the institution's currency with its minor units; dates as ISO (YYYY-MM-DD). */

const formats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
  let format = formats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" });
    } catch {
      format = new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    formats.set(currency, format);
  }
  return format;
}

/** The amounts arrive as exact decimal strings; formatting goes through Number only for
 * display (amounts of a microfinance book are far below 2^53 minor units). */
export function money(amount: string | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  return moneyFormat(currency || "XXX").format(Number(amount));
}

export function isoDate(value: string | null | undefined): string {
  if (!value) return "—";
  return value.slice(0, 10);
}

export function today(): string {
  const now = new Date();
  const offset = now.getTimezoneOffset() * 60_000;
  return new Date(now.getTime() - offset).toISOString().slice(0, 10);
}

export function percent(ratio: string | null | undefined): string {
  if (!ratio) return "—";
  return `${(Number(ratio) * 100).toFixed(2)}%`;
}
