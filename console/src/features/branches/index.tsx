/** The institution's branches, where agents and branch managers work and borrowers belong;
 * an admin opens new ones. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useBranchPages, useCreateBranch } from "./api";
import "./branches.css";

function NewBranchForm({ onDone, onCancel }: { onDone: (name: string) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const create = useCreateBranch();

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(name, { onSuccess: (branch) => onDone(branch.name) });
  }

  return (
    <form onSubmit={submit} aria-labelledby="new-branch-title" className="branch-form">
      <h2 id="new-branch-title">{t("branches.newTitle")}</h2>
      <Field
        label={t("branches.name")}
        required
        maxLength={120}
        autoComplete="off"
        value={name}
        onChange={(e) => setName(e.target.value)}
        error={fieldError(create.error, "name")}
      />
      <div className="actions">
        <button type="submit" disabled={create.isPending}>
          {t("branches.create")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {create.isPending && <Busy label={t("branches.creating")} />}
      <ErrorAlert error={create.error} fields={["name"]} />
    </form>
  );
}

export default function BranchesPage() {
  const me = useMe();
  const branches = useBranchPages();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState("");

  return (
    <>
      <h1>{t("branches.title")}</h1>
      {can(me, "branches:create") && !creating && (
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setCreating(true);
              setCreated("");
            }}
          >
            {t("branches.new")}
          </button>
        </div>
      )}
      {creating && (
        <NewBranchForm
          onCancel={() => setCreating(false)}
          onDone={(name) => {
            setCreating(false);
            setCreated(name);
          }}
        />
      )}
      {created && <p role="status">{t("branches.created", { name: created })}</p>}
      <Loading query={branches}>
        {(data) => {
          const list = data.pages.flatMap((p) => p.items);
          if (!list.length) return <p>{t("common.none")}</p>;
          return (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("branches.colName")}</th>
                    <th scope="col">{t("branches.colId")}</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((branch) => (
                    <tr key={branch.id}>
                      <td>{branch.name}</td>
                      <td>
                        <code>{branch.id}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={branches} />
    </>
  );
}
