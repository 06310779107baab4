/** The rule language as a risk officer writes it: the fields a condition may read (the scoring
 * service's standard catalogue, scoring_service/domain/fields.py; the API does not list it yet)
 * and one example per construct (scoring_service/domain/RULES.md). Their meanings are in the
 * text catalogue under `scorecards.field.<path>` and `scorecards.syntax.<construct>`. */

export type FieldType = "number" | "string" | "bool";

export const FIELDS: [path: string, type: FieldType][] = [
  ["borrower.monthly_income", "number"],
  ["borrower.age", "number"],
  ["borrower.household_size", "number"],
  ["borrower.gender", "string"],
  ["borrower.business_type", "string"],
  ["borrower.years_in_business", "number"],
  ["loan.principal", "number"],
  ["loan.term", "number"],
  ["loan.installment_amount", "number"],
  ["loan.purpose", "string"],
  ["history.max_days_past_due", "number"],
  ["history.loans_repaid", "number"],
  ["history.loans_written_off", "number"],
  ["history.open_loans", "number"],
  ["group.size", "number"],
  ["group.is_member", "bool"],
];

export const SYNTAX: [construct: string, example: string][] = [
  ["compare", "borrower.monthly_income >= 20000 and loan.purpose == 'inventory'"],
  ["combine", "(borrower.age >= 25 or group.is_member) and not history.loans_written_off > 0"],
  ["list", "borrower.business_type in ['retail', 'services']"],
  ["arithmetic", "loan.installment_amount / borrower.monthly_income < 0.3"],
  ["functions", "between(borrower.age, 25, 60)"],
  ["missing", "borrower.monthly_income == null"],
];
