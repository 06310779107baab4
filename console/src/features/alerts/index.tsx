/** The alert queue: what the institution's alert rules raised for the signed-in person's role
 * and branch, newest first, filtered by status. Those who may handle alerts assign them (to
 * someone who may see them), acknowledge and resolve them (after a confirmation naming the
 * alert); each step is in the alert's history. New alerts arrive live (the shell's feed
 * refreshes the queue). Titles and details are shown as text, whatever they hold. */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link } from "react-router-dom";

import { api, call } from "@/api/client";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { BorrowerName, StaffName } from "@/components/Lookups";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { STATUSES, useAlerts, useAlertStep, useAssignees, type Alert, type AlertStatus, type User } from "./api";
import "./alerts.css";

/** `2026-03-31T09:30:00.123Z` as `2026-03-31 09:30 UTC`. */
function when(time: string | null | undefined): string {
  return time ? `${time.slice(0, 10)} ${time.slice(11, 16)} UTC` : "—";
}

const BRANCH_SCOPED = ["agent", "branch_manager"];
const HANDLERS = ["admin", "branch_manager", "risk_officer", "agent"];

/** Whether the staff member may see (and so take) the alert: admins always; others when the
 * alert's rule names their role and, in a branch, when it is theirs or of no branch. */
function maySee(user: Pick<User, "role"> & { branch_id?: string | null }, alert: Alert): boolean {
  if (user.role === "admin") return true;
  if (!HANDLERS.includes(user.role) || (alert.roles.length && !alert.roles.includes(user.role))) return false;
  return !BRANCH_SCOPED.includes(user.role) || !alert.branch_id || user.branch_id === alert.branch_id;
}

function useBranchNames() {
  return useQuery({
    queryKey: ["branches", "all"],
    queryFn: async () => (await call(api.GET("/v1/branches", { params: { query: { page_size: 1000 } } }))).items,
    staleTime: 5 * 60_000,
  }).data;
}

function useLoanBorrower(loanId: string) {
  return useQuery({
    queryKey: ["loan", loanId],
    queryFn: () => call(api.GET("/v1/loans/{loan_id}", { params: { path: { loan_id: loanId } } })),
    enabled: !!loanId,
    staleTime: 60_000,
  }).data?.borrower_id;
}

/** What the alert is about, as a link where the console has a page for it. */
function Subject({ alert }: { alert: Alert }) {
  const me = useMe();
  const isLoan = alert.subject_type === "loan" && can(me, "loans:read");
  const borrowerId = useLoanBorrower(isLoan ? alert.subject_id : "");
  if (!isLoan) return null;
  return (
    <span className="subject">
      <Link to={`/loans/${alert.subject_id}`}>
        {borrowerId ? (
          <>
            {t("alerts.aboutLoan", { name: "" })}
            <BorrowerName id={borrowerId} link={false} />
          </>
        ) : (
          t("alerts.openLoan")
        )}
      </Link>
    </span>
  );
}

function History({ alert, id }: { alert: Alert; id: string }) {
  return (
    <ol id={id} className="history" aria-label={t("alerts.historyOf", { title: alert.title })}>
      {alert.history.map((step, i) => (
        <li key={`${step.time}-${i}`}>
          <span className="date">{when(step.time)}</span>{" "}
          {step.action === "assigned" ? (
            <>
              {t("alerts.step.assigned", { name: "" })}
              <StaffName id={step.assignee_id ?? ""} />
            </>
          ) : (
            t(`alerts.step.${step.action}`)
          )}{" "}
          {step.actor_id ? (
            <>
              {t("alerts.stepBy", { name: "" })}
              <StaffName id={step.actor_id} />
            </>
          ) : (
            t("alerts.stepBy", { name: t("alerts.system") })
          )}
          {step.note && <span className="note">: {step.note}</span>}
        </li>
      ))}
    </ol>
  );
}

/** A step that needs more than a click: a form naming the alert, with a confirm button. */
function Panel({
  title,
  question,
  confirm,
  pending,
  error,
  fields,
  onConfirm,
  onCancel,
  children,
}: {
  title: string;
  question?: string;
  confirm: string;
  pending: boolean;
  error: unknown;
  fields: string[];
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    form.current?.querySelector<HTMLElement>("select, input")?.focus();
  }, []);
  return (
    <form
      ref={form}
      role="alertdialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={question ? `${id}-question` : undefined}
      className="panel"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (!pending) onConfirm();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") onCancel();
      }}
    >
      <h3 id={`${id}-title`}>{title}</h3>
      {question && <p id={`${id}-question`}>{question}</p>}
      {children}
      <div className="actions">
        <button type="submit" disabled={pending}>
          {confirm}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {pending && <Busy label={t("alerts.working")} />}
      <ErrorAlert error={error} fields={fields} />
    </form>
  );
}

type Open = "assign" | "resolve" | null;

function Actions({ alert, onDone }: { alert: Alert; onDone: (message: string) => void }) {
  const me = useMe();
  const step = useAlertStep();
  const assignees = useAssignees();
  const [open, setOpen] = useState<Open>(null);
  const [assignee, setAssignee] = useState("");
  const [note, setNote] = useState("");
  const [missing, setMissing] = useState(false);
  const candidates = (assignees.data ?? []).filter((u) => maySee(u, alert));
  const show = (what: Open) => {
    step.reset();
    setNote("");
    setMissing(false);
    setAssignee(alert.assignee_id ?? "");
    setOpen(what);
  };
  const finish = (message: string) => {
    setOpen(null);
    onDone(message);
  };

  if (open === "assign")
    return (
      <Panel
        title={t("alerts.assignTitle", { title: alert.title })}
        confirm={t("alerts.assign")}
        pending={step.isPending}
        error={step.error ?? assignees.error}
        fields={["assignee_id", "note"]}
        onCancel={() => setOpen(null)}
        onConfirm={() => {
          if (!assignee) return setMissing(true);
          const name = candidates.find((u) => u.id === assignee)?.full_name ?? assignee;
          step.mutate(
            { verb: "assign", alert, assigneeId: assignee, note: note.trim() },
            { onSuccess: () => finish(t("alerts.done.assigned", { title: alert.title, name })) },
          );
        }}
      >
        <SelectField
          label={t("alerts.assignTo")}
          required
          value={assignee}
          onChange={(e) => {
            setAssignee(e.target.value);
            setMissing(false);
          }}
          hint={can(me, "users:read") ? undefined : t("alerts.onlyYou")}
          error={missing ? t("alerts.required") : fieldError(step.error, "assignee_id")}
        >
          <option value="">{assignees.isPending ? t("common.loading") : t("alerts.chooseStaff")}</option>
          {candidates.map((u) => (
            <option key={u.id} value={u.id}>
              {u.id === me.id ? t("lookups.you", { name: u.full_name }) : `${u.full_name} (${t(`role.${u.role}`)})`}
            </option>
          ))}
        </SelectField>
        <Field
          label={t("alerts.note")}
          autoComplete="off"
          maxLength={500}
          value={note}
          onChange={(e) => setNote(e.target.value)}
          error={fieldError(step.error, "note")}
        />
      </Panel>
    );

  if (open === "resolve")
    return (
      <Panel
        title={t("alerts.resolveTitle")}
        question={t("alerts.resolveQuestion", { title: alert.title })}
        confirm={t("common.confirm")}
        pending={step.isPending}
        error={step.error}
        fields={["note"]}
        onCancel={() => setOpen(null)}
        onConfirm={() =>
          step.mutate(
            { verb: "resolve", alert, note: note.trim() },
            { onSuccess: () => finish(t("alerts.done.resolved", { title: alert.title })) },
          )
        }
      >
        <Field
          label={t("alerts.note")}
          autoComplete="off"
          maxLength={500}
          value={note}
          onChange={(e) => setNote(e.target.value)}
          error={fieldError(step.error, "note")}
        />
      </Panel>
    );

  if (alert.status === "resolved") return null;
  return (
    <div className="actions">
      <button type="button" className="secondary" onClick={() => show("assign")} disabled={step.isPending}>
        {t("alerts.assign")}
      </button>
      {alert.status === "open" && (
        <button
          type="button"
          className="secondary"
          disabled={step.isPending}
          onClick={() => {
            step.reset();
            step.mutate(
              { verb: "acknowledge", alert },
              { onSuccess: () => onDone(t("alerts.done.acknowledged", { title: alert.title })) },
            );
          }}
        >
          {t("alerts.acknowledge")}
        </button>
      )}
      <button type="button" onClick={() => show("resolve")} disabled={step.isPending}>
        {t("alerts.resolve")}
      </button>
      {step.isPending && <Busy label={t("alerts.working")} />}
      <ErrorAlert error={step.error} />
    </div>
  );
}

function Row({ alert, handles, onDone }: { alert: Alert; handles: boolean; onDone: (message: string) => void }) {
  const [expanded, setExpanded] = useState(false);
  const historyId = useId();
  const branches = useBranchNames();
  const branch = alert.branch_id
    ? (branches?.find((b) => b.id === alert.branch_id)?.name ?? alert.branch_id)
    : t("alerts.allBranches");
  return (
    <tr>
      <td className="date">{when(alert.create_time)}</td>
      <td className="alert-cell">
        <span className="title">{alert.title}</span>
        <span className="hint trigger"> · {t(`alerts.trigger.${alert.trigger}`)}</span>
        <span className="detail">{alert.detail}</span>
        <Subject alert={alert} />
        <button
          type="button"
          className="link"
          aria-expanded={expanded}
          aria-controls={expanded ? historyId : undefined}
          onClick={() => setExpanded(!expanded)}
        >
          {t("alerts.history")}
        </button>
        {expanded && <History alert={alert} id={historyId} />}
      </td>
      <td>{branch}</td>
      <td>
        <strong className={`status status-${alert.status}`}>{t(`alerts.status.${alert.status}`)}</strong>
      </td>
      <td>{alert.assignee_id ? <StaffName id={alert.assignee_id} /> : "—"}</td>
      {handles && (
        <td>
          <Actions alert={alert} onDone={onDone} />
        </td>
      )}
    </tr>
  );
}

export default function AlertsPage() {
  const me = useMe();
  const [status, setStatus] = useState<AlertStatus | "">("open");
  const [done, setDone] = useState("");
  const pages = useAlerts(status);
  const handles = can(me, "alerts:handle");
  return (
    <>
      <h1>{t("alerts.title")}</h1>
      <p className="hint">{t("alerts.intro")}</p>
      <div className="filters">
        <SelectField
          label={t("alerts.status")}
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as AlertStatus | "");
            setDone("");
          }}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`alerts.status.${s || "all"}`)}
            </option>
          ))}
        </SelectField>
        {pages.isFetching && !pages.isPending && !pages.isFetchingNextPage && <Busy />}
      </div>
      {done && (
        <p role="status" className="done">
          {done}
        </p>
      )}
      <Loading query={pages}>
        {(data) => {
          const alerts = data.pages.flatMap((page) => page.items);
          if (!alerts.length) return <p>{t("alerts.none")}</p>;
          return (
            <div className="table-wrap">
              <table className="alerts">
                <thead>
                  <tr>
                    <th scope="col">{t("alerts.col.raised")}</th>
                    <th scope="col">{t("alerts.col.alert")}</th>
                    <th scope="col">{t("alerts.col.branch")}</th>
                    <th scope="col">{t("alerts.col.status")}</th>
                    <th scope="col">{t("alerts.col.assignee")}</th>
                    {handles && <th scope="col">{t("alerts.col.actions")}</th>}
                  </tr>
                </thead>
                <tbody>
                  {alerts.map((a) => (
                    <Row key={a.id} alert={a} handles={handles} onDone={setDone} />
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={pages} />
    </>
  );
}
