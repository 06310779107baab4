/** Which roles a role may create and manage. The server's table (CREATABLE_ROLES in
 * shared/permissions.py) decides and refuses anything else; /v1/me does not carry it, so the
 * console mirrors it to offer only what will be accepted. */
import type { Role } from "./api";

/** In the order a role select offers them: the most common first. */
const STAFF: Role[] = ["agent", "branch_manager", "risk_officer", "auditor", "admin"];

export function creatableRoles(role: Role): Role[] {
  if (role === "platform_admin") return ["admin"];
  if (role === "admin") return STAFF;
  return [];
}

export function worksInBranch(role: Role): boolean {
  return role === "agent" || role === "branch_manager";
}
