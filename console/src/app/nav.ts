/** The sections of the console, in the order of the navigation, each shown to the roles whose
 * permissions (from GET /v1/me) let them use it. The server still checks every call. */
import { t } from "@/i18n";

export const ALERTS_PATH = "/alerts";

export type Section = { path: string; label: string; permission: string };

export function sections(): Section[] {
  return [
    { path: "/dashboard", label: t("nav.dashboard"), permission: "reports:read" },
    { path: "/borrowers", label: t("nav.borrowers"), permission: "borrowers:read" },
    { path: "/loans", label: t("nav.loans"), permission: "loans:read" },
    { path: "/collections", label: t("nav.collections"), permission: "repayments:read" },
    { path: "/reports", label: t("nav.reports"), permission: "reports:read" },
    { path: ALERTS_PATH, label: t("nav.alerts"), permission: "alerts:read" },
    { path: "/approvals", label: t("nav.approvals"), permission: "loans:approve" },
    { path: "/suspense", label: t("nav.suspense"), permission: "repayments:reverse" },
    { path: "/scorecards", label: t("nav.scorecards"), permission: "scorecards:read" },
    { path: "/audit-log", label: t("nav.audit"), permission: "audit:read" },
    { path: "/users", label: t("nav.users"), permission: "users:read" },
    { path: "/branches", label: t("nav.branches"), permission: "branches:read" },
    { path: "/settings", label: t("nav.settings"), permission: "settings:read" },
    { path: "/institutions", label: t("nav.institutions"), permission: "institutions:create" },
  ];
}
