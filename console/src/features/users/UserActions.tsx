/** What the caller may do to one account: disable or enable it, or give it a temporary
 * password. Each asks first, naming what will happen. */
import { useState } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { ConfirmButton } from "@/components/Confirm";
import { Field } from "@/components/Field";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useChangeUser, type User } from "./api";
import { creatableRoles } from "./roles";

export function UserActions({ user }: { user: User }) {
  const me = useMe();
  const change = useChangeUser();
  const [resetting, setResetting] = useState(false);
  const [temporary, setTemporary] = useState("");
  const [missing, setMissing] = useState(false);
  const [done, setDone] = useState("");

  if (user.id === me.id || !creatableRoles(me.role).includes(user.role)) return null;
  const name = user.full_name;

  function reset() {
    if (!temporary) {
      setMissing(true);
      return;
    }
    change.mutate(
      { verb: "reset", user, temporaryPassword: temporary },
      {
        onSuccess: () => {
          setResetting(false);
          setTemporary("");
          setDone(t("users.reset", { name }));
        },
      },
    );
  }

  return (
    <div className="user-actions">
      <div className="actions">
        {can(me, "users:disable") &&
          (user.disabled ? (
            <ConfirmButton
              question={t("users.enableQuestion", { name })}
              disabled={change.isPending}
              onConfirm={() => change.mutate({ verb: "enable", user })}
            >
              {t("users.enable")}
            </ConfirmButton>
          ) : (
            <ConfirmButton
              question={t("users.disableQuestion", { name })}
              disabled={change.isPending}
              onConfirm={() => change.mutate({ verb: "disable", user })}
            >
              {t("users.disable")}
            </ConfirmButton>
          ))}
        {can(me, "users:reset_password") && !resetting && (
          <button type="button" className="secondary" onClick={() => setResetting(true)}>
            {t("users.resetPassword")}
          </button>
        )}
      </div>
      {resetting && (
        <div className="reset">
          <Field
            label={t("users.temporaryPassword")}
            type="password"
            autoComplete="new-password"
            required
            value={temporary}
            onChange={(e) => {
              setTemporary(e.target.value);
              setMissing(false);
            }}
            hint={t("users.temporaryHint")}
            error={missing ? t("users.required") : fieldError(change.error, "temporary_password")}
          />
          <div className="actions">
            <ConfirmButton question={t("users.resetQuestion", { name })} disabled={change.isPending} onConfirm={reset}>
              {t("users.setTemporary")}
            </ConfirmButton>
            <button type="button" className="secondary" onClick={() => setResetting(false)}>
              {t("common.cancel")}
            </button>
          </div>
        </div>
      )}
      {change.isPending && <Busy label={t("users.working")} />}
      {done && <p role="status">{done}</p>}
      <ErrorAlert error={change.error} fields={resetting ? ["temporary_password"] : []} />
    </div>
  );
}
