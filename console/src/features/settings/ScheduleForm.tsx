/** The institution's clock: its time zone, when the business day closes, reminders, quiet
 * hours and the default language, with the last close of business and the next. */
import { useId, useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { CheckboxField, Field, SelectField } from "@/components/Field";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useSaveSchedule, useSchedule, type Schedule, type ScheduleBody } from "./notifyApi";
import { isLocalTime, isTimeZone, localDateTime, timeZones, utcDateTime } from "./notify";

const FIELDS = [
  "time_zone",
  "close_of_business_time",
  "reminder_days_before",
  "quiet_hours_start",
  "quiet_hours_end",
  "default_language",
  "enabled",
];

type Draft = {
  zone: string;
  close: string;
  days: string;
  quietStart: string;
  quietEnd: string;
  language: "en" | "sw";
  enabled: boolean;
};

function draftOf(s: Schedule): Draft {
  return {
    zone: s.time_zone,
    close: s.close_of_business_time,
    days: String(s.reminder_days_before),
    quietStart: s.quiet_hours_start ?? "",
    quietEnd: s.quiet_hours_end ?? "",
    language: s.default_language,
    enabled: s.enabled,
  };
}

/** The browser's checks, keyed by the server's field names so both show in the same place. */
export function checkSchedule(d: Draft): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!isTimeZone(d.zone.trim())) errors.time_zone = t("settings.schedule.badZone");
  if (!isLocalTime(d.close.trim())) errors.close_of_business_time = t("settings.schedule.badTime");
  if (!/^\d{1,2}$/.test(d.days.trim()) || Number(d.days) > 30)
    errors.reminder_days_before = t("settings.schedule.badDays");
  const start = d.quietStart.trim();
  const end = d.quietEnd.trim();
  if (start && !isLocalTime(start)) errors.quiet_hours_start = t("settings.schedule.badTime");
  if (end && !isLocalTime(end)) errors.quiet_hours_end = t("settings.schedule.badTime");
  if (!start && end) errors.quiet_hours_start = t("settings.schedule.bothQuiet");
  if (start && !end) errors.quiet_hours_end = t("settings.schedule.bothQuiet");
  return errors;
}

function bodyOf(d: Draft): ScheduleBody {
  return {
    time_zone: d.zone.trim(),
    close_of_business_time: d.close.trim(),
    reminder_days_before: Number(d.days.trim()),
    quiet_hours_start: d.quietStart.trim() || null,
    quiet_hours_end: d.quietEnd.trim() || null,
    default_language: d.language,
    enabled: d.enabled,
  };
}

export function ScheduleSection({ institutionId }: { institutionId: string }) {
  const me = useMe();
  const schedule = useSchedule(institutionId);
  if (schedule.isPending) return <Busy />;
  if (schedule.isError) return <ErrorAlert error={schedule.error} />;
  return (
    <ScheduleForm
      institutionId={institutionId}
      schedule={schedule.data}
      editable={can(me, "schedule:manage")}
    />
  );
}

function Run({ time, date, zone, none }: { time: string | null; date: string | null; zone: string; none: string }) {
  if (!time) return <>{none}</>;
  return (
    <>
      {t("settings.schedule.run", {
        date: date ?? "—",
        local: localDateTime(time, zone),
        zone,
        utc: utcDateTime(time),
      })}
    </>
  );
}

function ScheduleForm({
  institutionId,
  schedule,
  editable,
}: {
  institutionId: string;
  schedule: Schedule;
  editable: boolean;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(schedule));
  const [local, setLocal] = useState<Record<string, string>>({});
  const save = useSaveSchedule(institutionId);
  const zonesId = useId();
  const zones = timeZones();
  const error = (field: string) => local[field] ?? fieldError(save.error, field);
  const readOnly = !editable;

  function edit(change: Partial<Draft>) {
    setDraft({ ...draft, ...change });
    save.reset();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors = checkSchedule(draft);
    setLocal(errors);
    if (Object.keys(errors).length) return;
    save.mutate(bodyOf(draft), { onSuccess: (saved) => setDraft(draftOf(saved)) });
  }

  // What the server holds (saved or as loaded), not what is being typed.
  const held = save.data ?? schedule;
  return (
    <form onSubmit={submit} noValidate className="schedule">
      <p className="hint">{t("settings.schedule.hint")}</p>
      <dl className="facts">
        <dt>{t("settings.schedule.lastRun")}</dt>
        <dd>
          <Run
            time={held.last_run}
            date={held.last_business_date}
            zone={held.time_zone}
            none={t("settings.schedule.never")}
          />
        </dd>
        <dt>{t("settings.schedule.nextRun")}</dt>
        <dd>
          <Run
            time={held.next_run}
            date={held.next_business_date}
            zone={held.time_zone}
            none={t("settings.schedule.notScheduled")}
          />
        </dd>
      </dl>
      <div className="schedule-fields">
        <Field
          label={t("settings.schedule.timeZone")}
          list={editable ? zonesId : undefined}
          autoComplete="off"
          spellCheck={false}
          readOnly={readOnly}
          value={draft.zone}
          onChange={(e) => edit({ zone: e.target.value })}
          hint={editable ? t("settings.schedule.timeZoneHint") : undefined}
          error={error("time_zone")}
        />
        {editable && (
          <datalist id={zonesId}>
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        )}
        <Field
          label={t("settings.schedule.closeTime")}
          inputMode="numeric"
          placeholder="HH:MM"
          maxLength={5}
          readOnly={readOnly}
          value={draft.close}
          onChange={(e) => edit({ close: e.target.value })}
          hint={t("settings.schedule.timeHint")}
          error={error("close_of_business_time")}
        />
        <Field
          label={t("settings.schedule.reminderDays")}
          inputMode="numeric"
          maxLength={2}
          readOnly={readOnly}
          value={draft.days}
          onChange={(e) => edit({ days: e.target.value })}
          hint={t("settings.schedule.reminderHint")}
          error={error("reminder_days_before")}
        />
        <Field
          label={t("settings.schedule.quietStart")}
          inputMode="numeric"
          placeholder="HH:MM"
          maxLength={5}
          readOnly={readOnly}
          value={draft.quietStart}
          onChange={(e) => edit({ quietStart: e.target.value })}
          hint={t("settings.schedule.quietHint")}
          error={error("quiet_hours_start")}
        />
        <Field
          label={t("settings.schedule.quietEnd")}
          inputMode="numeric"
          placeholder="HH:MM"
          maxLength={5}
          readOnly={readOnly}
          value={draft.quietEnd}
          onChange={(e) => edit({ quietEnd: e.target.value })}
          error={error("quiet_hours_end")}
        />
        <SelectField
          label={t("settings.schedule.language")}
          disabled={readOnly}
          value={draft.language}
          onChange={(e) => edit({ language: e.target.value as Draft["language"] })}
          hint={t("settings.schedule.languageHint")}
          error={error("default_language")}
        >
          <option value="en">{t("settings.language.en")}</option>
          <option value="sw">{t("settings.language.sw")}</option>
        </SelectField>
      </div>
      <CheckboxField
        label={t("settings.schedule.enabled")}
        disabled={readOnly}
        checked={draft.enabled}
        onChange={(e) => edit({ enabled: e.target.checked })}
        error={error("enabled")}
      />
      <p className="hint">{t("settings.schedule.enabledHint")}</p>
      {editable && (
        <div className="actions">
          <button type="submit" disabled={save.isPending}>
            {t("settings.schedule.save")}
          </button>
        </div>
      )}
      {save.isPending && <Busy label={t("common.saving")} />}
      {save.isSuccess && <p role="status">{t("settings.saved")}</p>}
      <ErrorAlert error={save.error} fields={FIELDS} />
    </form>
  );
}
