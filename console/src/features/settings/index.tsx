/** The institution's settings: who it is, who must use a second factor, and how it lends. Each
 * part is editable by the roles allowed to change it and read-only for the others. */
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useInstitution } from "./api";
import { LoanSettingsSection } from "./LoanSettingsForm";
import { SecurityPolicy } from "./SecurityPolicyForm";
import "./settings.css";

export default function SettingsPage() {
  const me = useMe();
  // Only institution staff reach this page (the platform administrator holds no settings:read).
  const institutionId = me.institution_id ?? "";
  const institution = useInstitution(institutionId);

  return (
    <>
      <h1>{t("settings.title")}</h1>
      <Loading query={institution}>
        {(inst) => (
          <>
            <section aria-labelledby="settings-institution">
              <h2 id="settings-institution">{t("settings.institution")}</h2>
              <dl className="facts institution-facts">
                <dt>{t("settings.name")}</dt>
                <dd>{inst.name}</dd>
                <dt>{t("settings.currency")}</dt>
                <dd>{inst.currency}</dd>
                <dt>{t("settings.id")}</dt>
                <dd>
                  <code>{inst.id}</code>
                </dd>
              </dl>
            </section>
            {can(me, "security_policy:read") && (
              <section aria-labelledby="settings-security">
                <h2 id="settings-security">{t("settings.security")}</h2>
                <SecurityPolicy institutionId={inst.id} />
              </section>
            )}
            <section aria-labelledby="settings-loans">
              <h2 id="settings-loans">{t("settings.loans")}</h2>
              <LoanSettingsSection institutionId={inst.id} currency={inst.currency} />
            </section>
          </>
        )}
      </Loading>
    </>
  );
}
