/** The browser's checks of a registration, the same the server makes (BorrowerBody), so that
 * most mistakes are said before anything is sent. Messages are catalogue keys. */

export type Values = {
  first_name: string;
  last_name: string;
  national_id: string;
  phone: string;
  date_of_birth: string;
  branch_id: string;
  monthly_income: string;
  business_type: string;
  gender: string;
  household_size: string;
  consent: boolean;
  /** Channel consent for messages (notification preferences), recorded once registered. */
  sms: boolean;
  /** "en", "sw", or "" for the institution's default. */
  language: string;
};

export type Errors = Partial<Record<keyof Values, string>>;

/** The form's two steps, in order, with the fields each holds. */
export const STEPS: { title: string; fields: (keyof Values)[] }[] = [
  { title: "borrowers.step.identity", fields: ["first_name", "last_name", "national_id", "phone", "date_of_birth", "branch_id"] },
  { title: "borrowers.step.livelihood", fields: ["monthly_income", "business_type", "gender", "household_size", "consent"] },
];

// As the server's rule: no digits, control characters or markup brackets.
const NAME = /^[^\d\x00-\x1f<>{}[\]\\]{1,80}$/;
const NATIONAL_ID = /^[A-Za-z0-9]+(?:[- ][A-Za-z0-9]+)*$/;
const PHONE = /^\+[1-9]\d{6,14}$/;
const AMOUNT = /^\d+(\.\d{1,2})?$/;

/** The latest birth date of an adult (18 today), as YYYY-MM-DD. */
export function adultBornBy(today: string): string {
  const [y, m, d] = today.split("-");
  return `${Number(y) - 18}-${m}-${d}`;
}

export function validate(v: Values, today: string): Errors {
  const errors: Errors = {};
  const required: (keyof Values)[] = ["first_name", "last_name", "national_id", "phone", "date_of_birth", "branch_id"];
  for (const f of required) if (!String(v[f]).trim()) errors[f] = "borrowers.error.required";
  for (const f of ["first_name", "last_name"] as const)
    if (!errors[f] && !NAME.test(v[f].trim())) errors[f] = "borrowers.error.name";
  const id = v.national_id.trim();
  if (!errors.national_id && (!NATIONAL_ID.test(id) || id.length < 5 || id.length > 25))
    errors.national_id = "borrowers.error.nationalId";
  if (!errors.phone && !PHONE.test(v.phone.replace(/\s/g, ""))) errors.phone = "borrowers.error.phone";
  if (!errors.date_of_birth && v.date_of_birth > adultBornBy(today)) errors.date_of_birth = "borrowers.error.adult";
  if (v.monthly_income.trim() && !AMOUNT.test(v.monthly_income.trim())) errors.monthly_income = "borrowers.error.amount";
  const size = v.household_size.trim();
  if (size && !(/^\d+$/.test(size) && Number(size) >= 1 && Number(size) <= 50))
    errors.household_size = "borrowers.error.household";
  if (!v.consent) errors.consent = "borrowers.error.consent";
  return errors;
}

/** The first step holding one of `fields`, or -1. */
export function stepOf(fields: string[]): number {
  return STEPS.findIndex((s) => s.fields.some((f) => fields.includes(f)));
}
