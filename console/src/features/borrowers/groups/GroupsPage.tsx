/** Groups: the list of the branch's joint-liability groups, searched by name (typo-tolerant),
 * and forming a new one from registered borrowers. */
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { useDebounced } from "@/components/useDebounced";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useBorrowerSearch } from "../api";
import { useCenters, useFormGroup, useGroups, type Group } from "./api";

const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

export function GroupsPage() {
  const me = useMe();
  const [text, setText] = useState("");
  const q = useDebounced(text.trim(), 300);
  const groups = useGroups(q);
  const [forming, setForming] = useState(false);
  return (
    <>
      <h1>{t("groups.title")}</h1>
      {can(me, "borrowers:update") && !forming && (
        <div className="actions">
          <button type="button" onClick={() => setForming(true)}>
            {t("groups.form")}
          </button>
        </div>
      )}
      {forming && <FormGroup onCancel={() => setForming(false)} />}
      <div role="search">
        <Field
          label={t("groups.search")}
          type="search"
          autoComplete="off"
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </div>
      {groups.isPending && <Busy />}
      <ErrorAlert error={groups.error} />
      {groups.data && (groups.data.length ? <GroupTable rows={groups.data} /> : <p>{t("groups.none")}</p>)}
    </>
  );
}

function GroupTable({ rows }: { rows: Group[] }) {
  const centers = useCenters().data;
  const centerName = (id: string) => centers?.find((c) => c.id === id)?.name ?? id;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{t("groups.col.name")}</th>
            <th scope="col">{t("groups.col.center")}</th>
            <th scope="col">{t("groups.col.meetingDay")}</th>
            <th scope="col" className="num">
              {t("groups.col.members")}
            </th>
            <th scope="col">{t("groups.col.status")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((g) => (
            <tr key={g.id}>
              <th scope="row">
                <Link to={`/borrowers/groups/${g.id}`}>{g.name}</Link>
              </th>
              <td>{g.center_id ? centerName(g.center_id) : "—"}</td>
              <td>{g.meeting_day ? t(`groups.day.${g.meeting_day}`) : "—"}</td>
              <td className="num">{g.member_ids.length}</td>
              <td>{t(`groups.status.${g.status}`)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function FormGroup({ onCancel }: { onCancel: () => void }) {
  const navigate = useNavigate();
  const form = useFormGroup();
  const centers = useCenters().data ?? [];
  const [name, setName] = useState("");
  const [centerId, setCenterId] = useState("");
  const [day, setDay] = useState("");
  const [members, setMembers] = useState<{ id: string; name: string }[]>([]);
  const [find, setFind] = useState("");
  const q = useDebounced(find.trim(), 300);
  const found = useBorrowerSearch(q);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    form.mutate(
      {
        name,
        center_id: centerId || null,
        meeting_day: day,
        member_ids: members.map((m) => m.id),
        leader_id: "",
        secretary_id: "",
        treasurer_id: "",
        status: "active",
      },
      { onSuccess: (group) => navigate(`/borrowers/groups/${group.id}`) },
    );
  };
  return (
    <form onSubmit={submit} aria-label={t("groups.formTitle")}>
      <h2>{t("groups.formTitle")}</h2>
      <Field label={t("groups.field.name")} value={name} required maxLength={120} error={fieldError(form.error, "name")} onChange={(e) => setName(e.target.value)} />
      <SelectField label={t("groups.field.center")} value={centerId} error={fieldError(form.error, "center_id")} onChange={(e) => setCenterId(e.target.value)}>
        <option value="">{t("groups.noCenter")}</option>
        {centers.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name}
          </option>
        ))}
      </SelectField>
      <SelectField label={t("groups.field.meetingDay")} value={day} error={fieldError(form.error, "meeting_day")} onChange={(e) => setDay(e.target.value)}>
        <option value="">{t("groups.centersDay")}</option>
        {DAYS.map((d) => (
          <option key={d} value={d}>
            {t(`groups.day.${d}`)}
          </option>
        ))}
      </SelectField>
      <Field
        label={t("groups.field.findMember")}
        type="search"
        autoComplete="off"
        value={find}
        hint={t("groups.membersHint")}
        error={fieldError(form.error, "member_ids")}
        onChange={(e) => setFind(e.target.value)}
      />
      {found.data && (
        <ul className="choices">
          {found.data
            .filter((b) => !members.some((m) => m.id === b.id))
            .map((b) => (
              <li key={b.id}>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => setMembers([...members, { id: b.id, name: `${b.first_name} ${b.last_name}` }])}
                >
                  {t("groups.add", { name: `${b.first_name} ${b.last_name}` })}
                </button>
              </li>
            ))}
        </ul>
      )}
      <h3>{t("groups.chosen", { count: members.length })}</h3>
      <ul>
        {members.map((m) => (
          <li key={m.id}>
            {m.name}{" "}
            <button type="button" className="link" onClick={() => setMembers(members.filter((x) => x.id !== m.id))}>
              {t("groups.removeChosen", { name: m.name })}
            </button>
          </li>
        ))}
      </ul>
      <div className="actions">
        <button type="submit" disabled={form.isPending}>
          {t("groups.save")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {form.isPending && <Busy label={t("common.saving")} />}
      <ErrorAlert error={form.error} fields={["name", "center_id", "meeting_day", "member_ids"]} />
    </form>
  );
}
