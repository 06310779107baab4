import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { ok, refused, renderScreen, serve, signInAs, type Init, type Reply } from "@/test/api";

import SettingsPage from "./index";
import { checkRule, ruleBodyOf, ruleDraftOf } from "./AlertRulesSection";
import { fractionToPercent, isTimeZone, localDateTime, percentToFraction, smsLength } from "./notify";

const ADMIN = [
  "settings:read",
  "settings:manage",
  "institutions:read",
  "branches:read",
  "schedule:read",
  "schedule:manage",
  "webhooks:read",
  "webhooks:manage",
  "alert_rules:read",
  "alert_rules:manage",
  "notifications:read",
  "notifications:manage",
];
const MANAGER = ["settings:read", "institutions:read", "branches:read", "schedule:read", "alert_rules:read", "notifications:read"];

const schedule = {
  institution_id: "inst_1",
  time_zone: "Africa/Nairobi",
  close_of_business_time: "18:00",
  reminder_days_before: 2,
  quiet_hours_start: "20:00",
  quiet_hours_end: "07:00",
  default_language: "en",
  enabled: false,
  last_run: null,
  last_business_date: null,
  next_run: null,
  next_business_date: null,
  update_time: null,
};

const endpoint = {
  id: "whe_1",
  url: "https://erp.example/hooks",
  event_types: ["loan.disbursed"],
  status: "disabled",
  description: null,
  disabled_reason: "no 2xx answer for 27 hours",
  create_time: "2026-03-31T09:30:00Z",
};

const rule = {
  id: "alr_1",
  name: "PAR30 above 5%",
  trigger: "branch_par30",
  days: null,
  ratio: "0.05",
  hours: null,
  amount: null,
  roles: ["branch_manager"],
  branch_ids: [],
  channels: ["email"],
  enabled: true,
  create_time: "2026-03-31T09:30:00Z",
  created_by: "usr_me",
};

function template(kind: string, channel: string, language: string, own = false) {
  return {
    kind,
    channel,
    language,
    subject: channel === "email" ? "Your loan" : null,
    body: language === "sw" ? "Mpendwa {{ first_name }}, mkopo wako umeidhinishwa." : "Dear {{ first_name }}, approved.",
    default: !own,
    variables: ["first_name", "principal", "loan_id"],
    update_time: own ? "2026-03-30T10:00:00Z" : null,
    updated_by: own ? "usr_me" : null,
  };
}

const templates = ["installment_due", "loan_approved"].flatMap((k) =>
  ["sms", "email"].flatMap((c) => ["en", "sw"].map((l) => template(k, c, l, k === "installment_due" && c === "sms" && l === "en"))),
);

type Routes = Record<string, (init: Init) => Reply | Promise<Reply>>;

function gateway(extra: Routes = {}) {
  return serve({
    "GET /v1/institutions/{institution_id}": () => ok({ id: "inst_1", name: "Umoja", currency: "KES" }),
    "GET /v1/institutions/{institution_id}/security-policy": () =>
      ok({ institution_id: "inst_1", mfa_required_roles: [], update_time: null, updated_by: null }),
    "GET /v1/institutions/{institution_id}/loan-settings": () =>
      ok({ institution_id: "inst_1", approval_limits: {}, delinquency_buckets: [], business_date: null }),
    "GET /v1/institutions/{institution_id}/schedule": () => ok(schedule),
    "PUT /v1/institutions/{institution_id}/schedule": (init) =>
      ok({
        ...schedule,
        ...(init.body as object),
        next_run: "2026-04-01T15:00:00Z",
        next_business_date: "2026-04-01",
        update_time: "2026-03-31T10:00:00Z",
      }),
    "GET /v1/webhooks": () => ok({ items: [endpoint], next_page_token: "" }),
    "GET /v1/webhooks/{webhook_id}/deliveries": () =>
      ok({
        items: [
          {
            id: "msg_1",
            endpoint_id: "whe_1",
            event_type: "loan.disbursed",
            event_id: "evt_1",
            status: "failed",
            attempts: 3,
            response_status: 503,
            create_time: "2026-03-31T09:30:00Z",
            next_attempt_time: null,
            attempt_log: [{ time: "2026-03-31T09:30:00Z", response_status: 503, error: null, duration_ms: 4 }],
          },
        ],
        next_page_token: "",
      }),
    "GET /v1/alert-rules": () => ok({ items: [rule], next_page_token: "" }),
    "GET /v1/branches": () =>
      ok({ items: [{ id: "br_1", name: "Kisumu", institution_id: "inst_1" }, { id: "br_2", name: "Nakuru", institution_id: "inst_1" }], next_page_token: "" }),
    "GET /v1/notification-templates": () => ok({ items: templates, next_page_token: "" }),
    ...extra,
  });
}

const sent = (calls: ReturnType<typeof gateway>, route: string) => calls.filter((c) => c.route === route);

describe("notification settings, pure parts", () => {
  it("turns a percentage into the API's fraction and back, exactly", () => {
    expect(percentToFraction("5")).toBe("0.05");
    expect(percentToFraction("12.5")).toBe("0.125");
    expect(percentToFraction("0.5")).toBe("0.005");
    expect(percentToFraction("100")).toBe("1");
    expect(fractionToPercent("0.05")).toBe("5");
    expect(fractionToPercent("0.125")).toBe("12.5");
    expect(fractionToPercent("1.0000")).toBe("100");
  });

  it("counts SMS parts: 160/153 in GSM-7, 70/67 outside it", () => {
    expect(smsLength("")).toMatchObject({ characters: 0, parts: 0 });
    expect(smsLength("a".repeat(160))).toMatchObject({ parts: 1, encoding: "gsm7" });
    expect(smsLength("a".repeat(161))).toMatchObject({ parts: 2, perPart: 153 });
    expect(smsLength("a".repeat(307))).toMatchObject({ parts: 3 });
    expect(smsLength("€".repeat(80))).toMatchObject({ characters: 160, parts: 1 }); // two septets each
    expect(smsLength("ā".repeat(70))).toMatchObject({ parts: 1, encoding: "ucs2" });
    expect(smsLength("ā".repeat(71))).toMatchObject({ parts: 2, perPart: 67 });
  });

  it("shows an instant in the institution's zone", () => {
    expect(localDateTime("2026-03-31T15:00:00Z", "Africa/Nairobi")).toBe("2026-03-31 18:00");
    expect(isTimeZone("Africa/Nairobi")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });

  it("keeps a rule's threshold under the field its trigger names", () => {
    const draft = ruleDraftOf(rule as never);
    expect(draft.threshold).toBe("5");
    expect(ruleBodyOf(draft)).toMatchObject({ trigger: "branch_par30", ratio: "0.05", days: null, amount: null });
    expect(checkRule({ ...draft, trigger: "days_past_due", threshold: "1.5" })).toEqual({
      days: "Enter a whole number (1 or more).",
    });
    expect(checkRule({ ...draft, trigger: "webhook_failed", threshold: "" })).toEqual({});
  });
});

describe("schedule", () => {
  it("refuses a bad time beside its field, then saves and shows the next run in both zones", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway();
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Schedule" }));
    const close = await section.findByLabelText("Close of business time");
    expect(section.getByLabelText("Time zone")).toHaveValue("Africa/Nairobi");
    expect(section.getByText("None: the close of business does not run on its own.")).toBeInTheDocument();
    await userEvent.clear(close);
    await userEvent.type(close, "25:61");
    await userEvent.click(section.getByRole("button", { name: "Save schedule" }));
    expect(close).toHaveAttribute("aria-invalid", "true");
    expect(close).toHaveAccessibleDescription(expect.stringContaining("Enter a time as HH:MM"));
    expect(sent(calls, "PUT /v1/institutions/{institution_id}/schedule")).toHaveLength(0);

    await userEvent.clear(close);
    await userEvent.type(close, "18:30");
    await userEvent.clear(section.getByLabelText("Quiet hours start"));
    await userEvent.clear(section.getByLabelText("Quiet hours end"));
    await userEvent.selectOptions(section.getByLabelText("Default language"), "Kiswahili");
    await userEvent.click(section.getByLabelText("Run the close of business every day"));
    await userEvent.click(section.getByRole("button", { name: "Save schedule" }));
    expect(await section.findByText(/Business date 2026-04-01: 2026-04-01 18:00 \(Africa\/Nairobi\), 2026-04-01 15:00 UTC/)).toBeInTheDocument();
    expect(sent(calls, "PUT /v1/institutions/{institution_id}/schedule")[0].init.body).toEqual({
      time_zone: "Africa/Nairobi",
      close_of_business_time: "18:30",
      reminder_days_before: 2,
      quiet_hours_start: null,
      quiet_hours_end: null,
      default_language: "sw",
      enabled: true,
    });
  });

  it("shows the server's refusal beside the field it names", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    gateway({
      "PUT /v1/institutions/{institution_id}/schedule": () =>
        refused(422, {
          detail: "invalid",
          errors: [{ field: "time_zone", message: "must be an IANA time zone such as Africa/Nairobi" }],
        }),
    });
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Schedule" }));
    await userEvent.click(await section.findByRole("button", { name: "Save schedule" }));
    const zone = section.getByLabelText("Time zone");
    await waitFor(() => expect(zone).toHaveAccessibleDescription(expect.stringContaining("must be an IANA time zone")));
    expect(section.queryByRole("alert")).toBeNull();
  });

  it("is read-only for a branch manager, who sees no webhooks and changes nothing", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER });
    const calls = gateway();
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Schedule" }));
    expect(await section.findByLabelText("Close of business time")).toHaveAttribute("readonly");
    expect(section.getByLabelText("Time zone")).toHaveAttribute("readonly");
    expect(section.getByLabelText("Default language")).toBeDisabled();
    expect(section.getByLabelText("Run the close of business every day")).toBeDisabled();
    expect(section.queryByRole("button")).toBeNull();
    expect(screen.queryByRole("heading", { name: "Webhooks" })).toBeNull();
    expect(calls.some((c) => c.route.includes("webhooks"))).toBe(false);
    const rules = within(screen.getByRole("region", { name: "Alert rules" }));
    expect(await rules.findByRole("rowheader", { name: "PAR30 above 5%" })).toBeInTheDocument();
    expect(rules.queryByRole("button")).toBeNull();
    const templatesRegion = within(screen.getByRole("region", { name: "Message templates" }));
    await userEvent.click(
      await templatesRegion.findByRole("button", { name: "View template Loan approved, SMS, Kiswahili" }),
    );
    expect(templatesRegion.getByLabelText("Body")).toHaveAttribute("readonly");
    expect(templatesRegion.queryByRole("button", { name: "Save template" })).toBeNull();
  });
});

describe("webhooks", () => {
  it("checks the form, then shows the secret once with a warning", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    let listed: object[] = [endpoint];
    const calls = gateway({
      "GET /v1/webhooks": () => ok({ items: listed, next_page_token: "" }),
      "POST /v1/webhooks": (init) => {
        const body = init.body as { url: string; event_types: string[] };
        const made = { ...endpoint, id: "whe_2", status: "enabled", disabled_reason: null, ...body };
        listed = [...listed, made];
        return ok({ ...made, secret: "whsec_c2VjcmV0LXNob3duLW9uY2U=" }, 201);
      },
    });
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Webhooks" }));
    const form = within(await section.findByRole("form", { name: "Add webhook" }));
    await userEvent.type(form.getByLabelText("URL"), "erp.example");
    await userEvent.click(form.getByRole("button", { name: "Add webhook" }));
    expect(form.getByLabelText("URL")).toHaveAccessibleDescription(expect.stringContaining("Enter an absolute https URL"));
    expect(form.getByRole("group", { name: "Events" })).toHaveAccessibleDescription("Choose at least one event.");
    expect(sent(calls, "POST /v1/webhooks")).toHaveLength(0);

    await userEvent.clear(form.getByLabelText("URL"));
    await userEvent.type(form.getByLabelText("URL"), "https://erp.example/new");
    await userEvent.click(form.getByRole("checkbox", { name: "payment.posted" }));
    await userEvent.click(form.getByRole("checkbox", { name: "loan.approved" }));
    await userEvent.type(form.getByLabelText("Description"), "ERP");
    await userEvent.click(form.getByRole("button", { name: "Add webhook" }));
    const secret = within(await section.findByRole("region", { name: "Signing secret for https://erp.example/new" }));
    expect(secret.getByText("whsec_c2VjcmV0LXNob3duLW9uY2U=")).toBeInTheDocument();
    expect(secret.getByText(/it will not be shown again/)).toBeInTheDocument();
    await userEvent.click(secret.getByRole("button", { name: "Copy secret" }));
    expect(writeText).toHaveBeenCalledWith("whsec_c2VjcmV0LXNob3duLW9uY2U=");
    expect(await secret.findByRole("status")).toHaveTextContent("Copied.");
    expect(sent(calls, "POST /v1/webhooks")[0].init.body).toEqual({
      url: "https://erp.example/new",
      event_types: ["loan.approved", "payment.posted"],
      description: "ERP",
    });
    // The list shows the new endpoint, never its secret; once dismissed, the secret is gone.
    expect(await section.findByRole("rowheader", { name: "https://erp.example/new" })).toBeInTheDocument();
    await userEvent.click(secret.getByRole("button", { name: "I have kept it" }));
    expect(screen.queryByText("whsec_c2VjcmV0LXNob3duLW9uY2U=")).toBeNull();
  });

  it("shows the server's refusal of the URL beside it", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    gateway({
      "POST /v1/webhooks": () =>
        refused(422, { detail: "invalid", errors: [{ field: "url", message: "resolves to a private address" }] }),
    });
    renderScreen(<SettingsPage />);
    const form = within(await screen.findByRole("form", { name: "Add webhook" }));
    await userEvent.type(form.getByLabelText("URL"), "https://10.0.0.1/x");
    await userEvent.click(form.getByRole("checkbox", { name: "loan.disbursed" }));
    await userEvent.click(form.getByRole("button", { name: "Add webhook" }));
    await waitFor(() =>
      expect(form.getByLabelText("URL")).toHaveAccessibleDescription(expect.stringContaining("resolves to a private address")),
    );
    expect(form.queryByRole("alert")).toBeNull();
  });

  it("shows why an endpoint was disabled, its deliveries, and enables, replays and deletes", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "POST /v1/webhooks/{webhook_id}/enable": () => ok({ ...endpoint, status: "enabled", disabled_reason: null }),
      "POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay": () =>
        ok({ id: "msg_1", status: "succeeded", attempts: 4, attempt_log: [] }),
      "DELETE /v1/webhooks/{webhook_id}": () => ok(undefined, 204),
    });
    renderScreen(<SettingsPage />);
    const row = within((await screen.findByRole("rowheader", { name: "https://erp.example/hooks" })).closest("tr")!);
    expect(row.getByText("Disabled: no 2xx answer for 27 hours")).toBeInTheDocument();
    await userEvent.click(row.getByRole("button", { name: "Deliveries" }));
    const deliveries = within(await screen.findByRole("table", { name: "Deliveries to https://erp.example/hooks" }));
    const delivery = within(deliveries.getAllByRole("row")[1]);
    expect(delivery.getByText("Failed")).toBeInTheDocument();
    expect(delivery.getByText("503")).toBeInTheDocument();
    await userEvent.click(delivery.getByRole("button", { name: "Replay" }));
    expect(await screen.findByText("Sent again: Succeeded.")).toBeInTheDocument();
    await userEvent.click(row.getByRole("button", { name: "Enable" }));
    expect(await screen.findByText("https://erp.example/hooks receives events again.")).toBeInTheDocument();
    await userEvent.click(row.getByRole("button", { name: "Delete" }));
    const confirm = screen.getByRole("alertdialog", { name: /Delete the webhook to https:\/\/erp.example\/hooks\?/ });
    await userEvent.click(within(confirm).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(sent(calls, "DELETE /v1/webhooks/{webhook_id}")).toHaveLength(1));
    expect(sent(calls, "DELETE /v1/webhooks/{webhook_id}")[0].init.params?.path).toEqual({ webhook_id: "whe_1" });
  });
});

describe("alert rules", () => {
  it("shows only the threshold the trigger needs and sends a percentage as a fraction", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({ "POST /v1/alert-rules": (init) => ok({ ...rule, id: "alr_2", ...(init.body as object) }, 201) });
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Alert rules" }));
    const row = within(await section.findByRole("row", { name: /PAR30 above 5%/ }));
    expect(row.getByText("5%")).toBeInTheDocument();
    expect(row.getByText("Admin, Branch manager")).toBeInTheDocument();
    await userEvent.click(section.getByRole("button", { name: "New alert rule" }));
    const form = within(section.getByRole("form", { name: "New alert rule" }));
    expect(form.getByLabelText("Days")).toBeInTheDocument();
    await userEvent.selectOptions(form.getByLabelText("Trigger"), "Webhook endpoint failed");
    expect(form.queryByLabelText("Days")).toBeNull();
    expect(form.queryByLabelText("Ratio")).toBeNull();
    await userEvent.selectOptions(form.getByLabelText("Trigger"), "Branch PAR30");
    await userEvent.type(form.getByLabelText("Ratio"), "five");
    await userEvent.click(form.getByRole("button", { name: "Save rule" }));
    expect(form.getByLabelText("Name")).toHaveAccessibleDescription("Required.");
    expect(form.getByLabelText("Ratio")).toHaveAccessibleDescription(expect.stringContaining("Enter a percentage"));
    expect(sent(calls, "POST /v1/alert-rules")).toHaveLength(0);

    await userEvent.type(form.getByLabelText("Name"), "PAR30 over 2.5%");
    await userEvent.clear(form.getByLabelText("Ratio"));
    await userEvent.type(form.getByLabelText("Ratio"), "2.5");
    await userEvent.click(form.getByRole("checkbox", { name: "Risk officer" }));
    await userEvent.selectOptions(form.getByLabelText("Branches"), ["Nakuru"]);
    await userEvent.click(form.getByRole("checkbox", { name: "Email" }));
    await userEvent.click(form.getByRole("button", { name: "Save rule" }));
    expect(await section.findByText("Alert rule PAR30 over 2.5% saved.")).toBeInTheDocument();
    expect(sent(calls, "POST /v1/alert-rules")[0].init.body).toEqual({
      name: "PAR30 over 2.5%",
      trigger: "branch_par30",
      days: null,
      ratio: "0.025",
      hours: null,
      amount: null,
      roles: ["risk_officer"],
      branch_ids: ["br_2"],
      channels: ["email"],
      enabled: true,
    });
  });

  it("edits a rule, shows the server's error beside its field, and deletes after asking", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "PUT /v1/alert-rules/{rule_id}": () =>
        refused(422, { detail: "invalid", errors: [{ field: "amount", message: "must be positive" }] }),
      "DELETE /v1/alert-rules/{rule_id}": () => ok(undefined, 204),
    });
    renderScreen(<SettingsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Edit alert rule PAR30 above 5%" }));
    const form = within(screen.getByRole("form", { name: "Edit alert rule PAR30 above 5%" }));
    expect(form.getByLabelText("Ratio")).toHaveValue("5");
    await userEvent.selectOptions(form.getByLabelText("Trigger"), "Large disbursement");
    expect(form.getByLabelText("Amount")).toHaveAccessibleDescription(expect.stringContaining("In KES"));
    await userEvent.type(form.getByLabelText("Amount"), "0");
    await userEvent.click(form.getByRole("button", { name: "Save rule" }));
    await waitFor(() => expect(form.getByLabelText("Amount")).toHaveAccessibleDescription(expect.stringContaining("must be positive")));
    expect(sent(calls, "PUT /v1/alert-rules/{rule_id}")[0].init.params?.path).toEqual({ rule_id: "alr_1" });
    await userEvent.click(form.getByRole("button", { name: "Delete rule" }));
    await userEvent.click(
      within(screen.getByRole("alertdialog", { name: /Delete the alert rule PAR30 above 5%/ })).getByRole("button", {
        name: "Confirm",
      }),
    );
    expect(await screen.findByText("Alert rule PAR30 above 5% deleted.")).toBeInTheDocument();
  });
});

describe("message templates", () => {
  it("lists which texts are the institution's own and which the default", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    gateway();
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Message templates" }));
    const cell = (name: string) => section.getByRole("button", { name: `Edit template ${name}` }).closest("td")!;
    await section.findByRole("rowheader", { name: "Installment due" });
    expect(cell("Installment due, SMS, English")).toHaveTextContent("Institution's own");
    expect(cell("Installment due, Email, English")).toHaveTextContent("Default");
    expect(cell("Loan approved, SMS, Kiswahili")).toHaveTextContent("Default");
  });

  it("shows a refused variable beside Body naming the line, counts SMS parts, saves and restores", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "PUT /v1/notification-templates/{kind}/{channel}/{language}": (init) => {
        const body = (init.body as { body: string }).body;
        if (body.includes("jina"))
          return refused(422, {
            detail: "the template is invalid",
            errors: [{ field: "body", message: "line 2: unknown variable `jina`; it may use first_name, principal, loan_id" }],
          });
        return ok({ ...template("loan_approved", "sms", "sw", true), body });
      },
      "DELETE /v1/notification-templates/{kind}/{channel}/{language}": () => ok(template("loan_approved", "sms", "sw")),
    });
    renderScreen(<SettingsPage />);
    const section = within(await screen.findByRole("region", { name: "Message templates" }));
    await userEvent.click(await section.findByRole("button", { name: "Edit template Loan approved, SMS, Kiswahili" }));
    const editor = within(section.getByRole("form", { name: "Loan approved, SMS, Kiswahili" }));
    expect(editor.queryByLabelText("Subject")).toBeNull();
    expect(editor.getByText("{{ principal }}")).toBeInTheDocument();
    expect(editor.queryByRole("button", { name: "Restore default" })).toBeNull();
    const body = editor.getByLabelText("Body");
    await userEvent.clear(body);
    await userEvent.type(body, "Hongera!{enter}{{{{ jina }}");
    await userEvent.click(editor.getByRole("button", { name: "Save template" }));
    await waitFor(() => expect(body).toHaveAccessibleDescription(expect.stringContaining("line 2: unknown variable `jina`")));
    expect(body).toHaveAttribute("aria-invalid", "true");
    expect(editor.queryByRole("alert")).toBeNull();

    await userEvent.clear(body);
    await userEvent.type(body, "a".repeat(161));
    expect(body).toHaveAccessibleDescription(expect.stringContaining("161 characters, 2 SMS parts"));
    await userEvent.clear(body);
    await userEvent.type(body, "Hongera {{{{ first_name }}!");
    await userEvent.click(editor.getByRole("button", { name: "Save template" }));
    expect(await editor.findByText("Template saved: used from the next message on.")).toBeInTheDocument();
    expect(sent(calls, "PUT /v1/notification-templates/{kind}/{channel}/{language}")[1].init).toMatchObject({
      params: { path: { kind: "loan_approved", channel: "sms", language: "sw" } },
      body: { body: "Hongera {{ first_name }}!" },
    });
    const cell = section.getByRole("button", { name: "Edit template Loan approved, SMS, Kiswahili" }).closest("td")!;
    expect(cell).toHaveTextContent("Institution's own");

    await userEvent.click(editor.getByRole("button", { name: "Restore default" }));
    await userEvent.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Confirm" }));
    expect(await editor.findByText("The default text is used again.")).toBeInTheDocument();
    expect(body).toHaveValue("Mpendwa {{ first_name }}, mkopo wako umeidhinishwa.");
    expect(cell).toHaveTextContent("Default");
  });

  it("edits an email's subject too", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "PUT /v1/notification-templates/{kind}/{channel}/{language}": () =>
        refused(422, { detail: "invalid", errors: [{ field: "subject", message: "line 1: unexpected '}'" }] }),
    });
    renderScreen(<SettingsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Edit template Loan approved, Email, English" }));
    const editor = within(screen.getByRole("form", { name: "Loan approved, Email, English" }));
    const subject = editor.getByLabelText("Subject");
    await userEvent.type(subject, " }}");
    await userEvent.click(editor.getByRole("button", { name: "Save template" }));
    await waitFor(() => expect(subject).toHaveAccessibleDescription("line 1: unexpected '}'"));
    expect(sent(calls, "PUT /v1/notification-templates/{kind}/{channel}/{language}")[0].init.body).toEqual({
      subject: "Your loan }}",
      body: "Dear {{ first_name }}, approved.",
    });
  });
});
