/** The institution's settings: who it is, who must use a second factor, how it lends, its
 * clock, the webhooks of its own systems, its alert rules and the messages borrowers are sent.
 * Each part is shown to the roles that may read it, editable by those allowed to change it and
 * read-only for the others. */
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { AlertRulesSection } from "./AlertRulesSection";
import { useInstitution } from "./api";
import { LoanSettingsSection } from "./LoanSettingsForm";
import { ScheduleSection } from "./ScheduleForm";
import { SecurityPolicy } from "./SecurityPolicyForm";
import { TemplatesSection } from "./TemplatesSection";
import { WebhooksSection } from "./WebhooksSection";
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
            {can(me, "schedule:read") && (
              <section aria-labelledby="settings-schedule">
                <h2 id="settings-schedule">{t("settings.schedule")}</h2>
                <ScheduleSection institutionId={inst.id} />
              </section>
            )}
            {can(me, "webhooks:read") && (
              <section aria-labelledby="settings-webhooks">
                <h2 id="settings-webhooks">{t("settings.webhooks")}</h2>
                <WebhooksSection />
              </section>
            )}
            {can(me, "alert_rules:read") && (
              <section aria-labelledby="settings-alert-rules">
                <h2 id="settings-alert-rules">{t("settings.rules")}</h2>
                <AlertRulesSection currency={inst.currency} />
              </section>
            )}
            {can(me, "notifications:read") && (
              <section aria-labelledby="settings-templates">
                <h2 id="settings-templates">{t("settings.templates")}</h2>
                <TemplatesSection />
              </section>
            )}
          </>
        )}
      </Loading>
    </>
  );
}
