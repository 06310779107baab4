import { money } from "@/lib/format";

/** An amount, right-aligned by its cell's `num` class, in the currency's minor units. */
export function Money({ amount, currency }: { amount: string | null | undefined; currency: string | null | undefined }) {
  return <span className="money">{money(amount, currency)}</span>;
}

/** A table cell holding an amount, right-aligned in tabular figures. */
export function MoneyCell({ amount, currency }: { amount: string | null | undefined; currency: string | null | undefined }) {
  return (
    <td className="num">
      <Money amount={amount} currency={currency} />
    </td>
  );
}
