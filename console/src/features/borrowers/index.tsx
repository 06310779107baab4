/** Borrowers: the list and search, registration, each borrower's file, and their groups. */
import { Route, Routes } from "react-router-dom";

import { BorrowerFile } from "./components/BorrowerFile";
import { BorrowersPage } from "./components/BorrowersPage";
import { RegisterBorrower } from "./components/RegisterBorrower";
import { GroupFile } from "./groups/GroupFile";
import { GroupsPage } from "./groups/GroupsPage";
import "./borrowers.css";

export default function Borrowers() {
  return (
    <Routes>
      <Route index element={<BorrowersPage />} />
      <Route path="new" element={<RegisterBorrower />} />
      <Route path="groups" element={<GroupsPage />} />
      <Route path="groups/:id" element={<GroupFile />} />
      <Route path=":id" element={<BorrowerFile />} />
    </Routes>
  );
}
