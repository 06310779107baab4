/** A new institution (name and currency), and an admin for one. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { t } from "@/i18n";

import { useCreateAdmin, useCreateInstitution, type Institution } from "./api";

export function NewInstitutionForm({
  onCreated,
  onCancel,
}: {
  onCreated: (institution: Institution) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState("");
  const [currency, setCurrency] = useState("");
  const create = useCreateInstitution();

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ name, currency: currency.toUpperCase() }, { onSuccess: onCreated });
  }

  return (
    <form onSubmit={submit} aria-labelledby="new-institution-title" className="institution-form">
      <h2 id="new-institution-title">{t("institutions.newTitle")}</h2>
      <Field
        label={t("institutions.name")}
        required
        maxLength={120}
        autoComplete="off"
        value={name}
        onChange={(e) => setName(e.target.value)}
        error={fieldError(create.error, "name")}
      />
      <Field
        label={t("institutions.currency")}
        required
        minLength={3}
        maxLength={3}
        pattern="[A-Za-z]{3}"
        title={t("institutions.currencyFormat")}
        autoComplete="off"
        className="currency"
        value={currency}
        onChange={(e) => setCurrency(e.target.value)}
        hint={t("institutions.currencyHint")}
        error={fieldError(create.error, "currency")}
      />
      <div className="actions">
        <button type="submit" disabled={create.isPending}>
          {t("institutions.create")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {create.isPending && <Busy label={t("institutions.creating")} />}
      <ErrorAlert error={create.error} fields={["name", "currency"]} />
    </form>
  );
}

export function AdminForm({
  institution,
  onCreated,
  onCancel,
}: {
  institution: Institution;
  onCreated: (email: string) => void;
  onCancel: () => void;
}) {
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const create = useCreateAdmin(institution.id);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ full_name: fullName, email, password }, { onSuccess: (user) => onCreated(user.email) });
  }

  return (
    <form onSubmit={submit} aria-labelledby="admin-title" className="institution-form">
      <h2 id="admin-title">{t("institutions.adminTitle", { name: institution.name })}</h2>
      <p className="hint">{t("institutions.adminHint", { name: institution.name })}</p>
      <Field
        label={t("institutions.fullName")}
        required
        maxLength={120}
        autoComplete="off"
        value={fullName}
        onChange={(e) => setFullName(e.target.value)}
        error={fieldError(create.error, "full_name")}
      />
      <Field
        label={t("institutions.email")}
        type="email"
        required
        maxLength={254}
        autoComplete="off"
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        error={fieldError(create.error, "email")}
      />
      <Field
        label={t("institutions.password")}
        type="password"
        required
        maxLength={1024}
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        hint={t("institutions.passwordHint")}
        error={fieldError(create.error, "password")}
      />
      <div className="actions">
        <button type="submit" disabled={create.isPending}>
          {t("institutions.createAdmin")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {create.isPending && <Busy label={t("institutions.creatingAdmin")} />}
      <ErrorAlert error={create.error} fields={["full_name", "email", "password"]} />
    </form>
  );
}
