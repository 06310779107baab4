/** Alert rules: what raises an alert, who sees it, how else it is sent. A table of the rules,
 * and for those who may manage them a form to add one or change or delete one. The form shows
 * only the threshold its trigger needs; a PAR30 ratio is typed as a percentage. */
import { useId, useState, type FormEvent } from "react";

import { ConfirmButton } from "@/components/Confirm";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { CheckboxField, Field, SelectField } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { money } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import {
  useAlertRules,
  useAllBranches,
  useDeleteAlertRule,
  useSaveAlertRule,
  type AlertRule,
  type AlertRuleBody,
  type Trigger,
} from "./notifyApi";
import { fractionToPercent, isPercent, percentToFraction } from "./notify";

export const TRIGGERS: Trigger[] = [
  "days_past_due",
  "branch_par30",
  "suspense_age",
  "webhook_failed",
  "large_disbursement",
];
type Role = NonNullable<AlertRuleBody["roles"]>[number];
type Channel = NonNullable<AlertRuleBody["channels"]>[number];
const ROLES: Role[] = ["branch_manager", "risk_officer", "agent", "auditor"];
const CHANNELS: Channel[] = ["email", "webhook"];

/** The threshold each trigger needs: its field in the API, and none for a failed webhook. */
const THRESHOLD: Record<Trigger, "days" | "ratio" | "hours" | "amount" | null> = {
  days_past_due: "days",
  branch_par30: "ratio",
  suspense_age: "hours",
  webhook_failed: null,
  large_disbursement: "amount",
};

export type RuleDraft = {
  name: string;
  trigger: Trigger;
  threshold: string;
  roles: Role[];
  branchIds: string[];
  channels: Channel[];
  enabled: boolean;
};

const EMPTY: RuleDraft = {
  name: "",
  trigger: "days_past_due",
  threshold: "",
  roles: [],
  branchIds: [],
  channels: [],
  enabled: true,
};

export function ruleDraftOf(rule: AlertRule): RuleDraft {
  const field = THRESHOLD[rule.trigger];
  const value = field ? rule[field] : null;
  return {
    name: rule.name,
    trigger: rule.trigger,
    threshold: value === null ? "" : field === "ratio" ? fractionToPercent(String(value)) : String(value),
    roles: ROLES.filter((r) => rule.roles.includes(r)),
    branchIds: rule.branch_ids,
    channels: rule.channels,
    enabled: rule.enabled,
  };
}

export function checkRule(d: RuleDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!d.name.trim()) errors.name = t("settings.rules.required");
  const field = THRESHOLD[d.trigger];
  const value = d.threshold.trim();
  if ((field === "days" || field === "hours") && !/^[1-9]\d{0,8}$/.test(value)) errors[field] = t("settings.rules.whole");
  if (field === "ratio" && !isPercent(value)) errors.ratio = t("settings.rules.badPercent");
  if (field === "amount" && !/^\d{1,15}(\.\d{1,10})?$/.test(value)) errors.amount = t("settings.rules.badAmount");
  return errors;
}

export function ruleBodyOf(d: RuleDraft): AlertRuleBody {
  const field = THRESHOLD[d.trigger];
  const value = d.threshold.trim();
  return {
    name: d.name.trim(),
    trigger: d.trigger,
    days: field === "days" ? Number(value) : null,
    ratio: field === "ratio" ? percentToFraction(value) : null,
    hours: field === "hours" ? Number(value) : null,
    amount: field === "amount" ? value : null,
    roles: d.roles,
    branch_ids: d.branchIds,
    channels: d.channels,
    enabled: d.enabled,
  };
}

function threshold(rule: AlertRule, currency: string): string {
  switch (rule.trigger) {
    case "days_past_due":
      return `${rule.days ?? "—"} ${t("settings.rules.days").toLowerCase()}`;
    case "branch_par30":
      return rule.ratio === null ? "—" : `${fractionToPercent(rule.ratio)}%`;
    case "suspense_age":
      return `${rule.hours ?? "—"} ${t("settings.rules.hours").toLowerCase()}`;
    case "large_disbursement":
      return money(rule.amount, currency);
    default:
      return "—";
  }
}

export function AlertRulesSection({ currency }: { currency: string }) {
  const me = useMe();
  const editable = can(me, "alert_rules:manage");
  const rules = useAlertRules();
  const [editing, setEditing] = useState<AlertRule | "new" | null>(null);
  const [done, setDone] = useState("");
  const branches = useAllBranches();
  const branchName = (id: string) => branches.data?.find((b) => b.id === id)?.name ?? id;

  return (
    <>
      <p className="hint">{t("settings.rules.hint")}</p>
      <Loading query={rules}>
        {(list) =>
          list.length ? (
            <div className="table-wrap">
              <table className="alert-rules">
                <thead>
                  <tr>
                    <th scope="col">{t("settings.rules.name")}</th>
                    <th scope="col">{t("settings.rules.trigger")}</th>
                    <th scope="col">{t("settings.rules.threshold")}</th>
                    <th scope="col">{t("settings.rules.roles")}</th>
                    <th scope="col">{t("settings.rules.branches")}</th>
                    <th scope="col">{t("settings.rules.channels")}</th>
                    <th scope="col">{t("settings.rules.enabled")}</th>
                    {editable && <td />}
                  </tr>
                </thead>
                <tbody>
                  {list.map((rule) => (
                    <tr key={rule.id}>
                      <th scope="row">{rule.name}</th>
                      <td>{t(`settings.trigger.${rule.trigger}`)}</td>
                      <td className={rule.trigger === "large_disbursement" ? "num" : undefined}>
                        {threshold(rule, currency)}
                      </td>
                      <td>{[t("role.admin"), ...rule.roles.filter((r) => r !== "admin").map((r) => t(`role.${r}`))].join(", ")}</td>
                      <td>
                        {rule.branch_ids.length
                          ? rule.branch_ids.map(branchName).join(", ")
                          : t("settings.rules.allBranches")}
                      </td>
                      <td>{rule.channels.map((c) => t(`settings.channel.${c}`)).join(", ") || "—"}</td>
                      <td>{rule.enabled ? t("settings.rules.yes") : t("settings.rules.no")}</td>
                      {editable && (
                        <td>
                          <button
                            type="button"
                            className="secondary"
                            aria-label={t("settings.rules.editLabel", { name: rule.name })}
                            onClick={() => {
                              setEditing(rule);
                              setDone("");
                            }}
                          >
                            {t("settings.rules.edit")}
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p>{t("settings.rules.none")}</p>
          )
        }
      </Loading>
      {done && <p role="status">{done}</p>}
      {editable && editing === null && (
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setEditing("new");
              setDone("");
            }}
          >
            {t("settings.rules.new")}
          </button>
        </div>
      )}
      {editable && editing !== null && (
        <RuleForm
          key={editing === "new" ? "new" : editing.id}
          rule={editing === "new" ? null : editing}
          currency={currency}
          onCancel={() => setEditing(null)}
          onDone={(message) => {
            setEditing(null);
            setDone(message);
          }}
        />
      )}
    </>
  );
}

function RuleForm({
  rule,
  currency,
  onCancel,
  onDone,
}: {
  rule: AlertRule | null;
  currency: string;
  onCancel: () => void;
  onDone: (message: string) => void;
}) {
  const [draft, setDraft] = useState<RuleDraft>(() => (rule ? ruleDraftOf(rule) : EMPTY));
  const [local, setLocal] = useState<Record<string, string>>({});
  const save = useSaveAlertRule();
  const remove = useDeleteAlertRule();
  const branches = useAllBranches();
  const titleId = useId();
  const rolesError = useId();
  const channelsError = useId();
  const error = (field: string) => local[field] ?? fieldError(save.error, field);
  const field = THRESHOLD[draft.trigger];

  function edit(change: Partial<RuleDraft>) {
    setDraft({ ...draft, ...change });
    save.reset();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors = checkRule(draft);
    setLocal(errors);
    if (Object.keys(errors).length) return;
    save.mutate(
      { id: rule?.id, body: ruleBodyOf(draft) },
      { onSuccess: (saved) => onDone(t("settings.rules.saved", { name: saved.name })) },
    );
  }

  const thresholdField = field && (
    <Field
      key={field}
      label={t(`settings.rules.${field}`)}
      inputMode={field === "days" || field === "hours" ? "numeric" : "decimal"}
      value={draft.threshold}
      onChange={(e) => edit({ threshold: e.target.value })}
      hint={field === "amount" ? t("settings.rules.amountHint", { currency }) : t(`settings.rules.${field}Hint`)}
      error={error(field)}
    />
  );
  const rolesMessage = error("roles");
  const channelsMessage = error("channels");

  return (
    <form onSubmit={submit} noValidate aria-labelledby={titleId} className="rule-form">
      <h3 id={titleId}>{rule ? t("settings.rules.editTitle", { name: rule.name }) : t("settings.rules.new")}</h3>
      <Field
        label={t("settings.rules.name")}
        maxLength={120}
        autoComplete="off"
        value={draft.name}
        onChange={(e) => edit({ name: e.target.value })}
        error={error("name")}
      />
      <SelectField
        label={t("settings.rules.trigger")}
        value={draft.trigger}
        onChange={(e) => edit({ trigger: e.target.value as Trigger, threshold: "" })}
        error={error("trigger")}
      >
        {TRIGGERS.map((tr) => (
          <option key={tr} value={tr}>
            {t(`settings.trigger.${tr}`)}
          </option>
        ))}
      </SelectField>
      {thresholdField || <p className="hint">{t("settings.rules.noThreshold")}</p>}
      <fieldset aria-describedby={rolesMessage ? rolesError : undefined}>
        <legend>{t("settings.rules.roles")}</legend>
        <p className="hint">{t("settings.rules.rolesHint")}</p>
        {ROLES.map((role) => (
          <CheckboxField
            key={role}
            label={t(`role.${role}`)}
            checked={draft.roles.includes(role)}
            onChange={(e) =>
              edit({ roles: ROLES.filter((r) => (r === role ? e.target.checked : draft.roles.includes(r))) })
            }
          />
        ))}
        {rolesMessage && (
          <span id={rolesError} className="field-error">
            {rolesMessage}
          </span>
        )}
      </fieldset>
      {branches.isPending ? (
        <Busy />
      ) : (
        <SelectField
          label={t("settings.rules.branches")}
          multiple
          size={Math.min(6, Math.max(2, branches.data?.length ?? 2))}
          value={draft.branchIds}
          onChange={(e) => edit({ branchIds: Array.from(e.target.selectedOptions, (o) => o.value) })}
          hint={t("settings.rules.branchesHint")}
          error={error("branch_ids")}
        >
          {(branches.data ?? []).map((b) => (
            <option key={b.id} value={b.id}>
              {b.name}
            </option>
          ))}
        </SelectField>
      )}
      <ErrorAlert error={branches.error} />
      <fieldset aria-describedby={channelsMessage ? channelsError : undefined}>
        <legend>{t("settings.rules.channels")}</legend>
        <p className="hint">{t("settings.rules.channelsHint")}</p>
        {CHANNELS.map((channel) => (
          <CheckboxField
            key={channel}
            label={t(`settings.channel.${channel}`)}
            checked={draft.channels.includes(channel)}
            onChange={(e) =>
              edit({
                channels: CHANNELS.filter((c) => (c === channel ? e.target.checked : draft.channels.includes(c))),
              })
            }
          />
        ))}
        {channelsMessage && (
          <span id={channelsError} className="field-error">
            {channelsMessage}
          </span>
        )}
      </fieldset>
      <CheckboxField
        label={t("settings.rules.enabled")}
        checked={draft.enabled}
        onChange={(e) => edit({ enabled: e.target.checked })}
      />
      <div className="actions">
        <button type="submit" disabled={save.isPending || remove.isPending}>
          {t("settings.rules.save")}
        </button>
        {rule && (
          <ConfirmButton
            question={t("settings.rules.deleteQuestion", { name: rule.name })}
            disabled={save.isPending || remove.isPending}
            onConfirm={() =>
              remove.mutate(rule.id, { onSuccess: () => onDone(t("settings.rules.deleted", { name: rule.name })) })
            }
          >
            {t("settings.rules.delete")}
          </ConfirmButton>
        )}
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {(save.isPending || remove.isPending) && <Busy label={t("common.saving")} />}
      <ErrorAlert
        error={save.error ?? remove.error}
        fields={["name", "trigger", "days", "ratio", "hours", "amount", "roles", "branch_ids", "channels"]}
      />
    </form>
  );
}
