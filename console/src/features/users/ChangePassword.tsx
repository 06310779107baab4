/** Shown instead of the console to someone who signed in with a temporary password
 * (`must_change_password` in /v1/me): they choose their own before carrying on. Their session
 * stays; every other one ends, which they are told. */
import { useState, type FormEvent } from "react";

import { api, call } from "@/api/client";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { t } from "@/i18n";
import { session } from "@/lib/session";

import { useChangeOwnPassword } from "./api";

export default function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useChangeOwnPassword();
  const [reloading, setReloading] = useState(false);
  const [reloadError, setReloadError] = useState<unknown>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    change.mutate({ current_password: current, new_password: next });
  }

  // /v1/me now says the password is the user's own, which lets the console open.
  async function carryOn() {
    setReloading(true);
    setReloadError(null);
    try {
      session.set({ me: await call(api.GET("/v1/me")) });
    } catch (problem) {
      setReloadError(problem);
      setReloading(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>{t("users.changeTitle")}</h1>
      {!change.isSuccess && (
        <>
          <p>{t("users.changeHint")}</p>
          <form onSubmit={submit}>
            <Field
              label={t("users.currentPassword")}
              type="password"
              autoComplete="current-password"
              required
              value={current}
              onChange={(e) => setCurrent(e.target.value)}
              error={fieldError(change.error, "current_password")}
            />
            <Field
              label={t("users.newPassword")}
              type="password"
              autoComplete="new-password"
              required
              maxLength={1024}
              value={next}
              onChange={(e) => setNext(e.target.value)}
              hint={t("users.newPasswordHint")}
              error={fieldError(change.error, "new_password")}
            />
            <button type="submit" disabled={change.isPending}>
              {t("users.changePassword")}
            </button>
          </form>
          {change.isPending && <Busy label={t("users.changing")} />}
          <ErrorAlert error={change.error} fields={["current_password", "new_password"]} />
        </>
      )}
      {change.isSuccess && (
        <>
          <p role="status">{t("users.changed")}</p>
          <button type="button" onClick={carryOn} disabled={reloading}>
            {t("users.continue")}
          </button>
          {reloading && <Busy />}
          <ErrorAlert error={reloadError} />
        </>
      )}
    </main>
  );
}
