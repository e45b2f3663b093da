// One run, executing in this process: its hosts taken `parallelism` at a time, each logged in to
// and given the script (runScript), its output cut into chunks (RunOutput) and its state kept
// in memory, in the database and told to live logs as it changes. Stopping: after a failure
// (stop_on_failure) no other host starts and those running finish; a cancel or vxman's own stop
// aborts every host (TERM over the channel, KILL after a grace) and the ones not started never do.
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { HostKeys } from "./host-keys.ts";
import { displayText } from "./output-text.ts";
import { RunOutput, upTo, WRITE_BYTES, type OutputChunk } from "./run-output.ts";
import type { HostState, RunStatus } from "./run-model.ts";
import type { RunLogins, RunTarget } from "./run-login.ts";
import type { RunMessage, RunView } from "./run-protocol.ts";
import { countByState, toHost, toSummary, type HostRow, type RunRow, type RunStore } from "./run-store.ts";
import { runScript, type HostResult } from "./ssh.ts";

export interface ExecutionDeps {
  db: Database;
  store: RunStore;
  hostKeys: HostKeys;
  log: Logger;
  maxOutputBytes: number;
  /** A run failed: its run_failed event is written (the notification pipeline may want a pass). */
  onFailed: () => void;
}

type Stop = "failure" | "cancelled" | "interrupted";

const FINAL_WRITE_TRIES = 120;
const FINAL_WRITE_PAUSE_MS = 5000;

export class RunExecution {
  readonly hosts = new Map<number, HostRow>();
  readonly output: RunOutput;
  readonly done: Promise<RunRow>;
  #row: RunRow;
  #stop: Stop | null = null;
  #ended = false;
  readonly #abort = new AbortController();
  readonly #listeners = new Set<(msg: RunMessage) => void>();
  /** Each host's database writes, in order (a pool of connections would not keep it). */
  readonly #writes = new Map<number, Promise<void>>();

  constructor(
    private readonly deps: ExecutionDeps,
    run: RunRow,
    private readonly targets: RunTarget[],
    private readonly logins: RunLogins,
    private readonly env: Record<string, string>,
  ) {
    this.#row = run;
    for (const t of targets) {
      this.hosts.set(t.machine_id, {
        machine_id: t.machine_id, hostname: t.hostname, ip_address: t.ip_address, state: "queued",
        exit_code: null, signal: null, message: null, started_at: null, ended_at: null, output_bytes: 0, truncated: false,
      });
    }
    this.output = new RunOutput(run.id, deps.db, deps.log, (chunks) => {
      for (let rest = chunks; rest.length; ) {
        const part = upTo(rest, WRITE_BYTES);
        this.#tell({ type: "output", chunks: part.map(chunkMessage) });
        rest = rest.slice(part.length);
      }
    });
    this.done = this.#execute();
  }

  get id(): number {
    return this.#row.id;
  }

  /** Its record is final: nothing more will be told to subscribers. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Stop every host now (someone cancelled the run). */
  cancel(): void {
    this.#halt("cancelled");
  }

  /** vxman is stopping: hosts are stopped and marked interrupted. */
  interrupt(): void {
    this.#halt("interrupted");
  }

  view(): RunView {
    const hosts = [...this.hosts.values()].map(toHost);
    return { ...toSummary(this.#row, countByState(hosts)), hosts };
  }

  /** Every message from now on; returns the unsubscribe. */
  subscribe(listener: (msg: RunMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #halt(why: "cancelled" | "interrupted"): void {
    if (this.#stop === "cancelled" || this.#stop === "interrupted") return;
    this.#stop = why;
    this.#abort.abort();
  }

  #tell(msg: RunMessage): void {
    for (const listener of this.#listeners) listener(msg);
  }

  async #execute(): Promise<RunRow> {
    const queue = [...this.targets];
    const worker = async () => {
      while (this.#stop === null && queue.length > 0) await this.#runHostSafely(queue.shift()!);
    };
    await Promise.all(Array.from({ length: Math.min(this.#row.parallelism, queue.length) }, worker));
    await this.#endNeverStarted(queue);
    await this.output.close();
    await Promise.all(this.#writes.values());
    const row = await this.#finish();
    this.#row = row;
    this.#ended = true;
    this.#tell({ type: "end", run: this.view() });
    this.#listeners.clear();
    return row;
  }

  /** A bug in one host's handling ends that host as an error, never the run (its record must end). */
  async #runHostSafely(t: RunTarget): Promise<void> {
    try {
      await this.#runHost(t);
    } catch (err) {
      this.deps.log.error({ err, run_id: this.#row.id, machine_id: t.machine_id }, "running a host failed");
      this.output.endHost(t.machine_id);
      this.#setHost(t.machine_id, { state: "error", message: "vxman failed to run the script here (logged)", ended_at: new Date() });
      this.#afterHost("error");
    }
  }

  async #runHost(t: RunTarget): Promise<void> {
    const id = t.machine_id;
    this.#setHost(id, { state: "connecting", started_at: new Date() });
    const login = await this.logins.for(t);
    if ("problem" in login) {
      this.#setHost(id, { state: "error", message: login.problem, ended_at: new Date() });
      return this.#afterHost("error");
    }
    const result = await runScript(login.target, this.#row.script, {
      env: this.env,
      timeoutMs: this.#row.timeout_seconds * 1000,
      signal: this.#abort.signal,
      maxOutputBytes: this.deps.maxOutputBytes,
      onOutput: (stream, chunk) => this.output.append(id, stream, chunk),
      onConnected: () => this.#setHost(id, { state: "running" }),
    });
    await this.#recordHostKey(t, result).catch((err) => this.deps.log.error({ err, machine_id: id }, "could not record the host key"));
    this.output.endHost(id);
    await this.output.flush(); // the host's last output is stored before its final state
    const state: HostState = result.outcome === "cancelled" && this.#stop === "interrupted" ? "interrupted" : result.outcome;
    const message = state === "interrupted" ? "vxman stopped during the run; the script was stopped" : result.message;
    this.#setHost(id, {
      state, exit_code: result.exitCode, signal: result.signal, message, ended_at: new Date(result.endedAt),
      output_bytes: result.outputBytes, truncated: result.truncated,
    });
    this.#afterHost(state);
  }

  #afterHost(state: HostState): void {
    if (state !== "succeeded" && this.#stop === null && this.#row.stop_on_failure) this.#stop = "failure";
  }

  async #recordHostKey(t: RunTarget, result: HostResult): Promise<void> {
    if (!result.hostKey) return;
    const machine = { id: t.machine_id, ip_address: t.ip_address, hostname: t.hostname };
    const known = this.logins.knownHostKey(t.machine_id);
    if (result.outcome === "host_key_changed" && known) await this.deps.hostKeys.recordChanged(machine, known, result.hostKey);
    else if (!known) await this.deps.hostKeys.recordFirstUse(machine, result.hostKey);
  }

  /** Hosts still queued when the run stopped taking new ones. */
  async #endNeverStarted(queue: RunTarget[]): Promise<void> {
    if (!queue.length) return;
    const [state, message] =
      this.#stop === "failure" ? (["skipped", "not started: another host failed and the job stops on failure"] as const)
      : this.#stop === "interrupted" ? (["interrupted", "not started: vxman stopped"] as const)
      : (["cancelled", "not started: the run was cancelled"] as const);
    for (const t of queue) this.#setHost(t.machine_id, { state, message }, false);
    await this.#retrying(() => this.deps.store.endQueued(this.#row.id, state, message));
  }

  async #finish(): Promise<RunRow> {
    const hosts = [...this.hosts.values()];
    const notOk = hosts.filter((h) => h.state !== "succeeded");
    // Every host succeeded: a cancel or stop that came too late to stop anything changes nothing.
    const status: Exclude<RunStatus, "running"> =
      hosts.length > 0 && notOk.length === 0 ? "succeeded"
      : this.#stop === "cancelled" ? "cancelled"
      : this.#stop === "interrupted" ? "interrupted"
      : "failed";
    const succeeded = `${hosts.length - notOk.length} of ${hosts.length} hosts had succeeded`;
    const message =
      status === "cancelled" ? `cancelled; ${succeeded}`
      : status === "interrupted" ? `vxman stopped during the run; ${succeeded}`
      : hosts.length === 0 ? "no machine matched the job's targets"
      : status === "succeeded" ? `succeeded on all ${hosts.length} hosts`
      : `${notOk.length} of ${hosts.length} hosts did not succeed`;
    const failed = status === "failed" ? failureDetails(this.#row, hosts, notOk) : null;
    const row = await this.#retrying(() => this.deps.store.finish(this.#row.id, status, message, failed));
    if (failed) this.deps.onFailed();
    return row;
  }

  /** Memory and live logs at once; the database in order per host, a failure only logged. */
  #setHost(id: number, change: Partial<HostRow> & { state: HostState }, write = true): void {
    const host = { ...this.hosts.get(id)!, ...change };
    this.hosts.set(id, host);
    this.#tell({ type: "hosts", hosts: [toHost(host)] });
    if (!write) return;
    const final = !["connecting", "running"].includes(change.state);
    const save = () => this.deps.store.setHost(this.#row.id, { ...change, machine_id: id });
    const previous = this.#writes.get(id) ?? Promise.resolve();
    this.#writes.set(id, previous.then(() => (final ? this.#retrying(save) : save().catch((err) => this.deps.log.warn({ err, machine_id: id }, "host state not written")))));
  }

  /** The writes that make a run's record whole are retried through a database outage (bounded). */
  async #retrying<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (attempt >= FINAL_WRITE_TRIES) throw err;
        this.deps.log.warn({ err, run_id: this.#row.id, attempt }, "run record not written; retrying");
        await Bun.sleep(FINAL_WRITE_PAUSE_MS);
      }
    }
  }
}

export function chunkMessage(c: OutputChunk) {
  return { seq: c.seq, machine_id: c.machine_id, stream: c.stream, text: displayText(c.data) };
}

/** What a run_failed event (and the message channels send) says: the run and the hosts that did not succeed. */
function failureDetails(run: RunRow, hosts: HostRow[], notOk: HostRow[]): Record<string, unknown> {
  return {
    run_id: run.id,
    job_id: run.job_id,
    job_name: run.job_name,
    trigger: run.trigger,
    started_by: run.started_by,
    hosts: hosts.length,
    failed: notOk.length,
    failed_hosts: notOk.slice(0, 20).map((h) => ({ machine_id: h.machine_id, hostname: h.hostname, ip_address: h.ip_address, state: h.state, message: h.message })),
  };
}
