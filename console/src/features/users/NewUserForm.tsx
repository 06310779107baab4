/** A new staff account: who, which role (only those the caller may create), the branch for
 * roles that work in one, and a first password. */
import { useState, type FormEvent } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { t } from "@/i18n";

import { useCreateUser, type Role, type User } from "./api";
import { worksInBranch } from "./roles";

const FIELDS = ["full_name", "email", "role", "branch_id", "password"];

export function NewUserForm({
  roles,
  branches,
  onCreated,
  onCancel,
}: {
  roles: Role[];
  branches: { id: string; name: string }[];
  onCreated: (user: User) => void;
  onCancel: () => void;
}) {
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>(roles[0]);
  const [branchId, setBranchId] = useState("");
  const [password, setPassword] = useState("");
  const create = useCreateUser();
  const problem = create.error;
  const needsBranch = worksInBranch(role);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(
      {
        full_name: fullName,
        email,
        role,
        password,
        ...(needsBranch ? { branch_id: branchId } : {}),
      },
      { onSuccess: onCreated },
    );
  }

  return (
    <form onSubmit={submit} aria-labelledby="new-user-title" className="users-form">
      <h2 id="new-user-title">{t("users.newTitle")}</h2>
      <Field
        label={t("users.fullName")}
        required
        maxLength={120}
        autoComplete="off"
        value={fullName}
        onChange={(e) => setFullName(e.target.value)}
        error={fieldError(problem, "full_name")}
      />
      <Field
        label={t("users.email")}
        type="email"
        required
        maxLength={254}
        autoComplete="off"
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        error={fieldError(problem, "email")}
      />
      <SelectField
        label={t("users.role")}
        value={role}
        onChange={(e) => setRole(e.target.value as Role)}
        error={fieldError(problem, "role")}
      >
        {roles.map((r) => (
          <option key={r} value={r}>
            {t(`role.${r}`)}
          </option>
        ))}
      </SelectField>
      {needsBranch && (
        <SelectField
          label={t("users.branch")}
          required
          value={branchId}
          onChange={(e) => setBranchId(e.target.value)}
          hint={branches.length ? undefined : t("users.noBranches")}
          error={fieldError(problem, "branch_id")}
        >
          <option value="">{t("users.chooseBranch")}</option>
          {branches.map((b) => (
            <option key={b.id} value={b.id}>
              {b.name}
            </option>
          ))}
        </SelectField>
      )}
      <Field
        label={t("users.password")}
        type="password"
        required
        maxLength={1024}
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        hint={t("users.passwordHint")}
        error={fieldError(problem, "password")}
      />
      <div className="actions">
        <button type="submit" disabled={create.isPending}>
          {t("users.create")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {create.isPending && <Busy label={t("users.creating")} />}
      <ErrorAlert error={problem} fields={needsBranch ? FIELDS : FIELDS.filter((f) => f !== "branch_id")} />
    </form>
  );
}
