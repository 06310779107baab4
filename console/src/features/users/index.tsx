/** The institution's staff (for the platform administrator, every institution's admins): who
 * they are, their role and branch, whether they use a second factor or are disabled; new
 * accounts and the actions on each for those who manage them. */
import { useState } from "react";

import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";
import { can, useMe } from "@/lib/session";

import { useBranches, useUsers, type User } from "./api";
import { NewUserForm } from "./NewUserForm";
import { creatableRoles } from "./roles";
import { UserActions } from "./UserActions";
import "./users.css";

export default function UsersPage() {
  const me = useMe();
  const users = useUsers();
  const branches = useBranches(can(me, "branches:read"));
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<User | null>(null);
  const roles = creatableRoles(me.role);
  // The platform administrator creates admins from the institution they are for (Institutions).
  const mayCreate = can(me, "users:create") && roles.length > 0 && !!me.institution_id;
  const branchName = new Map((branches.data ?? []).map((b) => [b.id, b.name]));

  return (
    <>
      <h1>{t("users.title")}</h1>
      {mayCreate && !creating && (
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setCreating(true);
              setCreated(null);
            }}
          >
            {t("users.new")}
          </button>
        </div>
      )}
      {creating && (
        <NewUserForm
          roles={roles}
          branches={branches.data ?? []}
          onCancel={() => setCreating(false)}
          onCreated={(user) => {
            setCreating(false);
            setCreated(user);
          }}
        />
      )}
      {created && <p role="status">{t("users.created", { name: created.full_name, email: created.email })}</p>}
      <Loading query={users}>
        {(data) => {
          const list = data.pages.flatMap((p) => p.items);
          if (!list.length) return <p>{t("common.none")}</p>;
          return (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("users.colName")}</th>
                    <th scope="col">{t("users.colEmail")}</th>
                    <th scope="col">{t("users.colRole")}</th>
                    <th scope="col">{t("users.colBranch")}</th>
                    <th scope="col">{t("users.colMfa")}</th>
                    <th scope="col">{t("users.colStatus")}</th>
                    <th scope="col">{t("users.colActions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((user) => (
                    <tr key={user.id}>
                      <th scope="row">
                        {user.full_name}
                        {user.id === me.id && <span className="hint"> ({t("users.you")})</span>}
                      </th>
                      <td>{user.email}</td>
                      <td>{t(`role.${user.role}`)}</td>
                      <td>{user.branch_id ? (branchName.get(user.branch_id) ?? user.branch_id) : "—"}</td>
                      <td>{user.mfa_enabled ? t("users.mfaOn") : t("users.mfaOff")}</td>
                      <td>
                        {user.disabled ? t("users.disabled") : t("users.active")}
                        {user.must_change_password && <span className="hint"> ({t("users.mustChange")})</span>}
                      </td>
                      <td>
                        <UserActions user={user} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={users} />
    </>
  );
}
