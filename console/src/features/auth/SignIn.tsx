/** Sign in, with the second-factor challenge, and enrolment when the institution requires a
 * second factor the user has not set up yet. */
import { useState, type FormEvent } from "react";

import { api, call } from "@/api/client";
import { ApiProblem } from "@/api/problem";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { t } from "@/i18n";
import { deviceProfile, session } from "@/lib/session";

type Tokens = { access_token: string; refresh_token: string; mfa_enrolment_required?: boolean };

export async function startSession(tokens: Tokens): Promise<void> {
  session.set({
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    mfaEnrolmentRequired: !!tokens.mfa_enrolment_required,
    expired: false,
  });
  const me = await call(api.GET("/v1/me"));
  session.set({ me, offline: false });
  deviceProfile.remember(me);
}

export function SignIn({ heading = t("auth.title") }: { heading?: string }) {
  const [email, setEmail] = useState(session.get().me?.email ?? "");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [needsOtp, setNeedsOtp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tokens = await call(
        api.POST("/v1/auth/login", { body: { email, password, ...(needsOtp ? { otp } : {}) } }),
      );
      await startSession(tokens);
    } catch (problem) {
      if (problem instanceof ApiProblem && problem.reason === "MFA_REQUIRED") setNeedsOtp(true);
      else setError(problem);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>{heading}</h1>
      <form onSubmit={submit} noValidate={false}>
        {!needsOtp && (
          <>
            <Field
              label={t("auth.email")}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              error={fieldError(error, "email")}
            />
            <Field
              label={t("auth.password")}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              error={fieldError(error, "password")}
            />
            <button type="submit" disabled={busy}>
              {t("auth.signIn")}
            </button>
          </>
        )}
        {needsOtp && (
          <>
            <Field
              label={t("auth.otp")}
              inputMode="numeric"
              autoComplete="one-time-code"
              required
              autoFocus
              value={otp}
              onChange={(e) => setOtp(e.target.value)}
              hint={t("auth.otpHint")}
              error={fieldError(error, "otp")}
            />
            <button type="submit" disabled={busy}>
              {t("auth.verify")}
            </button>
          </>
        )}
      </form>
      {busy && <Busy label={t("auth.signingIn")} />}
      <ErrorAlert error={error} fields={["email", "password", "otp"]} />
    </main>
  );
}

/** The institution requires a second factor of this role: enrol before anything else. */
export function MfaEnrolment() {
  const [secret, setSecret] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  const enrol = () => run(async () => setSecret(await call(api.POST("/v1/me/mfa/enroll"))));
  const confirm = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => setCodes((await call(api.POST("/v1/me/mfa/confirm", { body: { code } }))).recovery_codes));
  };
  const carryOn = () =>
    run(async () => {
      const refreshToken = session.get().refreshToken ?? "";
      await startSession(await call(api.POST("/v1/auth/refresh", { body: { refresh_token: refreshToken } })));
    });

  return (
    <main className="sign-in">
      <h1>{t("auth.enrolTitle")}</h1>
      <p>{t("auth.enrolHint")}</p>
      {!secret && (
        <button type="button" onClick={enrol} disabled={busy}>
          {t("auth.enrolStart")}
        </button>
      )}
      {secret && !codes && (
        <form onSubmit={confirm}>
          <p>
            {t("auth.enrolSecret")}: <code>{secret.secret}</code>
          </p>
          <Field
            label={t("auth.otp")}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={fieldError(error, "code")}
          />
          <button type="submit" disabled={busy}>
            {t("auth.verify")}
          </button>
        </form>
      )}
      {codes && (
        <>
          <p>{t("auth.recoveryCodes")}</p>
          <ul>
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <button type="button" onClick={carryOn} disabled={busy}>
            {t("auth.continue")}
          </button>
        </>
      )}
      {busy && <Busy />}
      <ErrorAlert error={error} fields={["code"]} />
    </main>
  );
}

/** The app opened without a connection: the last collector of this device may carry on with
 * the collection sheet kept on it, and signs in once the connection is back. */
export function WorkOffline() {
  const profile = deviceProfile.recall();
  if (!profile) return null;
  function start() {
    window.history.replaceState(null, "", "/collections");
    session.set({ me: profile, offline: true });
  }
  return (
    <section className="sign-in">
      <p>{t("auth.offlineHint")}</p>
      <button type="button" className="secondary" onClick={start}>
        {t("auth.workOffline", { name: profile.full_name })}
      </button>
    </section>
  );
}
