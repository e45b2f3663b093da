// The dashboard's HTTP calls: one place that adds the token and turns every failure into a
// sentence a person can act on.
import type { Machine } from "../../src/api/machines/model.ts";
import { session } from "./session.ts";

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Words for a failed call: the server's own message when it sent one. */
function explain(status: number, serverMessage: string | undefined): string {
  if (status === 401) return `Not logged in: ${serverMessage ?? "this needs a token"} Use "Log in" with the admin token.`;
  if (status === 403) return `Not allowed: ${serverMessage ?? "the token you logged in with does not allow this"}`;
  if (status === 429) return "Too many requests from this browser; wait a minute and try again.";
  if (status >= 500) return `The server could not do this (${status}): ${serverMessage ?? "try again shortly"}`;
  return serverMessage ?? `The server answered ${status}.`;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiFailure(0, "Cannot reach the vxman server (network error). Check the connection; the page retries by itself.");
  }
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => undefined)) as { message?: string } | undefined;
  if (!res.ok) throw new ApiFailure(res.status, explain(res.status, body?.message));
  return body as T;
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
