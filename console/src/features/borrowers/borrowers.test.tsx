import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes, useLocation } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import Borrowers from "./index";

const AGENT = ["borrowers:read", "borrowers:create", "borrowers:update", "loans:create", "loans:read", "branches:read"];

const borrower = (over: Record<string, unknown> = {}) => ({
  id: "brw_1",
  institution_id: "inst_1",
  first_name: "Achieng",
  last_name: "Odhiambo",
  national_id: "12345678",
  phone: "+254712345678",
  date_of_birth: "1986-04-12",
  branch_id: "br_1",
  agent_id: "usr_me",
  gender: "female",
  monthly_income: "25000",
  business_type: "Tailoring",
  household_size: 4,
  group_id: null,
  address: { line1: "", line2: "", city: "", region: "", country: "" },
  assignments: [{ branch_id: "br_1", agent_id: "usr_me", changed_by: "usr_me", reason: "registered", time: "2026-03-02T07:45:12Z" }],
  consents: [],
  document_refs: [],
  kyc_status: "unverified",
  create_time: "2026-03-02T07:45:12Z",
  update_time: "2026-03-02T07:45:12Z",
  version: 1,
  ...over,
});

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/branches": () =>
      ok({
        items: [
          { id: "br_1", institution_id: "inst_1", name: "Kisumu" },
          { id: "br_2", institution_id: "inst_1", name: "Eldoret" },
        ],
        next_page_token: "",
      }),
    "GET /v1/institutions/{institution_id}": () => ok({ id: "inst_1", name: "MFI", currency: "KES" }),
    "GET /v1/borrowers": () => ok({ items: [borrower()], next_page_token: "" }),
    "GET /v1/borrowers/{borrower_id}/documents": () => ok({ items: [], next_page_token: "" }),
    ...extra,
  });
}

function Where() {
  return <p data-testid="where">{useLocation().pathname}</p>;
}

function show(path: string) {
  return renderScreen(
    <Routes>
      <Route path="/borrowers/*" element={<Borrowers />} />
      <Route path="*" element={<Where />} />
    </Routes>,
    path,
  );
}

async function fillIdentity(nationalId = "ID-778899") {
  await userEvent.type(screen.getByLabelText("First name"), "Wanjiru");
  await userEvent.type(screen.getByLabelText("Last name"), "Kamau");
  await userEvent.type(screen.getByLabelText("National ID"), nationalId);
  await userEvent.type(screen.getByLabelText("Phone"), "+254722000111");
  await userEvent.type(screen.getByLabelText("Date of birth"), "1990-05-01");
}

describe("borrowers", () => {
  it("lists borrowers, and searches as you type", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/borrowers": (init) =>
        ok({
          items: init.params?.query?.q
            ? [borrower({ id: "brw_2", first_name: "<img src=x onerror=alert(1)>", last_name: "Otieno" })]
            : [borrower()],
          next_page_token: "",
        }),
    });
    show("/borrowers");
    const row = (await screen.findByRole("rowheader", { name: "Achieng Odhiambo" })).closest("tr")!;
    expect(within(row).getByText("12345678")).toBeInTheDocument();
    expect(await within(row).findByText("Kisumu")).toBeInTheDocument();

    await userEvent.type(screen.getByRole("searchbox", { name: "Search borrowers" }), "otieno");
    // User-supplied text is shown as text, never as markup.
    expect(await screen.findByRole("link", { name: "<img src=x onerror=alert(1)> Otieno" })).toHaveAttribute(
      "href",
      "/borrowers/brw_2",
    );
    expect(document.querySelector("img")).toBeNull();
    // Debounced: one search for the whole word.
    expect(calls.filter((c) => c.init.params?.query?.q).map((c) => c.init.params?.query?.q)).toEqual(["otieno"]);
  });

  it("registers a borrower once consent is given, records the consent and opens the file", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "POST /v1/borrowers": (init) => ok(borrower({ id: "brw_9", ...(init.body as object) }), 201),
      "POST /v1/borrowers/{borrower_id}/consents": (init) =>
        ok(borrower({ id: "brw_9", consents: [{ ...(init.body as object), recorded_by: "usr_me", time: "2026-03-02T08:00:00Z" }] }), 201),
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower({ id: "brw_9", first_name: "Wanjiru", last_name: "Kamau" })),
      "GET /v1/borrowers/{borrower_id}/versions": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/loans": () => ok({ items: [], next_page_token: "" }),
    });
    show("/borrowers");
    await userEvent.click(await screen.findByRole("button", { name: "Register borrower" }));
    await fillIdentity();
    // The user's own branch is chosen for them.
    await waitFor(() => expect(screen.getByLabelText("Branch")).toHaveValue("br_1"));
    await userEvent.type(screen.getByLabelText("Monthly income"), "30000");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByLabelText("Consent to data processing")).toHaveAccessibleDescription(
      "The borrower must consent before the details are saved.",
    );
    expect(calls.some((c) => c.route === "POST /v1/borrowers")).toBe(false);

    await userEvent.click(screen.getByLabelText("Consent to data processing"));
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(calls.some((c) => c.route === "POST /v1/borrowers/{borrower_id}/consents")).toBe(true));
    expect(calls.find((c) => c.route === "POST /v1/borrowers")?.init.body).toEqual({
      first_name: "Wanjiru",
      last_name: "Kamau",
      national_id: "ID-778899",
      phone: "+254722000111",
      date_of_birth: "1990-05-01",
      branch_id: "br_1",
      monthly_income: "30000",
      business_type: null,
      gender: null,
      household_size: null,
    });
    expect(calls.find((c) => c.route === "POST /v1/borrowers/{borrower_id}/consents")?.init.body).toMatchObject({
      kind: "data_processing",
    });
    expect(await screen.findByRole("heading", { level: 1, name: "Wanjiru Kamau" })).toBeInTheDocument();
  });

  it("says the browser's objections beside the fields before sending anything", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway();
    show("/borrowers/new");
    await userEvent.type(await screen.findByLabelText("First name"), "Wanjiru2");
    await userEvent.type(screen.getByLabelText("Phone"), "0722000111");
    await userEvent.click(screen.getByLabelText("Consent to data processing"));
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByLabelText("First name")).toHaveAccessibleDescription(expect.stringContaining("without digits"));
    expect(screen.getByLabelText("Last name")).toHaveAccessibleDescription("Required.");
    expect(screen.getByLabelText("Phone")).toHaveAccessibleDescription(expect.stringContaining("starting with +"));
    expect(screen.getByLabelText("First name")).toHaveFocus();
    expect(calls.some((c) => c.route === "POST /v1/borrowers")).toBe(false);
  });

  it("shows the server's refusal beside the field it names, back on that field's step", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    gateway({
      "POST /v1/borrowers": () =>
        refused(409, {
          detail: "a borrower with this national id already exists: brw_1",
          reason: "DUPLICATE_NATIONAL_ID",
          errors: [{ field: "national_id", message: "already registered to borrower brw_1" }],
        }),
    });
    show("/borrowers/new");
    await fillIdentity("12345678");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByRole("listitem", { current: "step" })).toHaveTextContent("Livelihood and consent");
    await userEvent.click(screen.getByLabelText("Consent to data processing"));
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() =>
      expect(screen.getByLabelText("National ID")).toHaveAccessibleDescription("already registered to borrower brw_1"),
    );
    expect(screen.getByRole("listitem", { current: "step" })).toHaveTextContent("Identity");
    expect(screen.getByLabelText("National ID")).toHaveFocus();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows a borrower's file with loans, changes and the way to a new application", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1", full_name: "Otieno Agent" });
    gateway({
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower()),
      "GET /v1/borrowers/{borrower_id}/versions": () =>
        ok({
          items: [{ version: 2, time: "2026-03-05T10:00:00Z", changed_by: "usr_me", changes: { phone: ["+254712345678", "+254722000111"] } }],
          next_page_token: "",
        }),
      "GET /v1/loans": () =>
        ok({ items: [{ id: "loan_1", product_id: "prd_1", status: "active", principal: "50000", currency: "KES", outstanding: { total: "41000" }, days_past_due: 3, create_time: "2026-03-03T00:00:00Z" }], next_page_token: "" }),
      "GET /v1/loan-products": () => ok({ items: [{ id: "prd_1", name: "Biashara monthly" }], next_page_token: "" }),
    });
    show("/borrowers/brw_1");
    expect(await screen.findByRole("heading", { level: 1, name: "Achieng Odhiambo" })).toBeInTheDocument();
    expect(await screen.findByRole("rowheader", { name: "Biashara monthly" })).toBeInTheDocument();
    expect(screen.getByText("phone: +254712345678 → +254722000111")).toBeInTheDocument();
    expect(screen.getByText("KES 25,000.00")).toBeInTheDocument();
    expect(screen.getByText("Not recorded.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "New loan application" }));
    expect(screen.getByTestId("where")).toHaveTextContent("/loans/new");
  });

  it("shows the audit entries about the borrower to those who may read the audit log, and not to an agent", async () => {
    signInAs({ role: "auditor", permissions: ["borrowers:read", "loans:read", "audit:read", "users:read"] });
    const calls = gateway({
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower()),
      "GET /v1/borrowers/{borrower_id}/versions": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/loans": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/audit-log": () =>
        ok({
          items: [
            {
              seq: 7,
              institution_id: "inst_1",
              actor_id: "usr_2",
              actor_role: "agent",
              action: "borrowers.create",
              target_kind: "borrowers",
              target_id: "brw_1",
              request_id: "req_1",
              time: "2026-03-01T08:00:00.123Z",
              summary_json: "{}",
              prev_hash: "",
              hash: "",
            },
          ],
          next_page_token: "",
        }),
    });
    show("/borrowers/brw_1");
    expect(await screen.findByRole("heading", { level: 2, name: "Audit trail" })).toBeInTheDocument();
    expect(await screen.findByText("borrowers.create")).toBeInTheDocument();
    expect(screen.getByText("2026-03-01 08:00:00 UTC")).toBeInTheDocument();
    const asked = calls.find((c) => c.route === "GET /v1/audit-log")!;
    expect(asked.init.params?.query).toMatchObject({ target_kind: "borrowers", target_id: "brw_1" });
  });

  it("shows an agent no audit trail", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower()),
      "GET /v1/borrowers/{borrower_id}/versions": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/loans": () => ok({ items: [], next_page_token: "" }),
    });
    show("/borrowers/brw_1");
    expect(await screen.findByRole("heading", { level: 1, name: "Achieng Odhiambo" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Audit trail" })).not.toBeInTheDocument();
    expect(calls.some((c) => c.route === "GET /v1/audit-log")).toBe(false);
  });

  it("shows what was read from the documents, uploads one and records the reviewer's verdict", async () => {
    signInAs({
      role: "branch_manager",
      permissions: [...AGENT, "borrowers:verify"],
      branch_id: "br_1",
    });
    const idCard = {
      id: "doc_1",
      borrower_id: "brw_1",
      kind: "national_id",
      file_name: "<b>id</b>.png",
      content_type: "image/png",
      size: 5120,
      sha256: "ab12",
      uploaded_by: "usr_me",
      create_time: "2026-03-04T09:00:00Z",
      ocr: {
        status: "done",
        fields: { national_id: "12345678", first_name: "ACHIENG", last_name: "ODHIAMBO", date_of_birth: "1986-04-21" },
        field_confidence: { national_id: 96, first_name: 91, last_name: 93, date_of_birth: 88 },
        mismatches: ["date_of_birth"],
        text: "",
        confidence: 92,
        error: null,
        complete_time: "2026-03-04T09:00:02Z",
      },
    };
    let uploads = 0;
    const calls = gateway({
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower()),
      "GET /v1/borrowers/{borrower_id}/versions": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/loans": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/borrowers/{borrower_id}/documents": () => ok({ items: [idCard], next_page_token: "" }),
      "POST /v1/borrowers/{borrower_id}/documents": () =>
        ++uploads === 1
          ? refused(415, {
              detail: "the file is not a JPEG, PNG or PDF",
              reason: "UNSUPPORTED_MEDIA_TYPE",
              errors: [{ field: "file", message: "is not a JPEG, PNG or PDF (judged by its content)" }],
            })
          : ok({ ...idCard, id: "doc_2", kind: "passport", ocr: { ...idCard.ocr, status: "pending" } }, 201),
      "PUT /v1/borrowers/{borrower_id}/kyc-status": (init) =>
        ok(borrower({ kyc_status: (init.body as { status: string }).status, version: 2 })),
    });
    show("/borrowers/brw_1");
    expect(await screen.findByRole("heading", { level: 2, name: "Documents" })).toBeInTheDocument();
    expect(screen.getByText("Not verified")).toBeInTheDocument();
    const row = (await screen.findByRole("rowheader", { name: "National ID" })).closest("tr")!;
    expect(within(row).getByText("date_of_birth: 1986-04-21 (88% sure)")).toBeInTheDocument();
    expect(within(row).getByText("date_of_birth")).toBeInTheDocument(); // differs from the profile
    // A file name is shown as text, never as markup.
    expect(within(row).getByRole("button", { name: "Open <b>id</b>.png" })).toBeInTheDocument();

    const file = new File(["not an image"], "scan.png", { type: "image/png" });
    await userEvent.selectOptions(screen.getByLabelText("Document kind"), "passport");
    await userEvent.upload(screen.getByLabelText("Document file"), file);
    await userEvent.click(screen.getByRole("button", { name: "Upload document" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Document file")).toHaveAccessibleDescription(
        expect.stringContaining("is not a JPEG, PNG or PDF"),
      ),
    );
    await userEvent.click(screen.getByRole("button", { name: "Upload document" }));
    await waitFor(() => expect(uploads).toBe(2));
    const sent = calls.filter((c) => c.route === "POST /v1/borrowers/{borrower_id}/documents").at(-1)!;
    expect((sent.init.body as FormData).get("kind")).toBe("passport");
    expect(((sent.init.body as FormData).get("file") as File).name).toBe("scan.png");

    await userEvent.selectOptions(screen.getByLabelText("KYC status"), "verified");
    await userEvent.type(screen.getByLabelText("Review note"), "ID seen; date of birth misread");
    await userEvent.click(screen.getByRole("button", { name: "Save KYC status" }));
    expect(await screen.findByText("Verified", { selector: "strong" })).toBeInTheDocument();
    expect(calls.find((c) => c.route === "PUT /v1/borrowers/{borrower_id}/kyc-status")?.init.body).toEqual({
      status: "verified",
      note: "ID seen; date of birth misread",
    });
  });

  it("lets an agent ask for a review but not verify", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    gateway({
      "GET /v1/borrowers/{borrower_id}": () => ok(borrower()),
      "GET /v1/borrowers/{borrower_id}/versions": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/loans": () => ok({ items: [], next_page_token: "" }),
    });
    show("/borrowers/brw_1");
    const kyc = await screen.findByLabelText("KYC status");
    expect(within(kyc).getAllByRole("option").map((o) => o.textContent)).toEqual(["Waiting for review"]);
    expect(await screen.findByText("No documents on file yet.")).toBeInTheDocument();
  });
});
