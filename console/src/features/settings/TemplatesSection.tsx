/** The message templates: every kind × channel × language, the institution's own text or
 * Kopa's default, and an editor that shows the variables the kind offers, how many SMS parts a
 * text takes, and the service's refusal (naming the line) beside the field it names. */
import { useId, useState, type FormEvent, type TextareaHTMLAttributes } from "react";

import { ConfirmButton } from "@/components/Confirm";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useRestoreTemplate, useSaveTemplate, useTemplates, type Template, type TemplateKey } from "./notifyApi";
import { smsLength } from "./notify";

const KINDS: Template["kind"][] = [
  "installment_due",
  "installment_overdue",
  "repayment_received",
  "loan_disbursed",
  "loan_approved",
  "loan_rejected",
];
const CHANNELS: Template["channel"][] = ["sms", "email"];
const LANGUAGES: Template["language"][] = ["en", "sw"];

const same = (a: TemplateKey, b: TemplateKey) =>
  a.kind === b.kind && a.channel === b.channel && a.language === b.language;

export function templateName(key: TemplateKey): string {
  return t("settings.templates.name", {
    kind: t(`settings.kind.${key.kind}`),
    channel: t(`settings.channel.${key.channel}`),
    language: t(`settings.language.${key.language}`),
  });
}

/** A column per channel and language, a row per kind. */
const COLUMNS = CHANNELS.flatMap((channel) => LANGUAGES.map((language) => ({ channel, language })));

export function TemplatesSection() {
  const me = useMe();
  const editable = can(me, "notifications:manage");
  const templates = useTemplates();
  const [open, setOpen] = useState<TemplateKey | null>(null);

  return (
    <>
      <p className="hint">{t("settings.templates.hint")}</p>
      <Loading query={templates}>
        {(list) => {
          const current = open && list.find((x) => same(x, open));
          return (
            <>
              <div className="table-wrap">
                <table className="templates">
                  <thead>
                    <tr>
                      <th scope="col">{t("settings.templates.kind")}</th>
                      {COLUMNS.map(({ channel, language }) => (
                        <th scope="col" key={`${channel}/${language}`}>
                          {t(`settings.channel.${channel}`)}, {t(`settings.language.${language}`)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {KINDS.map((kind) => (
                      <tr key={kind}>
                        <th scope="row">{t(`settings.kind.${kind}`)}</th>
                        {COLUMNS.map(({ channel, language }) => {
                          const x = list.find((y) => same(y, { kind, channel, language }));
                          if (!x) return <td key={`${channel}/${language}`}>—</td>;
                          const name = templateName(x);
                          const chosen = !!open && same(x, open);
                          return (
                            <td key={`${channel}/${language}`} className={chosen ? "chosen" : undefined}>
                              <span className={x.default ? "source" : "source own"}>
                                {x.default ? t("settings.templates.default") : t("settings.templates.own")}
                              </span>{" "}
                              <button
                                type="button"
                                className="secondary"
                                aria-label={t(
                                  editable ? "settings.templates.editLabel" : "settings.templates.viewLabel",
                                  { name },
                                )}
                                onClick={() => setOpen({ kind, channel, language })}
                              >
                                {editable ? t("settings.templates.edit") : t("settings.templates.view")}
                              </button>
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {current && (
                <TemplateEditor
                  key={`${current.kind}/${current.channel}/${current.language}`}
                  template={current}
                  editable={editable}
                  onClose={() => setOpen(null)}
                />
              )}
            </>
          );
        }}
      </Loading>
    </>
  );
}

function TextArea({
  label,
  error,
  hint,
  ...area
}: { label: string; error?: string; hint?: string } & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-invalid={error ? true : undefined} aria-describedby={described || undefined} {...area} />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      )}
    </div>
  );
}

function smsHint(body: string): string {
  const n = smsLength(body);
  return t("settings.templates.smsLength", {
    characters: n.characters,
    parts: n.parts,
    partsWord: n.parts === 1 ? t("settings.templates.part") : t("settings.templates.partsPlural"),
    encoding: n.encoding === "gsm7" ? t("settings.templates.gsm7") : t("settings.templates.ucs2"),
    perPart: n.perPart,
  });
}

function TemplateEditor({
  template,
  editable,
  onClose,
}: {
  template: Template;
  editable: boolean;
  onClose: () => void;
}) {
  const key: TemplateKey = { kind: template.kind, channel: template.channel, language: template.language };
  const name = templateName(key);
  const email = template.channel === "email";
  const [subject, setSubject] = useState(template.subject ?? "");
  const [body, setBody] = useState(template.body);
  const [local, setLocal] = useState<Record<string, string>>({});
  const [done, setDone] = useState("");
  const save = useSaveTemplate();
  const restore = useRestoreTemplate();
  const titleId = useId();
  const error = (field: string) => local[field] ?? fieldError(save.error, field);
  const busy = save.isPending || restore.isPending;

  function changed() {
    save.reset();
    restore.reset();
    setDone("");
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors: Record<string, string> = {};
    if (!body.trim()) errors.body = t("settings.templates.emptyBody");
    if (email && !subject.trim()) errors.subject = t("settings.rules.required");
    setLocal(errors);
    if (Object.keys(errors).length) return;
    save.mutate(
      { key, subject: email ? subject : null, body },
      { onSuccess: () => setDone(t("settings.templates.saved")) },
    );
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby={titleId} className="template-editor">
      <h3 id={titleId}>{name}</h3>
      <p className="hint">
        {template.default
          ? t("settings.templates.usingDefault")
          : t("settings.templates.usingOwn", { time: isoDate(template.update_time) })}
      </p>
      {email && (
        <Field
          label={t("settings.templates.subject")}
          maxLength={200}
          readOnly={!editable}
          value={subject}
          onChange={(e) => {
            setSubject(e.target.value);
            changed();
          }}
          error={error("subject")}
        />
      )}
      <TextArea
        label={t("settings.templates.body")}
        rows={email ? 10 : 4}
        maxLength={5000}
        readOnly={!editable}
        spellCheck
        value={body}
        onChange={(e) => {
          setBody(e.target.value);
          changed();
        }}
        hint={email ? undefined : smsHint(body)}
        error={error("body")}
      />
      <div className="variables">
        <h4>{t("settings.templates.variables")}</h4>
        <ul>
          {template.variables.map((v) => (
            <li key={v}>
              <code>{`{{ ${v} }}`}</code>
            </li>
          ))}
        </ul>
        <p className="hint">{t("settings.templates.variablesHint")}</p>
      </div>
      <div className="actions">
        {editable && (
          <button type="submit" disabled={busy}>
            {t("settings.templates.save")}
          </button>
        )}
        {editable && !template.default && (
          <ConfirmButton
            question={t("settings.templates.restoreQuestion", { name })}
            disabled={busy}
            onConfirm={() =>
              restore.mutate(key, {
                onSuccess: (restored) => {
                  setSubject(restored.subject ?? "");
                  setBody(restored.body);
                  setLocal({});
                  save.reset();
                  setDone(t("settings.templates.restored"));
                },
              })
            }
          >
            {t("settings.templates.restore")}
          </ConfirmButton>
        )}
        <button type="button" className="secondary" onClick={onClose}>
          {t("settings.templates.close")}
        </button>
      </div>
      {busy && <Busy label={t("common.saving")} />}
      {done && <p role="status">{done}</p>}
      <ErrorAlert error={save.error ?? restore.error} fields={["body", "subject"]} />
    </form>
  );
}
