// The dashboard's HTTP calls: one place that turns every failure into a sentence a person can
// act on, and that notices when the session under the page has ended or changed. The session is an
// HttpOnly cookie the browser sends by itself: no secret passes through this code.
import type { Machine } from "../../src/api/machines/model.ts";

interface FieldProblem {
  field: string;
  message: string;
}

/** A problem with `field` itself or with a part of it (a list's "labels.2", an object's "settings.url"). */
const concerns = (problem: FieldProblem, field: string) => problem.field === field || problem.field.startsWith(`${field}.`);

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The server's error code (`own_account`, `monitoring_off`…), when it sent one. */
    readonly code?: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** What the server said about one field of the request (a 422), to show beside that field;
   *  a list's or object's field also carries what was said about its parts ("labels.2"). */
  about(field: string): string | undefined {
    return this.details.find((d) => concerns(d, field))?.message;
  }

  /** What the server said about fields other than these (which a form shows beside them). */
  besides(fields: readonly string[]): FieldProblem[] {
    return this.details.filter((d) => !fields.some((field) => concerns(d, field)));
  }
}

/** Words for a failed call: the server's own message when it sent one. */
function explain(status: number, serverMessage: string | undefined, retryAfter: string | null): string {
  if (status === 403) return `Not allowed: ${serverMessage ?? "your role does not allow this"}`;
  if (status === 429) return `${serverMessage ?? "Too many requests from this browser."} Try again in ${retryAfter ? `${retryAfter} s` : "a minute"}.`;
  if (status >= 500) return `The server could not do this (${status}): ${serverMessage ?? "try again shortly"}`;
  return serverMessage ?? `The server answered ${status}.`;
}

let refused: (status: 401 | 403) => void = () => {};

/** Told of every 401 (the session has ended under the page) and 403 (the role may have changed)
 *  so the page can ask who it is now. */
export function onRefused(listener: (status: 401 | 403) => void): void {
  refused = listener;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** A 401 here is an answer (a wrong password), not a sign the session ended. */
  loggingIn?: boolean;
}

export async function api<T>(path: string, { method = "GET", body, loggingIn = false }: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, "Cannot reach the vxman server (network error). Check the connection; the page retries by itself.");
  }
  if (res.status === 204) return undefined as T;
  const answer = (await res.json().catch(() => undefined)) as { error?: string; message?: string; details?: FieldProblem[] } | undefined;
  if (res.ok) return answer as T;
  if ((res.status === 401 && !loggingIn) || res.status === 403) refused(res.status);
  throw new ApiFailure(res.status, explain(res.status, answer?.message, res.headers.get("retry-after")), answer?.error, answer?.details ?? []);
}

/** Every machine, page by page (the list endpoint returns at most 10,000 at a time). */
export async function fetchAllMachines(): Promise<Machine[]> {
  const all: Machine[] = [];
  const limit = 10_000;
  for (let page = 0; page < 100; page++) {
    const { items, total } = await api<{ items: Machine[]; total: number }>(`/api/machines?limit=${limit}&offset=${page * limit}`);
    all.push(...items);
    if (items.length < limit || all.length >= total) break;
  }
  return all;
}
