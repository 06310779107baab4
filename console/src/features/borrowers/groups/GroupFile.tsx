/** A group's file: its centre, meeting day and officers, its members (current and past, with
 * adding one and letting one leave), and its group loans with their arrears. */
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { BorrowerName, useCurrency } from "@/components/Lookups";
import { MoneyCell } from "@/components/Money";
import { useDebounced } from "@/components/useDebounced";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useBorrowerSearch } from "../api";
import { useAddMember, useCenters, useGroup, useGroupLoans, useLeave, type Group } from "./api";

export function GroupFile() {
  const { id = "" } = useParams();
  return <Loading query={useGroup(id)}>{(g) => <File group={g} />}</Loading>;
}

function File({ group: g }: { group: Group }) {
  const me = useMe();
  const centers = useCenters().data;
  const center = centers?.find((c) => c.id === g.center_id);
  const office = (id: string) =>
    [
      id === g.leader_id && t("groups.leader"),
      id === g.secretary_id && t("groups.secretary"),
      id === g.treasurer_id && t("groups.treasurer"),
    ]
      .filter(Boolean)
      .join(", ");
  const open = g.status !== "closed" && can(me, "borrowers:update");
  return (
    <>
      <h1>{g.name}</h1>
      <dl className="facts">
        <dt>{t("groups.col.status")}</dt>
        <dd>{t(`groups.status.${g.status}`)}</dd>
        <dt>{t("groups.col.center")}</dt>
        <dd>{center ? center.name : g.center_id || "—"}</dd>
        <dt>{t("groups.col.meetingDay")}</dt>
        <dd>{g.meeting_day ? t(`groups.day.${g.meeting_day}`) : "—"}</dd>
      </dl>

      <h2>{t("groups.members")}</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("groups.col.name")}</th>
              <th scope="col">{t("groups.col.office")}</th>
              <th scope="col">{t("groups.col.joined")}</th>
              <th scope="col">{t("groups.col.left")}</th>
              {open && <th scope="col">{t("groups.col.actions")}</th>}
            </tr>
          </thead>
          <tbody>
            {g.members.map((m) => (
              <tr key={`${m.borrower_id}-${m.joined_on}`}>
                <th scope="row">
                  <BorrowerName id={m.borrower_id} />
                </th>
                <td>{m.left_on ? "—" : office(m.borrower_id) || "—"}</td>
                <td className="date">{isoDate(m.joined_on)}</td>
                <td>{m.left_on ? `${isoDate(m.left_on)}: ${m.leave_reason}` : "—"}</td>
                {open && <td>{!m.left_on && <Leave group={g} borrowerId={m.borrower_id} />}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && <AddMember group={g} />}

      <h2>{t("groups.loans")}</h2>
      <GroupLoans id={g.id} />
    </>
  );
}

function Leave({ group, borrowerId }: { group: Group; borrowerId: string }) {
  const leave = useLeave(group.id);
  const [reason, setReason] = useState("");
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" className="secondary" onClick={() => setAsking(true)}>
        {t("groups.leave")}
      </button>
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    leave.mutate({ borrowerId, reason }, { onSuccess: () => setAsking(false) });
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <Field
        label={t("groups.leaveReason")}
        value={reason}
        required
        maxLength={300}
        error={fieldError(leave.error, "reason")}
        onChange={(e) => setReason(e.target.value)}
      />
      <button type="submit" disabled={leave.isPending}>
        {t("groups.confirmLeave")}
      </button>
      {leave.isPending && <Busy label={t("common.saving")} />}
      <ErrorAlert error={leave.error} fields={["reason"]} />
    </form>
  );
}

function AddMember({ group }: { group: Group }) {
  const add = useAddMember(group.id);
  const [find, setFind] = useState("");
  const q = useDebounced(find.trim(), 300);
  const found = useBorrowerSearch(q);
  return (
    <div className="inline-form">
      <Field
        label={t("groups.field.findMember")}
        type="search"
        autoComplete="off"
        value={find}
        error={fieldError(add.error, "borrower_id")}
        onChange={(e) => setFind(e.target.value)}
      />
      {found.data && (
        <ul className="choices">
          {found.data
            .filter((b) => !group.member_ids.includes(b.id))
            .map((b) => (
              <li key={b.id}>
                <button type="button" className="secondary" disabled={add.isPending} onClick={() => add.mutate(b.id)}>
                  {t("groups.add", { name: `${b.first_name} ${b.last_name}` })}
                </button>
              </li>
            ))}
        </ul>
      )}
      {add.isPending && <Busy label={t("common.saving")} />}
      <ErrorAlert error={add.error} fields={["borrower_id"]} />
    </div>
  );
}

function GroupLoans({ id }: { id: string }) {
  const loans = useGroupLoans(id);
  const currency = useCurrency();
  return (
    <Loading query={loans}>
      {(items) =>
        items.length === 0 ? (
          <p>{t("groups.noLoans")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("groups.col.applied")}</th>
                  <th scope="col">{t("groups.col.status")}</th>
                  <th scope="col" className="num">
                    {t("groups.col.members")}
                  </th>
                  <th scope="col" className="num">
                    {t("groups.col.outstanding")}
                  </th>
                  <th scope="col" className="num">
                    {t("groups.col.dpd")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((gl) => (
                  <tr key={gl.id}>
                    <th scope="row">{isoDate(gl.create_time)}</th>
                    <td>{t(`groups.loanStatus.${gl.status}`)}</td>
                    <td className="num">
                      {gl.loans.map((l, n) => (
                        <span key={l.loan_id}>
                          {n > 0 && ", "}
                          <Link to={`/loans/${l.loan_id}`}>
                            <BorrowerName id={l.borrower_id} link={false} />
                          </Link>
                        </span>
                      ))}
                    </td>
                    <MoneyCell amount={gl.outstanding} currency={currency} />
                    <td className="num">{gl.days_past_due}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Loading>
  );
}
