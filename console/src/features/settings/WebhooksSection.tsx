/** The institution's webhook endpoints: listed with their status, added (the signing secret
 * shown once, to be copied then), enabled again after persistent failure, deleted; each with its
 * deliveries, any of which can be sent again. */
import { useId, useRef, useState, type FormEvent } from "react";

import { ConfirmButton } from "@/components/Confirm";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { CheckboxField, Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import {
  useCreateWebhook,
  useDeleteWebhook,
  useDeliveries,
  useEnableWebhook,
  useReplayDelivery,
  useWebhooks,
  type CreatedWebhook,
  type WebhookBody,
  type WebhookEndpoint,
} from "./notifyApi";
import { utcDateTime } from "./notify";

export const EVENT_TYPES: WebhookBody["event_types"] = [
  "loan.submitted",
  "loan.approved",
  "loan.rejected",
  "loan.disbursed",
  "loan.repayment_applied",
  "loan.repayment_reversed",
  "loan.installment_overdue",
  "loan.reclassified",
  "loan.closed",
  "loan.written_off",
  "loan.rescheduled",
  "payment.posted",
  "payment.unmatched",
  "payment.reversed",
  "close_of_business.completed",
  "alert.raised",
];

type EventType = WebhookBody["event_types"][number];

export function WebhooksSection() {
  const me = useMe();
  const editable = can(me, "webhooks:manage");
  const webhooks = useWebhooks();
  const [done, setDone] = useState("");
  return (
    <>
      <p className="hint">{t("settings.webhooks.hint")}</p>
      <Loading query={webhooks}>
        {(list) =>
          list.length ? (
            <div className="table-wrap">
              <table className="webhooks">
                <thead>
                  <tr>
                    <th scope="col">{t("settings.webhooks.url")}</th>
                    <th scope="col">{t("settings.webhooks.description")}</th>
                    <th scope="col">{t("settings.webhooks.events")}</th>
                    <th scope="col">{t("settings.webhooks.status")}</th>
                    <th scope="col">{t("settings.webhooks.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((endpoint) => (
                    <EndpointRow key={endpoint.id} endpoint={endpoint} editable={editable} onDone={setDone} />
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p>{t("settings.webhooks.none")}</p>
          )
        }
      </Loading>
      {done && <p role="status">{done}</p>}
      {editable && <AddWebhook />}
    </>
  );
}

function EndpointRow({
  endpoint,
  editable,
  onDone,
}: {
  endpoint: WebhookEndpoint;
  editable: boolean;
  onDone: (message: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const enable = useEnableWebhook();
  const remove = useDeleteWebhook();
  const url = endpoint.url;
  return (
    <>
      <tr>
        <th scope="row" className="url">
          {url}
        </th>
        <td>{endpoint.description ?? ""}</td>
        <td>{endpoint.event_types.join(", ")}</td>
        <td>
          {endpoint.status === "enabled"
            ? t("settings.webhooks.enabled")
            : endpoint.disabled_reason
              ? t("settings.webhooks.disabledBecause", { reason: endpoint.disabled_reason })
              : t("settings.webhooks.disabled")}
        </td>
        <td>
          <div className="actions">
            <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
              {t("settings.webhooks.deliveries")}
            </button>
            {editable && endpoint.status === "disabled" && (
              <button
                type="button"
                disabled={enable.isPending}
                onClick={() =>
                  enable.mutate(endpoint.id, { onSuccess: () => onDone(t("settings.webhooks.enabledAgain", { url })) })
                }
              >
                {t("settings.webhooks.enable")}
              </button>
            )}
            {editable && (
              <ConfirmButton
                question={t("settings.webhooks.deleteQuestion", { url })}
                disabled={remove.isPending}
                onConfirm={() =>
                  remove.mutate(endpoint.id, { onSuccess: () => onDone(t("settings.webhooks.deleted", { url })) })
                }
              >
                {t("settings.webhooks.delete")}
              </ConfirmButton>
            )}
          </div>
          {(enable.isPending || remove.isPending) && <Busy label={t("common.saving")} />}
          <ErrorAlert error={enable.error ?? remove.error} />
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={5}>
            <Deliveries endpoint={endpoint} editable={editable} />
          </td>
        </tr>
      )}
    </>
  );
}

function Deliveries({ endpoint, editable }: { endpoint: WebhookEndpoint; editable: boolean }) {
  const deliveries = useDeliveries(endpoint.id);
  const replay = useReplayDelivery(endpoint.id);
  const titleId = useId();
  return (
    <div className="deliveries">
      <h3 id={titleId}>{t("settings.webhooks.deliveriesOf", { url: endpoint.url })}</h3>
      <Loading query={deliveries}>
        {(list) =>
          list.length ? (
            <div className="table-wrap">
              <table aria-labelledby={titleId}>
                <thead>
                  <tr>
                    <th scope="col">{t("settings.webhooks.time")}</th>
                    <th scope="col">{t("settings.webhooks.event")}</th>
                    <th scope="col">{t("settings.webhooks.status")}</th>
                    <th scope="col" className="num">
                      {t("settings.webhooks.attempts")}
                    </th>
                    <th scope="col">{t("settings.webhooks.response")}</th>
                    {editable && <td />}
                  </tr>
                </thead>
                <tbody>
                  {list.map((d) => {
                    const last = d.attempt_log[d.attempt_log.length - 1];
                    return (
                      <tr key={d.id}>
                        <td className="date">{utcDateTime(d.create_time)} UTC</td>
                        <td>{d.event_type}</td>
                        <td>{t(`settings.delivery.${d.status}`)}</td>
                        <td className="num">{d.attempts}</td>
                        <td>
                          {d.response_status ?? t("settings.webhooks.noAnswer")}
                          {last?.error && <span className="hint"> — {last.error}</span>}
                        </td>
                        {editable && (
                          <td>
                            <button
                              type="button"
                              className="secondary"
                              disabled={replay.isPending}
                              onClick={() => replay.mutate(d.id)}
                            >
                              {t("settings.webhooks.replay")}
                            </button>
                          </td>
                        )}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          ) : (
            <p>{t("settings.webhooks.noDeliveries")}</p>
          )
        }
      </Loading>
      {replay.isPending && <Busy label={t("common.saving")} />}
      {replay.isSuccess && (
        <p role="status">{t("settings.webhooks.replayed", { status: t(`settings.delivery.${replay.data.status}`) })}</p>
      )}
      <ErrorAlert error={replay.error} />
    </div>
  );
}

function checkWebhook(url: string, events: EventType[]): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!/^https?:\/\/[^\s/]+/i.test(url.trim())) errors.url = t("settings.webhooks.badUrl");
  if (!events.length) errors.event_types = t("settings.webhooks.noEvents");
  return errors;
}

function AddWebhook() {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<EventType[]>([]);
  const [description, setDescription] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  // The one answer holding the secret: kept here only, until dismissed.
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const create = useCreateWebhook();
  const titleId = useId();
  const eventsError = useId();
  const error = (field: string) => local[field] ?? fieldError(create.error, field);

  function toggle(event: EventType, on: boolean) {
    setEvents(on ? EVENT_TYPES.filter((e) => e === event || events.includes(e)) : events.filter((e) => e !== event));
    create.reset();
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const errors = checkWebhook(url, events);
    setLocal(errors);
    if (Object.keys(errors).length) return;
    setCreated(null);
    create.mutate(
      { url: url.trim(), event_types: events, description: description.trim() || null },
      {
        onSuccess: (endpoint) => {
          setCreated(endpoint);
          create.reset(); // the secret lives in this form's state only, until dismissed
          setUrl("");
          setEvents([]);
          setDescription("");
        },
      },
    );
  }

  const eventsMessage = error("event_types");
  return (
    <>
      {created && <SecretOnce endpoint={created} onDismiss={() => setCreated(null)} />}
      <form onSubmit={submit} noValidate aria-labelledby={titleId} className="add-webhook">
        <h3 id={titleId}>{t("settings.webhooks.add")}</h3>
        <Field
          label={t("settings.webhooks.url")}
          type="url"
          inputMode="url"
          autoComplete="off"
          maxLength={2000}
          value={url}
          onChange={(e) => {
            setUrl(e.target.value);
            create.reset();
          }}
          hint={t("settings.webhooks.urlHint")}
          error={error("url")}
        />
        <fieldset
          className="event-types"
          aria-invalid={eventsMessage ? true : undefined}
          aria-describedby={eventsMessage ? eventsError : undefined}
        >
          <legend>{t("settings.webhooks.events")}</legend>
          {EVENT_TYPES.map((event) => (
            <CheckboxField
              key={event}
              label={event}
              checked={events.includes(event)}
              onChange={(e) => toggle(event, e.target.checked)}
            />
          ))}
          {eventsMessage && (
            <span id={eventsError} className="field-error">
              {eventsMessage}
            </span>
          )}
        </fieldset>
        <Field
          label={t("settings.webhooks.description")}
          maxLength={500}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          error={error("description")}
        />
        <div className="actions">
          <button type="submit" disabled={create.isPending}>
            {t("settings.webhooks.add")}
          </button>
        </div>
        {create.isPending && <Busy label={t("settings.webhooks.adding")} />}
        <ErrorAlert error={create.error} fields={["url", "event_types", "description"]} />
      </form>
    </>
  );
}

function copySelection(element: HTMLElement | null): boolean {
  const selection = window.getSelection();
  if (!element || !selection) return false;
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

/** The signing secret, shown this once: the server never answers it again. */
function SecretOnce({ endpoint, onDismiss }: { endpoint: CreatedWebhook; onDismiss: () => void }) {
  const [copied, setCopied] = useState<"" | "yes" | "no">("");
  const secretRef = useRef<HTMLElement>(null);
  const titleId = useId();
  const warningId = useId();

  async function copy() {
    try {
      await navigator.clipboard.writeText(endpoint.secret);
      setCopied("yes");
    } catch {
      // No Clipboard API outside a secure context (the console over plain http on a LAN):
      // select the secret and copy the selection the old way.
      setCopied(copySelection(secretRef.current) ? "yes" : "no");
    }
  }

  return (
    <section className="secret-once" aria-labelledby={titleId} aria-describedby={warningId}>
      <h3 id={titleId}>{t("settings.webhooks.secretTitle", { url: endpoint.url })}</h3>
      <p id={warningId} className="warning">
        <strong>{t("settings.webhooks.secretWarning")}</strong>
      </p>
      <p>
        <code className="secret" ref={secretRef}>
          {endpoint.secret}
        </code>
      </p>
      <div className="actions">
        <button type="button" onClick={() => void copy()}>
          {t("settings.webhooks.copy")}
        </button>
        <button type="button" className="secondary" onClick={onDismiss}>
          {t("settings.webhooks.dismiss")}
        </button>
      </div>
      {copied && (
        <p role="status">{copied === "yes" ? t("settings.webhooks.copied") : t("settings.webhooks.copyFailed")}</p>
      )}
    </section>
  );
}
