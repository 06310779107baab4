/** Which staff roles must sign in with a second factor: a checkbox per role. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { CheckboxField } from "@/components/Field";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";
import { isoDate } from "@/lib/format";

import { useSaveSecurityPolicy, useSecurityPolicy, type MfaRole } from "./api";

const ROLES: MfaRole[] = ["admin", "branch_manager", "risk_officer", "agent", "auditor"];

export function SecurityPolicy({ institutionId }: { institutionId: string }) {
  const me = useMe();
  const policy = useSecurityPolicy(institutionId, true);
  if (policy.isPending) return <Busy />;
  if (policy.isError) return <ErrorAlert error={policy.error} />;
  return (
    <SecurityPolicyForm
      institutionId={institutionId}
      required={policy.data.mfa_required_roles}
      updated={policy.data.update_time}
      editable={can(me, "security_policy:manage")}
    />
  );
}

function SecurityPolicyForm({
  institutionId,
  required,
  updated,
  editable,
}: {
  institutionId: string;
  required: MfaRole[];
  updated: string | null;
  editable: boolean;
}) {
  const me = useMe();
  const [roles, setRoles] = useState(() => new Set(required));
  const save = useSaveSecurityPolicy(institutionId);
  const ownRoleAdded = roles.has(me.role as MfaRole) && !required.includes(me.role as MfaRole);

  function toggle(role: MfaRole, on: boolean) {
    const next = new Set(roles);
    if (on) next.add(role);
    else next.delete(role);
    setRoles(next);
    save.reset();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate(ROLES.filter((r) => roles.has(r)));
  }

  return (
    <form onSubmit={submit} className="security-policy">
      <fieldset>
        <legend>{t("settings.mfaRoles")}</legend>
        <p className="hint">{t("settings.mfaHint")}</p>
        {ROLES.map((role) => (
          <CheckboxField
            key={role}
            label={t(`role.${role}`)}
            checked={roles.has(role)}
            disabled={!editable}
            onChange={(e) => toggle(role, e.target.checked)}
          />
        ))}
      </fieldset>
      {ownRoleAdded && <p className="hint">{t("settings.mfaSelf")}</p>}
      {updated && <p className="hint">{t("settings.lastChanged", { time: isoDate(updated) })}</p>}
      {editable && (
        <div className="actions">
          <button type="submit" disabled={save.isPending}>
            {t("settings.saveSecurity")}
          </button>
        </div>
      )}
      {save.isPending && <Busy label={t("common.saving")} />}
      {save.isSuccess && <p role="status">{t("settings.saved")}</p>}
      <ErrorAlert error={save.error} />
    </form>
  );
}
