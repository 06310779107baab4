/** RFC 9457 problems from the gateway, as the screens use them: a message for the `alert`
 * region and one per field, shown beside the field it names. */

export type ProblemBody = {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  reason?: string | null;
  errors?: { field: string; message: string }[] | null;
  [extra: string]: unknown;
};

export class ApiProblem extends Error {
  readonly status: number;
  readonly reason: string;
  readonly fields: Record<string, string>;

  constructor(status: number, body: ProblemBody | undefined) {
    const detail = body?.detail || body?.title || `request failed (${status})`;
    super(detail);
    this.status = status;
    this.reason = body?.reason ?? "";
    this.fields = {};
    for (const e of body?.errors ?? []) {
      this.fields[e.field] = this.fields[e.field] ? `${this.fields[e.field]}; ${e.message}` : e.message;
    }
  }

  /** The error of a field (also under a dotted parent, e.g. `address.city`). */
  field(name: string): string | undefined {
    return this.fields[name];
  }
}

export function isOffline(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof ApiProblem && error.status === 0);
}
