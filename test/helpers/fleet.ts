// Fleet jobs through the API, for tests: register machines (test hosts with a real sshd), add a
// credential, point machines at it, define jobs, start runs and wait for them to end. Works with
// any target of test/helpers/target.ts (in-process or the binary over HTTP).
import { expect } from "bun:test";
import type { Run } from "../../src/jobs/run-model.ts";
import { admin } from "./app.ts";
import { generateKeyPair, startSshd, type KeyPair, type TestSshd } from "./sshd.ts";
import { waitFor } from "./wait.ts";

type Request = (method: string, path: string, init?: { json?: unknown; headers?: Record<string, string> }) => Promise<Response>;

export interface Answer<T = any> {
  status: number;
  json: T;
  text: string;
}

export class FleetApi {
  #macs = 0;

  constructor(
    readonly request: Request,
    private readonly headers: Record<string, string> = admin,
  ) {}

  async call<T = any>(method: string, path: string, json?: unknown, headers = this.headers): Promise<Answer<T>> {
    const res = await this.request(method, path, { json, headers });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, json: parsed as T, text };
  }

  /** call(), expecting `status`; returns the body. */
  async ok<T = any>(status: number, method: string, path: string, json?: unknown): Promise<T> {
    const a = await this.call<T>(method, path, json);
    expect({ path, status: a.status, body: a.status === status ? "" : a.text.slice(0, 500) }).toEqual({ path, status, body: "" });
    return a.json;
  }

  /** A machine at this address (a test host's), with labels. */
  async machine(ip: string, labels: string[] = []): Promise<{ id: number; hostname: string; ip_address: string }> {
    const n = ++this.#macs;
    const hex = n.toString(16).padStart(4, "0");
    const res = await this.call("PUT", `/api/machines/${ip}`, { hostname: `ssh-${n}`, mac_address: `52:54:00:77:${hex.slice(0, 2)}:${hex.slice(2)}`, labels });
    expect([200, 201]).toContain(res.status);
    return res.json;
  }

  async keyCredential(name: string, privateKey: string, passphrase?: string): Promise<{ id: number; fingerprint: string }> {
    return this.ok(201, "POST", "/api/credentials", { name, kind: "ssh-key", private_key: privateKey, ...(passphrase ? { passphrase } : {}) });
  }

  async passwordCredential(name: string, password: string): Promise<{ id: number }> {
    return this.ok(201, "POST", "/api/credentials", { name, kind: "password", password });
  }

  /** Machine → how vxman logs in to it. */
  async sshTo(machineId: number, sshd: TestSshd, credentialId: number): Promise<void> {
    await this.ok(200, "PATCH", `/api/machines/${machineId}`, { ssh: { user: sshd.user, port: sshd.port, credential_id: credentialId } });
  }

  async job(body: Record<string, unknown>): Promise<{ id: number; name: string }> {
    return this.ok(201, "POST", "/api/jobs", { timeout: 30, ...body });
  }

  async start(jobId: number, parameters?: Record<string, string>): Promise<Run> {
    return this.ok(201, "POST", `/api/jobs/${jobId}/runs`, parameters ? { parameters } : {});
  }

  async get(runId: number, output = true): Promise<Run> {
    return this.ok(200, "GET", `/api/runs/${runId}${output ? "" : "?output=false"}`);
  }

  /** Polls the run until it has ended (bounded). */
  async ended(runId: number, ms = 60_000): Promise<Run> {
    return waitFor(`run ${runId} to end`, async () => {
      const run = await this.get(runId);
      return run.status !== "running" ? run : null;
    }, ms, 100);
  }

  async runToEnd(jobId: number, parameters?: Record<string, string>, ms?: number): Promise<Run> {
    return this.ended((await this.start(jobId, parameters)).id, ms);
  }
}

/** The host of a run for a machine. */
export const hostOf = (run: Run, machineId: number) => {
  const host = run.hosts.find((h) => h.machine_id === machineId);
  if (!host) throw new Error(`machine ${machineId} is not in run ${run.id}`);
  return host;
};

/** The headers of a new user with this role, by personal API token (made through the API, as people do). */
export async function tokenOfRole(api: FleetApi, role: "viewer" | "operator" | "admin"): Promise<Record<string, string>> {
  const username = `${role}-${Math.random().toString(36).slice(2, 8)}`;
  const password = "a-long-enough-passphrase";
  await api.ok(201, "POST", "/api/users", { username, role, password });
  const session = await api.request("POST", "/api/session", { json: { username, password } });
  const cookie = session.headers.get("set-cookie")!.split(";")[0]!;
  const made = await api.request("POST", "/api/tokens", { json: { name: "test" }, headers: { cookie } });
  return { authorization: `Bearer ${((await made.json()) as { token: string }).token}` };
}

/** The API of a server over HTTP (the compiled binary), as the admin token. */
export function fleetApiAt(base: string, headers: Record<string, string> = admin): FleetApi {
  return new FleetApi(
    (method, path, init = {}) =>
      fetch(`${base}${path}`, {
        method,
        headers: { "content-type": "application/json", ...init.headers },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      }),
    headers,
  );
}

/** A real sshd (on its own test host) that lets a new ed25519 key in. */
export async function sshdWithKey(): Promise<{ sshd: TestSshd; key: KeyPair }> {
  const [sshd, key] = await Promise.all([startSshd(), generateKeyPair("ed25519")]);
  sshd.authorize(key.publicKey);
  return { sshd, key };
}
