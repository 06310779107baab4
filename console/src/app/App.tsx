/** Routes, lazily loaded per feature so the first screen stays small. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, type ComponentType } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";

import { ApiProblem } from "@/api/problem";
import { Busy } from "@/components/Feedback";
import { MfaEnrolment, SignIn, WorkOffline } from "@/features/auth/SignIn";
import { useOnline } from "@/lib/online";
import { can, useSession } from "@/lib/session";

import { sections } from "./nav";
import { Shell } from "./Shell";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      // A refusal will not change by asking again; a network failure may.
      retry: (count, error) => !(error instanceof ApiProblem && error.status < 500) && count < 2,
    },
  },
});

const ChangePassword = lazy(() => import("@/features/users/ChangePassword"));
// Collections recorded offline outlive the session: the sign-in page says they wait.
const DeviceQueueStatus = lazy(() => import("@/features/collections/SyncStatus"));

const pages: Record<string, ComponentType> = {
  "/dashboard": lazy(() => import("@/features/dashboard")),
  "/borrowers/*": lazy(() => import("@/features/borrowers")),
  "/loans/*": lazy(() => import("@/features/loans")),
  "/collections": lazy(() => import("@/features/collections")),
  "/reports": lazy(() => import("@/features/reports")),
  "/alerts": lazy(() => import("@/features/alerts")),
  "/approvals": lazy(() => import("@/features/approvals")),
  "/suspense": lazy(() => import("@/features/suspense")),
  "/scorecards/*": lazy(() => import("@/features/scorecards")),
  "/audit-log": lazy(() => import("@/features/audit")),
  "/users": lazy(() => import("@/features/users")),
  "/branches": lazy(() => import("@/features/branches")),
  "/settings": lazy(() => import("@/features/settings")),
  "/institutions": lazy(() => import("@/features/institutions")),
};

function Home() {
  const { me } = useSession();
  const first = sections().find((s) => can(me, s.permission));
  return <Navigate to={first?.path ?? "/dashboard"} replace />;
}

export function App() {
  const { me, mfaEnrolmentRequired } = useSession();
  const online = useOnline();
  let content;
  if (!me)
    content = (
      <>
        <SignIn />
        <Suspense fallback={null}>
          <DeviceQueueStatus />
        </Suspense>
        {!online && <WorkOffline />}
      </>
    );
  else if (mfaEnrolmentRequired) content = <MfaEnrolment />;
  else if (me.must_change_password)
    content = (
      <Suspense fallback={<Busy />}>
        <ChangePassword />
      </Suspense>
    );
  else
    content = (
      <BrowserRouter>
        <Suspense fallback={<Busy />}>
          <Routes>
            <Route element={<Shell />}>
              <Route index element={<Home />} />
              {Object.entries(pages).map(([path, Page]) => (
                <Route key={path} path={path} element={<Page />} />
              ))}
              <Route path="*" element={<Home />} />
            </Route>
          </Routes>
        </Suspense>
      </BrowserRouter>
    );
  return <QueryClientProvider client={queries}>{content}</QueryClientProvider>;
}
