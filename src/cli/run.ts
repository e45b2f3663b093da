// `vxman run JOB [--wait] [-p NAME=VALUE]…`: start a job on a vxman server through its API (the
// server and a personal API token from the environment), and with --wait follow the run's live
// log, printing each host's lines as they come, prefixed by the host, like pdsh. Stopping this
// command (Ctrl-C) stops following, not the run: `POST /api/runs/{id}/cancel` cancels it.
import { parseArgs } from "node:util";
import type { Job, Run } from "../jobs/run-model.ts";
import type { HostView, RunMessage } from "../jobs/run-protocol.ts";

export const RUN_USAGE = `Usage:
  vxman run JOB [--wait] [-p NAME=VALUE]...

JOB is a job's name or id. The server and who you are come from the environment:
  VXMAN_URL     the server, e.g. https://vxman.example.org
  VXMAN_TOKEN   a personal API token of an operator or admin (Settings → API tokens)
-p, --param NAME=VALUE   a value for one of the job's parameters (repeat for more)
--wait                   follow the run: each host's output as it comes, "[host] line";
                         stderr lines go to standard error

Exit codes: 0 the run succeeded on every host (without --wait: it started), 1 it did not,
2 bad usage or settings, 3 the run could not be started or followed (server, token, job).`;

export class RunCommandError extends Error {
  constructor(
    message: string,
    readonly code: 2 | 3,
  ) {
    super(message);
  }
}

interface Output {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
const RECONNECTS = 10;

export async function runJobCommand(args: string[], env: Record<string, string | undefined> = process.env, io: Output = stdio): Promise<number> {
  const { job: ref, wait, parameters } = parse(args);
  const api = new ServerApi(serverUrl(env.VXMAN_URL), token(env.VXMAN_TOKEN));
  const job = await api.findJob(ref);
  const run = await api.start(job, parameters);
  if (!wait) {
    io.out(`run ${run.id} of job "${job.name}" started on ${run.hosts.length} hosts: ${api.base}/#/runs/${run.id}\n`);
    return 0;
  }
  io.err(`run ${run.id} of job "${job.name}" on ${run.hosts.length} hosts\n`);
  const ended = await follow(api, run.id, io);
  io.err(`run ${ended.id} ${ended.status}: ${ended.message ?? ""}\n`);
  return ended.status === "succeeded" ? 0 : 1;
}

function parse(args: string[]): { job: string; wait: boolean; parameters: Record<string, string> } {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { wait: { type: "boolean" }, param: { type: "string", short: "p", multiple: true } } });
  } catch (err) {
    throw new RunCommandError((err as Error).message, 2);
  }
  if (parsed.positionals.length !== 1) throw new RunCommandError("run takes one job: its name or id", 2);
  const parameters: Record<string, string> = {};
  for (const p of parsed.values.param ?? []) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new RunCommandError(`-p takes NAME=VALUE, not "${p}"`, 2);
    parameters[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return { job: parsed.positionals[0]!, wait: parsed.values.wait ?? false, parameters };
}

function serverUrl(raw: string | undefined): string {
  if (!raw) throw new RunCommandError("VXMAN_URL is not set: set it to the server's address, e.g. VXMAN_URL=https://vxman.example.org", 2);
  try {
    const url = new URL(raw);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href.replace(/\/+$/, "");
  } catch {
    // reported below
  }
  throw new RunCommandError(`VXMAN_URL=${JSON.stringify(raw)} is not an http:// or https:// URL`, 2);
}

function token(raw: string | undefined): string {
  if (!raw) throw new RunCommandError("VXMAN_TOKEN is not set: make a personal API token in the dashboard (or POST /api/tokens) and set it", 2);
  return raw.trim();
}

class ServerApi {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async findJob(ref: string): Promise<Job> {
    if (/^\d{1,9}$/.test(ref)) {
      const byId = await this.#call<Job>("GET", `/api/jobs/${ref}`, undefined, [200, 404]);
      if (byId.status === 200) return byId.body;
    }
    const { body } = await this.#call<{ items: Job[] }>("GET", `/api/jobs?name=${encodeURIComponent(ref)}`);
    const job = body.items[0];
    if (!job) throw new RunCommandError(`there is no job named or numbered "${ref}" on ${this.base}`, 3);
    return job;
  }

  async start(job: Job, parameters: Record<string, string>): Promise<Run> {
    const { status, body } = await this.#call<Run & { message?: string }>("POST", `/api/jobs/${job.id}/runs`, { parameters }, [201, 422]);
    if (status === 422) throw new RunCommandError(`job "${job.name}": ${body.message}`, 2);
    return body;
  }

  run(id: number): Promise<{ status: number; body: Run }> {
    return this.#call<Run>("GET", `/api/runs/${id}?output=false`);
  }

  socket(runId: number, after: number): WebSocket {
    const url = `${this.base.replace(/^http/, "ws")}/ws/runs/${runId}?after=${after}`;
    // Bun's WebSocket takes headers: the token goes in Authorization, as for every other call.
    return new WebSocket(url, { headers: { authorization: `Bearer ${this.token}` } } as unknown as string[]);
  }

  async #call<T>(method: string, path: string, json?: unknown, expected = [200, 201]): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new RunCommandError(`cannot reach ${this.base}: ${(err as Error).message}`, 3);
    }
    const body = (await res.json().catch(() => null)) as (T & { message?: string }) | null;
    if (res.status === 401 || res.status === 403) throw new RunCommandError(`${this.base} refused VXMAN_TOKEN: ${body?.message ?? res.status}`, 3);
    if (!expected.includes(res.status) || body === null) {
      throw new RunCommandError(`${method} ${path} answered ${res.status}: ${body?.message ?? "not vxman's JSON (is VXMAN_URL right?)"}`, 3);
    }
    return { status: res.status, body };
  }
}

/** Prints the run's live log until it ends; reconnects (bounded) from the last chunk seen. */
async function follow(api: ServerApi, runId: number, io: Output): Promise<Run> {
  const printer = new LinePrinter(io);
  let after = 0;
  for (let attempt = 0; attempt <= RECONNECTS; attempt++) {
    const ended = await new Promise<boolean>((resolve) => {
      const ws = api.socket(runId, after);
      ws.onmessage = (ev) => {
        const msg = JSON.parse(String(ev.data)) as RunMessage;
        after = printer.take(msg, after);
        if (msg.type === "end") resolve(true);
      };
      ws.onclose = () => resolve(false);
      ws.onerror = () => resolve(false);
    });
    if (ended) break;
    await Bun.sleep(Math.min(500 * 2 ** attempt, 5000));
  }
  printer.flush();
  const { body } = await api.run(runId);
  if (body.status === "running") throw new RunCommandError(`lost the live log of run ${runId} (it is still running): follow it in the dashboard`, 3);
  return body;
}

/** Whole lines per host and stream, prefixed by the host; hosts' ends on standard error. */
class LinePrinter {
  readonly #names = new Map<number, string>();
  readonly #partial = new Map<string, string>();
  readonly #ended = new Set<number>();

  constructor(private readonly io: Output) {}

  /** Prints what a message says; returns the last seq seen. */
  take(msg: RunMessage, after: number): number {
    if (msg.type === "run" || msg.type === "end") this.#hosts(msg.run.hosts);
    if (msg.type === "hosts") this.#hosts(msg.hosts);
    if (msg.type !== "output") return after;
    for (const c of msg.chunks) {
      const key = `${c.machine_id}:${c.stream}`;
      const lines = ((this.#partial.get(key) ?? "") + c.text).split("\n");
      this.#partial.set(key, lines.pop()!);
      for (const line of lines) this.#line(c.machine_id, c.stream, line);
    }
    return msg.chunks.at(-1)?.seq ?? after;
  }

  /** What is left of unfinished lines (of one host, or all). */
  flush(machineId?: number): void {
    for (const [key, rest] of this.#partial) {
      const [id, stream] = key.split(":");
      if (machineId !== undefined && Number(id) !== machineId) continue;
      if (rest) this.#line(Number(id), stream as "stdout" | "stderr", rest);
      this.#partial.delete(key);
    }
  }

  #line(machineId: number, stream: "stdout" | "stderr", line: string): void {
    const text = `[${this.#names.get(machineId) ?? machineId}] ${line}\n`;
    if (stream === "stdout") this.io.out(text);
    else this.io.err(text);
  }

  #hosts(hosts: HostView[]): void {
    for (const h of hosts) {
      this.#names.set(h.machine_id, h.hostname);
      if (h.ended_at === null && !["skipped", "cancelled", "interrupted"].includes(h.state)) continue;
      if (h.state === "queued" || this.#ended.has(h.machine_id)) continue;
      this.#ended.add(h.machine_id);
      this.flush(h.machine_id);
      const how = h.exit_code !== null ? `exit ${h.exit_code}` : (h.message ?? "");
      this.io.err(`[${h.hostname}] ${h.state.replaceAll("_", " ")}${how ? ` (${how})` : ""}\n`);
    }
  }
}
