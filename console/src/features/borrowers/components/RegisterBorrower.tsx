/**
 * Registering a borrower, in two steps: identity, then livelihood and consent. On a phone one
 * step shows at a time (Next / Back); on a wider screen both sit side by side, so the whole
 * form is in view. The browser checks what it can first; the server's refusals (a national ID
 * already registered, a phone it cannot read) are shown beside their fields, on their step.
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";

import { ApiProblem, isOffline } from "@/api/problem";
import { Busy, ErrorAlert } from "@/components/Feedback";
import { CheckboxField, Field, SelectField } from "@/components/Field";
import { useCurrency } from "@/components/Lookups";
import { t } from "@/i18n";
import { today } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useBranches, useRegisterBorrower, type BorrowerBody, type PreferencesBody } from "../api";
import { LANGUAGES } from "./NotificationPreferences";
import { adultBornBy, STEPS, stepOf, validate, type Errors, type Values } from "./validate";

function errorText(error: unknown): string {
  if (isOffline(error)) return t("common.offline");
  if (error instanceof ApiProblem) return Object.values(error.fields).join("; ") || error.message;
  return String((error as Error)?.message ?? error);
}

const GENDERS = ["female", "male", "other", "undisclosed"] as const;
const FIELDS = STEPS.flatMap((s) => s.fields);

function body(v: Values): BorrowerBody {
  const optional = (s: string) => s.trim() || null;
  return {
    first_name: v.first_name.trim(),
    last_name: v.last_name.trim(),
    national_id: v.national_id.trim(),
    phone: v.phone.replace(/\s/g, ""),
    date_of_birth: v.date_of_birth,
    branch_id: v.branch_id,
    monthly_income: optional(v.monthly_income),
    business_type: optional(v.business_type),
    gender: optional(v.gender),
    household_size: v.household_size.trim() ? Number(v.household_size) : null,
  };
}

function preferences(v: Values): PreferencesBody {
  return {
    sms: v.sms,
    email: false,
    email_address: null,
    language: v.language === "en" || v.language === "sw" ? v.language : null,
    opted_out: false,
  };
}

export function RegisterBorrower() {
  const me = useMe();
  const navigate = useNavigate();
  const branches = useBranches();
  const currency = useCurrency();
  const register = useRegisterBorrower();
  const [values, setValues] = useState<Values>({
    first_name: "",
    last_name: "",
    national_id: "",
    phone: "",
    date_of_birth: "",
    branch_id: me.branch_id ?? "",
    monthly_income: "",
    business_type: "",
    gender: "",
    household_size: "",
    consent: false,
    sms: true,
    language: "",
  });
  const [errors, setErrors] = useState<Errors>({});
  const [step, setStep] = useState(0);
  // Bumped whenever errors are found, so the first one takes the focus (and scrolls into view).
  const [attempt, setAttempt] = useState(0);
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    if (attempt) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [attempt]);

  // An admin works in no branch: with one branch only, there is nothing to choose.
  const only = branches.data?.length === 1 ? branches.data[0] : undefined;
  if (only && !values.branch_id) setValues((v) => ({ ...v, branch_id: only.id }));

  function set<K extends keyof Values>(field: K, value: Values[K]) {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors(({ [field]: _gone, ...rest }) => rest as Errors);
  }

  function showErrors(found: Errors) {
    setErrors(found);
    const at = stepOf(Object.keys(found));
    if (at >= 0) setStep(at);
    setAttempt((n) => n + 1);
  }

  /** The browser's findings, as text (they are catalogue keys). */
  function checked(fields: (keyof Values)[]): Errors {
    const found = validate(values, today());
    return Object.fromEntries(fields.filter((f) => found[f]).map((f) => [f, t(found[f] ?? "")]));
  }

  function next() {
    const found = checked(STEPS[step].fields);
    if (Object.keys(found).length) showErrors(found);
    else setStep(step + 1);
  }

  function save(event: FormEvent) {
    event.preventDefault();
    if (register.isPending) return;
    const found = checked(FIELDS);
    if (Object.keys(found).length) return showErrors(found);
    const choices = can(me, "notification_preferences:update") ? preferences(values) : undefined;
    register.mutate({ body: body(values), preferences: choices }, {
      // Preferences refused after the borrower was registered are said on their file.
      onSuccess: ({ borrower, preferencesError }) =>
        navigate(`/borrowers/${borrower.id}`, {
          state: preferencesError ? { preferencesError: errorText(preferencesError) } : undefined,
        }),
      onError: (problem) => {
        if (problem instanceof ApiProblem && Object.keys(problem.fields).length) showErrors(problem.fields as Errors);
      },
    });
  }

  const input = (f: Exclude<keyof Values, "consent" | "sms">) => ({
    value: values[f],
    onChange: (e: { target: { value: string } }) => set(f, e.target.value),
    error: errors[f],
  });

  return (
    <>
      <h1>{t("borrowers.registerTitle")}</h1>
      <form ref={form} onSubmit={save} noValidate className="steps" data-step={step}>
        <ol className="step-list">
          {STEPS.map((s, i) => (
            <li key={s.title} aria-current={i === step ? "step" : undefined}>
              {t(s.title)}
            </li>
          ))}
        </ol>
        <fieldset className={step === 0 ? "current" : undefined}>
          <legend>{t("borrowers.stepOf", { n: 1, total: STEPS.length, name: t(STEPS[0].title) })}</legend>
          <Field label={t("borrowers.field.firstName")} autoComplete="off" required {...input("first_name")} />
          <Field label={t("borrowers.field.lastName")} autoComplete="off" required {...input("last_name")} />
          <Field label={t("borrowers.field.nationalId")} autoComplete="off" required {...input("national_id")} />
          <Field
            label={t("borrowers.field.phone")}
            type="tel"
            autoComplete="off"
            required
            hint={t("borrowers.phoneHint")}
            {...input("phone")}
          />
          <Field
            label={t("borrowers.field.dateOfBirth")}
            type="date"
            required
            max={adultBornBy(today())}
            {...input("date_of_birth")}
          />
          <SelectField label={t("borrowers.field.branch")} required {...input("branch_id")}>
            <option value="">{branches.isPending ? t("common.loading") : t("borrowers.chooseBranch")}</option>
            {branches.data?.map((b) => (
              <option key={b.id} value={b.id}>
                {b.name}
              </option>
            ))}
          </SelectField>
          <div className="actions step-nav">
            <button type="button" onClick={next}>
              {t("common.next")}
            </button>
          </div>
        </fieldset>
        <fieldset className={step === 1 ? "current" : undefined}>
          <legend>{t("borrowers.stepOf", { n: 2, total: STEPS.length, name: t(STEPS[1].title) })}</legend>
          <Field
            label={t("borrowers.field.monthlyIncome")}
            inputMode="decimal"
            autoComplete="off"
            hint={currency && t("borrowers.inCurrency", { currency })}
            {...input("monthly_income")}
          />
          <Field label={t("borrowers.field.businessType")} autoComplete="off" maxLength={80} {...input("business_type")} />
          <SelectField label={t("borrowers.field.gender")} {...input("gender")}>
            <option value="">{t("borrowers.gender.none")}</option>
            {GENDERS.map((g) => (
              <option key={g} value={g}>
                {t(`borrowers.gender.${g}`)}
              </option>
            ))}
          </SelectField>
          <Field
            label={t("borrowers.field.householdSize")}
            type="number"
            inputMode="numeric"
            min={1}
            max={50}
            {...input("household_size")}
          />
          <p className="consent-text">
            {t("borrowers.consentText")}
          </p>
          <CheckboxField
            label={t("borrowers.field.consent")}
            required
            checked={values.consent}
            onChange={(e) => set("consent", e.target.checked)}
            error={errors.consent}
          />
          {can(me, "notification_preferences:update") && (
            <fieldset className="channels">
              <legend>{t("notifications.preferences")}</legend>
              <CheckboxField
                label={t("notifications.sms")}
                checked={values.sms}
                onChange={(e) => set("sms", e.target.checked)}
              />
              <SelectField label={t("notifications.language")} {...input("language")}>
                {LANGUAGES.map((l) => (
                  <option key={l} value={l}>
                    {t(`notifications.language.${l || "default"}`)}
                  </option>
                ))}
              </SelectField>
            </fieldset>
          )}
          <div className="actions step-nav">
            <button type="button" className="secondary" onClick={() => setStep(0)}>
              {t("common.back")}
            </button>
          </div>
        </fieldset>
        <div className="actions submit">
          <button type="submit" disabled={register.isPending}>
            {register.isPending ? t("common.saving") : t("common.save")}
          </button>
          <button type="button" className="secondary" onClick={() => navigate("/borrowers")}>
            {t("common.cancel")}
          </button>
        </div>
        {register.isPending && <Busy label={t("common.saving")} />}
        <ErrorAlert error={register.error} fields={FIELDS} />
      </form>
    </>
  );
}
