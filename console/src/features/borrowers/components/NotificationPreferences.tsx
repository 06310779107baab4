/** A borrower's choices about messages: the channels they consented to (SMS, email with its
 * address), their language, and opting out of every message. The server's refusals are said
 * beside the field they name. Read-only for those who may not change them. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { CheckboxField, Field, SelectField } from "@/components/Field";
import { StaffName } from "@/components/Lookups";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { usePreferences, useSavePreferences, type Preferences, type PreferencesBody } from "../api";

/** The languages a borrower may choose; "" is the institution's default. */
export const LANGUAGES = ["en", "sw", ""] as const;
const FIELDS = ["sms", "email", "email_address", "language", "opted_out"];

export function NotificationPreferences({ borrowerId }: { borrowerId: string }) {
  const preferences = usePreferences(borrowerId);
  return (
    <Loading query={preferences}>
      {(saved) => <PreferencesForm borrowerId={borrowerId} saved={saved} />}
    </Loading>
  );
}

function PreferencesForm({ borrowerId, saved }: { borrowerId: string; saved: Preferences }) {
  const me = useMe();
  const save = useSavePreferences(borrowerId);
  const editable = can(me, "notification_preferences:update");
  const [sms, setSms] = useState(saved.sms);
  const [email, setEmail] = useState(saved.email);
  const [address, setAddress] = useState(saved.email_address ?? "");
  const [language, setLanguage] = useState<string>(saved.language ?? "");
  const [optedOut, setOptedOut] = useState(saved.opted_out);
  const [missing, setMissing] = useState(false);
  const [done, setDone] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    if (save.isPending) return;
    setDone("");
    if (email && !address.trim()) return setMissing(true);
    const body: PreferencesBody = {
      sms,
      email,
      email_address: address.trim() || null,
      language: language === "en" || language === "sw" ? language : null,
      opted_out: optedOut,
    };
    save.mutate(body, { onSuccess: () => setDone(t("notifications.saved")) });
  }

  const changed = () => setDone("");
  return (
    <form className="preferences" onSubmit={submit} noValidate>
      <p className="hint">
        {saved.update_time ? (
          <>
            {t("notifications.updated", { date: isoDate(saved.update_time) })}{" "}
            {saved.updated_by ? <StaffName id={saved.updated_by} /> : "—"}
          </>
        ) : (
          t("notifications.notRecorded")
        )}
      </p>
      <CheckboxField
        label={t("notifications.sms")}
        checked={sms}
        disabled={!editable}
        onChange={(e) => {
          setSms(e.target.checked);
          changed();
        }}
        error={fieldError(save.error, "sms")}
      />
      <CheckboxField
        label={t("notifications.email")}
        checked={email}
        disabled={!editable}
        onChange={(e) => {
          setEmail(e.target.checked);
          setMissing(false);
          changed();
        }}
        error={fieldError(save.error, "email")}
      />
      <Field
        label={t("notifications.emailAddress")}
        type="email"
        autoComplete="off"
        value={address}
        readOnly={!editable}
        onChange={(e) => {
          setAddress(e.target.value);
          setMissing(false);
          changed();
        }}
        error={missing ? t("notifications.emailNeeded") : fieldError(save.error, "email_address")}
      />
      <SelectField
        label={t("notifications.language")}
        value={language}
        disabled={!editable}
        onChange={(e) => {
          setLanguage(e.target.value);
          changed();
        }}
        error={fieldError(save.error, "language")}
      >
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {t(`notifications.language.${l || "default"}`)}
          </option>
        ))}
      </SelectField>
      <CheckboxField
        label={t("notifications.optedOut")}
        checked={optedOut}
        disabled={!editable}
        onChange={(e) => {
          setOptedOut(e.target.checked);
          changed();
        }}
        error={fieldError(save.error, "opted_out")}
      />
      {editable && (
        <div className="actions">
          <button type="submit" disabled={save.isPending}>
            {t("notifications.save")}
          </button>
        </div>
      )}
      {save.isPending && <Busy label={t("common.saving")} />}
      {done && <p role="status">{done}</p>}
      <ErrorAlert error={save.error} fields={FIELDS} />
    </form>
  );
}
