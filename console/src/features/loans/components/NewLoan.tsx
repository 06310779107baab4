/**
 * A loan application: the borrower (searched), the product (its limits shown), principal and
 * term; "Get quote" shows the schedule and its price (APR, EIR, total cost), which then follows
 * every change of the figures; "Submit application" sends it and opens the loan.
 */
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { useBorrower, useLoanProducts } from "@/components/Lookups";
import { useDebounced } from "@/components/useDebounced";
import { t } from "@/i18n";
import { money, today } from "@/lib/format";

import { useCreateLoan, useQuote, type Product, type QuoteBody } from "../api";
import { BorrowerPicker, type Picked } from "./BorrowerPicker";
import { QuoteView } from "./QuoteView";

type Values = { product_id: string; principal: string; term: string; disbursement_date: string; purpose: string };
type Errors = Partial<Record<keyof Values | "borrower_id", string>>;

const AMOUNT = /^\d+(\.\d{1,2})?$/;
const SHOWN = ["borrower_id", "product_id", "principal", "term", "disbursement_date", "purpose"];

/** The browser's checks against the product's limits; the server checks them again. */
function check(v: Values, product: Product | undefined, borrower: Picked | null): Errors {
  const errors: Errors = {};
  if (!borrower) errors.borrower_id = t("loans.error.borrower");
  if (!product) errors.product_id = t("loans.error.required");
  const principal = v.principal.trim();
  if (!principal) errors.principal = t("loans.error.required");
  else if (!AMOUNT.test(principal) || Number(principal) <= 0) errors.principal = t("loans.error.amount");
  else if (product && (Number(principal) < Number(product.min_principal) || Number(principal) > Number(product.max_principal)))
    errors.principal = t("loans.error.principalRange", {
      min: money(product.min_principal, product.currency),
      max: money(product.max_principal, product.currency),
    });
  const term = v.term.trim();
  if (!term) errors.term = t("loans.error.required");
  else if (!/^\d+$/.test(term)) errors.term = t("loans.error.whole");
  else if (product && (Number(term) < product.min_term || Number(term) > product.max_term))
    errors.term = t("loans.error.termRange", { min: product.min_term, max: product.max_term });
  if (!v.disbursement_date) errors.disbursement_date = t("loans.error.required");
  return errors;
}

export function NewLoan() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const preset = useBorrower(params.get("borrower") ?? "").data;
  const products = useLoanProducts();
  const create = useCreateLoan();
  const [borrower, setBorrower] = useState<Picked | null>(null);
  const [values, setValues] = useState<Values>({
    product_id: "",
    principal: "",
    term: "",
    disbursement_date: today(),
    purpose: "",
  });
  const [errors, setErrors] = useState<Errors>({});
  const [quoting, setQuoting] = useState(false);
  const [asked, setAsked] = useState<QuoteBody | null>(null);

  // The borrower whose file the application was started from, once it has loaded.
  const [adopted, setAdopted] = useState(false);
  if (preset && !adopted) {
    setAdopted(true);
    setBorrower(preset);
  }
  // With one product there is nothing to choose.
  const only = products.data?.length === 1 ? products.data[0] : undefined;
  if (only && !values.product_id) setValues((v) => ({ ...v, product_id: only.id }));

  const product = products.data?.find((p) => p.id === values.product_id);
  const valid = Object.keys(check(values, product, borrower)).every((f) => f === "borrower_id");
  const current = useMemo<QuoteBody | null>(
    () =>
      valid
        ? {
            product_id: values.product_id,
            principal: values.principal.trim(),
            term: Number(values.term),
            disbursement_date: values.disbursement_date,
          }
        : null,
    [valid, values.product_id, values.principal, values.term, values.disbursement_date],
  );
  // Once asked, the quote follows the figures as they settle.
  const settled = useDebounced(current, 400);
  useEffect(() => {
    if (quoting && settled) setAsked(settled);
  }, [quoting, settled]);
  const quote = useQuote(asked);

  function set(field: keyof Values, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors(({ [field]: _gone, ...rest }) => rest);
    if (create.isError) create.reset();
  }

  function getQuote() {
    const found = check(values, product, borrower);
    delete found.borrower_id;
    setErrors(found);
    if (Object.keys(found).length || !current) return;
    setQuoting(true);
    setAsked(current);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (create.isPending) return;
    const found = check(values, product, borrower);
    setErrors(found);
    if (Object.keys(found).length || !borrower) return;
    create.mutate(
      {
        borrower_id: borrower.id,
        product_id: values.product_id,
        principal: values.principal.trim(),
        term: Number(values.term),
        disbursement_date: values.disbursement_date,
        purpose: values.purpose.trim() || null,
      },
      { onSuccess: (loan) => navigate(`/loans/${loan.id}`) },
    );
  }

  const error = (f: keyof Errors) => errors[f] ?? fieldError(create.error, f) ?? fieldError(quote.error, f);

  return (
    <>
      <h1>{t("loans.newTitle")}</h1>
      <form onSubmit={submit} noValidate className="application">
        <BorrowerPicker
          picked={borrower}
          onPick={(b) => {
            setBorrower(b);
            setErrors(({ borrower_id: _gone, ...rest }) => rest);
          }}
          error={error("borrower_id")}
        />
        <SelectField
          label={t("loans.field.product")}
          required
          value={values.product_id}
          onChange={(e) => set("product_id", e.target.value)}
          hint={product && <Limits product={product} />}
          error={error("product_id")}
        >
          <option value="">{products.isPending ? t("common.loading") : t("loans.chooseProduct")}</option>
          {products.data?.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </SelectField>
        <Field
          label={t("loans.field.principal")}
          inputMode="decimal"
          autoComplete="off"
          required
          value={values.principal}
          onChange={(e) => set("principal", e.target.value)}
          hint={product && t("loans.inCurrency", { currency: product.currency })}
          error={error("principal")}
        />
        <Field
          label={t("loans.field.term")}
          type="number"
          inputMode="numeric"
          min={product?.min_term}
          max={product?.max_term}
          required
          value={values.term}
          onChange={(e) => set("term", e.target.value)}
          hint={product && t(`loans.installments.${product.repayment_frequency}`)}
          error={error("term")}
        />
        <Field
          label={t("loans.field.expectedDisbursement")}
          type="date"
          required
          value={values.disbursement_date}
          onChange={(e) => set("disbursement_date", e.target.value)}
          error={error("disbursement_date")}
        />
        <Field
          label={t("loans.field.purpose")}
          autoComplete="off"
          value={values.purpose}
          onChange={(e) => set("purpose", e.target.value)}
          error={error("purpose")}
        />
        <div className="actions">
          <button type="button" className="secondary" onClick={getQuote}>
            {t("loans.getQuote")}
          </button>
          <button type="submit" disabled={create.isPending}>
            {create.isPending ? t("loans.submitting") : t("loans.submit")}
          </button>
        </div>
        {create.isPending && <Busy label={t("loans.submitting")} />}
        <ErrorAlert error={create.error} fields={SHOWN} />
      </form>
      {quoting && quote.isPending && <Busy label={t("loans.quoting")} />}
      <ErrorAlert error={quote.error} fields={SHOWN} />
      {quote.data && product && <QuoteView quote={quote.data} currency={product.currency} updating={quote.isFetching} />}
    </>
  );
}

function Limits({ product: p }: { product: Product }) {
  return (
    <>
      {t("loans.limits", {
        min: money(p.min_principal, p.currency),
        max: money(p.max_principal, p.currency),
        minTerm: p.min_term,
        maxTerm: p.max_term,
        installments: t(`loans.installments.${p.repayment_frequency}`),
        rate: p.annual_interest_rate,
        method: t(`loans.method.${p.interest_method}`),
      })}
    </>
  );
}
