// Runs: starting one (the job's script and settings as they are now, on the machines its targets
// select now), cancelling one, and the record kept honest: runs in progress say every 15 s that
// their instance is alive, a cancel asked on another instance reaches the one running it, and
// runs left "running" by an instance that is gone are marked interrupted.
import type { Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { GroupOptions } from "../outages/groups.ts";
import type { CredentialStore } from "./credentials.ts";
import type { HostKeys } from "./host-keys.ts";
import type { JobRow } from "./job-store.ts";
import { RunExecution } from "./run-execution.ts";
import { RunLogins } from "./run-login.ts";
import type { Parameter, Run } from "./run-model.ts";
import type { RunStore } from "./run-store.ts";
import type { SshSettings } from "./ssh-settings.ts";
import { loadTargetMachines, selectTargets } from "./targets.ts";

export interface RunServiceDeps {
  db: Database;
  store: RunStore;
  credentials: CredentialStore;
  settings: SshSettings;
  hostKeys: HostKeys;
  log: Logger;
  groups: GroupOptions;
  maxOutputBytes: number;
  connectTimeoutMs: number;
  onRunFailed: () => void;
  /** This instance's id in the cluster's instances table: the runs it starts carry it. */
  instanceId: string;
}

export interface StartRequest {
  job: JobRow;
  parameters?: Record<string, string>;
  actor: Actor;
  trigger: "manual" | "schedule";
  scheduledFor?: Date;
}

/** How soon a cancel asked on another instance reaches the one running the run. */
const CANCEL_POLL_MS = 1000;
/** How often runs orphaned by a gone instance are looked for. */
const REAP_MS = 60_000;

const invalid = (field: string, message: string) => new ApiError(422, "invalid_request", `Invalid ${field}: ${message}.`, [{ field, message }]);

/** The environment a run passes to the script: given values, else defaults; unknown names and missing required ones refused. */
export function environmentFor(parameters: readonly Parameter[], given: Record<string, string> = {}): Record<string, string> {
  const names = parameters.map((p) => p.name);
  for (const name of Object.keys(given)) {
    if (!names.includes(name)) throw invalid(`parameters.${name}`, names.length ? `is not a parameter of this job (it takes ${names.join(", ")})` : "is not a parameter of this job (it takes none)");
  }
  const env: Record<string, string> = {};
  for (const p of parameters) {
    const value = Object.hasOwn(given, p.name) ? given[p.name] : p.default;
    if (value !== undefined) env[p.name] = value;
    else if (p.required) throw invalid(`parameters.${p.name}`, "is required");
  }
  return env;
}

export class RunService {
  readonly #local = new Map<number, RunExecution>();
  #reapTimer: Timer | undefined;
  /** Runs only while this instance runs something: an idle server is not woken every second. */
  #cancelPoll: Timer | undefined;

  constructor(private readonly deps: RunServiceDeps) {}

  /** Runs of gone instances are marked interrupted at once, then looked for now and then (on the
   *  embedded database there is no other instance to go: the start's look is all it takes). */
  async start(): Promise<void> {
    await this.#reap();
    if (this.deps.db.kind === "pglite") return;
    this.#reapTimer = setInterval(() => void this.#reap(), REAP_MS);
  }

  /** Stops every local run (its hosts become interrupted) and waits for their records. */
  async stop(): Promise<void> {
    clearInterval(this.#reapTimer);
    clearInterval(this.#cancelPoll);
    const running = [...this.#local.values()];
    for (const run of running) run.interrupt();
    await Promise.allSettled(running.map((r) => r.done));
  }

  /** The run in this process, when it is one. */
  local(runId: number): RunExecution | undefined {
    return this.#local.get(runId);
  }

  /** Starts a run; null when it is a scheduled slot another instance started. */
  async startRun(req: StartRequest): Promise<Run | null> {
    const { job } = req;
    const env = environmentFor(job.parameters, req.parameters);
    const targets = selectTargets(await loadTargetMachines(this.deps.db), job.targets, this.deps.groups).map((m) => ({
      machine_id: m.id, hostname: m.hostname, ip_address: m.ip_address, labels: m.labels,
    }));
    const { credentials, settings, hostKeys, connectTimeoutMs } = this.deps;
    const logins = await RunLogins.load(targets, { credentials, settings, hostKeys, connectTimeoutMs });
    const row = await this.deps.store.insert({
      job_id: job.id, job_name: job.name, script: job.script, parameters: env, timeout_seconds: job.timeout_seconds, parallelism: job.parallelism,
      stop_on_failure: job.stop_on_failure, started_by: req.actor, trigger: req.trigger, scheduled_for: req.scheduledFor ?? null, instance_id: this.deps.instanceId,
      hosts: targets,
    });
    if (!row) return null;
    const { db, store, log, maxOutputBytes, onRunFailed } = this.deps;
    const run = new RunExecution({ db, store, hostKeys, log, maxOutputBytes, onFailed: onRunFailed }, row, targets, logins, env);
    this.#local.set(row.id, run);
    this.#cancelPoll ??= setInterval(() => void this.#pollCancels(), CANCEL_POLL_MS);
    this.deps.log.info({ run_id: row.id, job: job.name, hosts: targets.length, by: req.actor.name, trigger: req.trigger }, "run started");
    run.done.then(
      (ended) => this.deps.log.info({ run_id: ended.id, job: ended.job_name, status: ended.status, message: ended.message }, "run ended"),
      (err) => this.deps.log.error({ err, run_id: row.id }, "run ended without its record written"),
    ).finally(() => {
      this.#local.delete(row.id);
      if (this.#local.size) return;
      clearInterval(this.#cancelPoll);
      this.#cancelPoll = undefined;
    });
    return { ...run.view(), script: row.script };
  }

  /** Asks the run to stop (here, or through the database on the instance running it). */
  async cancel(runId: number, actor: Actor): Promise<Run> {
    const row = await this.deps.store.requestCancel(runId, actor);
    if (!row) {
      if (!(await this.deps.store.row(runId))) throw notFound(`Run ${runId}`);
      throw new ApiError(409, "run_ended", `Run ${runId} has ended already: there is nothing to cancel.`);
    }
    const local = this.#local.get(runId);
    local?.cancel();
    return local ? { ...local.view(), script: row.script } : ((await this.deps.store.get(runId, false)) as Run);
  }

  async #pollCancels(): Promise<void> {
    if (!this.#local.size) return;
    const ids = await this.deps.store.cancelRequested([...this.#local.keys()]).catch(() => []);
    for (const id of ids) this.#local.get(id)?.cancel();
  }

  async #reap(): Promise<void> {
    try {
      const ids = await this.deps.store.reapOrphans(this.deps.instanceId, [...this.#local.keys()]);
      if (ids.length) this.deps.log.warn({ runs: ids }, "runs left running by a vxman instance that is gone: marked interrupted");
    } catch (err) {
      this.deps.log.warn({ err }, "could not look for interrupted runs");
    }
  }
}
