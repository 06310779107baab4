/** Borrowers: the list and search, registration, and each borrower's file. */
import { Route, Routes } from "react-router-dom";

import { BorrowerFile } from "./components/BorrowerFile";
import { BorrowersPage } from "./components/BorrowersPage";
import { RegisterBorrower } from "./components/RegisterBorrower";
import "./borrowers.css";

export default function Borrowers() {
  return (
    <Routes>
      <Route index element={<BorrowersPage />} />
      <Route path="new" element={<RegisterBorrower />} />
      <Route path=":id" element={<BorrowerFile />} />
    </Routes>
  );
}
