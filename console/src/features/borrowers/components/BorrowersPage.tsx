/** The borrowers list, and the search over it as you type (Elasticsearch through
 * GET /v1/borrowers?q=): typo-tolerant on names, exact on national ID and phone. */
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { LoadMore } from "@/components/LoadMore";
import { useDebounced } from "@/components/useDebounced";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useBorrowerList, useBorrowerSearch, useBranches } from "../api";

type Row = { id: string; first_name: string; last_name: string; national_id: string; phone: string; branch_id: string };

export function BorrowersPage() {
  const me = useMe();
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const q = useDebounced(text.trim(), 300);

  return (
    <>
      <h1>{t("borrowers.title")}</h1>
      <div className="actions">
        {can(me, "borrowers:create") && (
          <button type="button" onClick={() => navigate("/borrowers/new")}>
            {t("borrowers.register")}
          </button>
        )}
        <Link to="/borrowers/groups">{t("groups.link")}</Link>
      </div>
      <div role="search">
        <Field
          label={t("borrowers.search")}
          type="search"
          autoComplete="off"
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
          hint={t("borrowers.searchHint")}
        />
      </div>
      {q ? <SearchResults q={q} /> : <AllBorrowers />}
    </>
  );
}

function SearchResults({ q }: { q: string }) {
  const search = useBorrowerSearch(q);
  return (
    <>
      <p role="status" aria-live="polite" className="hint">
        {search.isFetching ? t("borrowers.searching") : search.data && t("borrowers.found", { count: search.data.length, q })}
      </p>
      {search.isPending && <Busy />}
      <ErrorAlert error={search.error} />
      {search.data && search.data.length > 0 && <BorrowerTable rows={search.data} />}
    </>
  );
}

function AllBorrowers() {
  const list = useBorrowerList();
  if (list.isPending) return <Busy />;
  if (list.isError) return <ErrorAlert error={list.error} />;
  const rows = list.data.pages.flatMap((p) => p.items);
  return (
    <>
      {rows.length ? <BorrowerTable rows={rows} /> : <p>{t("borrowers.none")}</p>}
      <LoadMore query={list} />
    </>
  );
}

function BorrowerTable({ rows }: { rows: Row[] }) {
  const branches = useBranches().data;
  const branchName = (id: string) => branches?.find((b) => b.id === id)?.name ?? id;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{t("borrowers.col.name")}</th>
            <th scope="col">{t("borrowers.field.nationalId")}</th>
            <th scope="col">{t("borrowers.field.phone")}</th>
            <th scope="col">{t("borrowers.field.branch")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((b) => (
            <tr key={b.id}>
              <th scope="row">
                <Link to={`/borrowers/${b.id}`}>
                  {b.first_name} {b.last_name}
                </Link>
              </th>
              <td>{b.national_id}</td>
              <td>{b.phone}</td>
              <td>{branchName(b.branch_id)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
