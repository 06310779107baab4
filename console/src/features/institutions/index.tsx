/** The platform administrator's screen: every institution, a new one, and its first admin
 * (asked for right after the institution is created; more from each row). */
import { useState } from "react";

import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";

import { useInstitutions, type Institution } from "./api";
import { AdminForm, NewInstitutionForm } from "./forms";
import "./institutions.css";

type Step = { kind: "list" } | { kind: "new" } | { kind: "admin"; institution: Institution };

export default function InstitutionsPage() {
  const institutions = useInstitutions();
  const [step, setStep] = useState<Step>({ kind: "list" });
  const [done, setDone] = useState("");

  return (
    <>
      <h1>{t("institutions.title")}</h1>
      {step.kind === "list" && (
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setStep({ kind: "new" });
              setDone("");
            }}
          >
            {t("institutions.new")}
          </button>
        </div>
      )}
      {step.kind === "new" && (
        <NewInstitutionForm
          onCancel={() => setStep({ kind: "list" })}
          onCreated={(institution) => setStep({ kind: "admin", institution })}
        />
      )}
      {step.kind === "admin" && (
        <AdminForm
          key={step.institution.id}
          institution={step.institution}
          onCancel={() => setStep({ kind: "list" })}
          onCreated={(email) => {
            setDone(t("institutions.adminCreated", { email, name: step.institution.name }));
            setStep({ kind: "list" });
          }}
        />
      )}
      {done && <p role="status">{done}</p>}
      <Loading query={institutions}>
        {(data) => {
          const list = data.pages.flatMap((p) => p.items);
          if (!list.length) return <p>{t("common.none")}</p>;
          return (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("institutions.colName")}</th>
                    <th scope="col">{t("institutions.colCurrency")}</th>
                    <th scope="col">{t("institutions.colId")}</th>
                    <th scope="col">{t("institutions.colActions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((institution) => (
                    <tr key={institution.id}>
                      <td>{institution.name}</td>
                      <td>{institution.currency}</td>
                      <td>
                        <code>{institution.id}</code>
                      </td>
                      <td>
                        <button
                          type="button"
                          className="secondary"
                          onClick={() => {
                            setStep({ kind: "admin", institution });
                            setDone("");
                          }}
                        >
                          {t("institutions.addAdmin")}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={institutions} />
    </>
  );
}
