import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ApiProblem } from "@/api/problem";
import { ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";

describe("Field", () => {
  it("says its error beside the input, which references it", () => {
    const problem = new ApiProblem(422, {
      detail: "phone: must be E.164",
      errors: [{ field: "phone", message: "must be E.164, e.g. +254712345678" }],
    });
    render(<Field label="Phone" error={fieldError(problem, "phone")} />);
    const input = screen.getByLabelText("Phone");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAccessibleDescription("must be E.164, e.g. +254712345678");
  });

  it("leaves the alert to errors no field shows", () => {
    const shownBeside = new ApiProblem(422, { detail: "x", errors: [{ field: "phone", message: "bad" }] });
    const { rerender } = render(<ErrorAlert error={shownBeside} fields={["phone"]} />);
    expect(screen.queryByRole("alert")).toBeNull();
    rerender(<ErrorAlert error={new ApiProblem(409, { detail: "the loan is closed" })} />);
    expect(screen.getByRole("alert")).toHaveTextContent("the loan is closed");
  });
});
