/** Loans: the list, a new application with its quote, and each loan's page. */
import { Route, Routes } from "react-router-dom";

import { LoanPage } from "./components/LoanPage";
import { LoansPage } from "./components/LoansPage";
import { NewLoan } from "./components/NewLoan";
import "./loans.css";

export default function Loans() {
  return (
    <Routes>
      <Route index element={<LoansPage />} />
      <Route path="new" element={<NewLoan />} />
      <Route path=":id" element={<LoanPage />} />
    </Routes>
  );
}
