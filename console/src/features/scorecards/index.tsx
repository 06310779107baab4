/** Scorecards: the list of versions, a version's page, and the editor of a new draft. */
import { Route, Routes } from "react-router-dom";

import { ScorecardEditor } from "./ScorecardEditor";
import { ScorecardList } from "./ScorecardList";
import { ScorecardPage } from "./ScorecardPage";
import "./scorecards.css";

export default function Scorecards() {
  return (
    <Routes>
      <Route index element={<ScorecardList />} />
      <Route path="new" element={<ScorecardEditor />} />
      <Route path=":id" element={<ScorecardPage />} />
    </Routes>
  );
}
