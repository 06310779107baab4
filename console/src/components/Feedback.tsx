/** Waiting and failing, said the same way everywhere: a progress indicator on every wait, an
 * `alert` for errors that name no field, and a plain refusal for what the role may not do. */
import type { ReactNode } from "react";

import { ApiProblem, isOffline } from "@/api/problem";
import { t } from "@/i18n";
import { useSession } from "@/lib/session";

/** A wait: an indeterminate `progressbar` named by what is awaited. Deliberately not a
 * `status` region: a screen's status (what waits to be sent, what was saved) stays the only
 * one while something loads beside it. */
export function Busy({ label }: { label?: string }) {
  const text = label ?? t("common.loading");
  return (
    <div className="busy">
      <progress aria-label={text} />
      <span aria-hidden="true">{text}</span>
    </div>
  );
}

/** The part of an error that no field shows. */
export function ErrorAlert({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  const role = useSession().me?.role ?? "";
  if (!error) return null;
  let message: ReactNode;
  if (isOffline(error)) message = t("common.offline");
  else if (error instanceof ApiProblem) {
    const shownBeside = Object.keys(error.fields).every((f) => fields.includes(f));
    if (error.status === 403) message = t("common.forbidden", { role, what: error.message });
    else if (shownBeside && Object.keys(error.fields).length) return null;
    else message = error.message;
  } else message = t("common.error", { detail: String((error as Error)?.message ?? error) });
  return (
    <div role="alert" className="alert">
      {message}
    </div>
  );
}

export function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof ApiProblem ? error.field(field) : undefined;
}
