/** The borrower's documents and KYC status on their file: upload (the server judges the file
 * by its bytes), what OCR read from each identity document and where it differs from the
 * profile, and the reviewer's verdict. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { StaffName } from "@/components/Lookups";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import {
  openDocument,
  useDocuments,
  useSetKycStatus,
  useUploadDocument,
  type Borrower,
  type BorrowerDocument,
  type DocumentKind,
  type KycStatusBody,
} from "../api";

const KINDS: DocumentKind[] = ["national_id", "passport", "proof_of_address", "business_license", "photo", "consent"];
const VERDICTS: KycStatusBody["status"][] = ["pending_review", "verified", "rejected"];

export function BorrowerDocuments({ borrower }: { borrower: Borrower }) {
  const me = useMe();
  return (
    <>
      <h2>{t("borrowers.documents")}</h2>
      <p>
        {t("borrowers.kyc")}: <strong>{t(`borrowers.kyc.${borrower.kyc_status}`)}</strong>
      </p>
      {(can(me, "borrowers:verify") || can(me, "borrowers:update")) && <KycReview borrower={borrower} />}
      <DocumentList id={borrower.id} />
      {can(me, "borrowers:update") && <Upload id={borrower.id} />}
    </>
  );
}

function KycReview({ borrower }: { borrower: Borrower }) {
  const me = useMe();
  const review = useSetKycStatus(borrower.id);
  const [status, setStatus] = useState<KycStatusBody["status"]>("pending_review");
  const [note, setNote] = useState("");
  // Verifying and rejecting are a reviewer's; others may only ask for a review.
  const allowed = VERDICTS.filter((v) => v === "pending_review" || can(me, "borrowers:verify"));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    review.mutate({ status, note: note || null });
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <SelectField
        label={t("borrowers.kyc")}
        value={status}
        error={fieldError(review.error, "status")}
        onChange={(e) => setStatus(e.target.value as KycStatusBody["status"])}
      >
        {allowed.map((v) => (
          <option key={v} value={v}>
            {t(`borrowers.kyc.${v}`)}
          </option>
        ))}
      </SelectField>
      <Field
        label={t("borrowers.kycNote")}
        value={note}
        maxLength={1000}
        error={fieldError(review.error, "note")}
        onChange={(e) => setNote(e.target.value)}
      />
      <button type="submit" className="secondary" disabled={review.isPending}>
        {t("borrowers.saveKyc")}
      </button>
      {review.isPending && <Busy label={t("common.saving")} />}
      <ErrorAlert error={review.error} fields={["status", "note"]} />
    </form>
  );
}

function Upload({ id }: { id: string }) {
  const upload = useUploadDocument(id);
  const [kind, setKind] = useState<DocumentKind>("national_id");
  const [file, setFile] = useState<File | null>(null);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!file) return;
    upload.mutate({ kind, file }, { onSuccess: () => (e.target as HTMLFormElement).reset() });
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <SelectField
        label={t("borrowers.documentKind")}
        value={kind}
        error={fieldError(upload.error, "kind")}
        onChange={(e) => setKind(e.target.value as DocumentKind)}
      >
        {KINDS.map((k) => (
          <option key={k} value={k}>
            {t(`borrowers.kind.${k}`)}
          </option>
        ))}
      </SelectField>
      <Field
        label={t("borrowers.documentFile")}
        type="file"
        accept="image/jpeg,image/png,application/pdf"
        hint={t("borrowers.documentFileHint")}
        error={fieldError(upload.error, "file")}
        onChange={(e) => setFile(e.target.files?.[0] ?? null)}
      />
      <button type="submit" disabled={upload.isPending || !file}>
        {t("borrowers.upload")}
      </button>
      {upload.isPending && <Busy label={t("borrowers.uploading")} />}
      <ErrorAlert error={upload.error} fields={["kind", "file"]} />
    </form>
  );
}

function DocumentList({ id }: { id: string }) {
  const documents = useDocuments(id);
  return (
    <Loading query={documents}>
      {(items) =>
        items.length === 0 ? (
          <p>{t("borrowers.noDocuments")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("borrowers.col.kind")}</th>
                  <th scope="col">{t("borrowers.col.file")}</th>
                  <th scope="col">{t("borrowers.col.reading")}</th>
                  <th scope="col">{t("borrowers.col.fields")}</th>
                  <th scope="col">{t("borrowers.col.mismatches")}</th>
                  <th scope="col">{t("borrowers.col.when")}</th>
                  <th scope="col">{t("borrowers.col.by")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <DocumentRow key={d.id} document={d} />
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Loading>
  );
}

function DocumentRow({ document: d }: { document: BorrowerDocument }) {
  const [error, setError] = useState<unknown>(null);
  const read = Object.entries(d.ocr.fields).filter(([, value]) => value);
  return (
    <tr>
      <th scope="row">{t(`borrowers.kind.${d.kind}`)}</th>
      <td>
        <button
          type="button"
          className="link"
          onClick={() => openDocument(d.id).catch(setError)}
          aria-label={`${t("borrowers.open")} ${d.file_name ?? t(`borrowers.kind.${d.kind}`)}`}
        >
          {d.file_name || t("borrowers.open")}
        </button>
        <ErrorAlert error={error} />
      </td>
      <td>
        {d.ocr.status === "pending" ? <Busy label={t("borrowers.ocr.pending")} /> : t(`borrowers.ocr.${d.ocr.status}`)}
      </td>
      <td>
        <ul className="changes">
          {read.map(([field, value]) => (
            <li key={field}>
              {t("borrowers.ocrField", {
                field,
                value: String(value),
                confidence: String(d.ocr.field_confidence[field] ?? "—"),
              })}
            </li>
          ))}
        </ul>
      </td>
      <td>{d.ocr.status === "done" ? d.ocr.mismatches.join(", ") || t("borrowers.noMismatch") : "—"}</td>
      <td className="date">{isoDate(d.create_time)}</td>
      <td>
        <StaffName id={d.uploaded_by} />
      </td>
    </tr>
  );
}
