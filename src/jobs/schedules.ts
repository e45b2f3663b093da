// Scheduled jobs: each job with a cron schedule (croner, in its time zone) starts a run at each
// slot. A slot is one run however many instances share the database: the run row carries the
// slot (job_id, scheduled_for) under a unique index, so the first instance to insert it runs it
// and the others find it taken. After downtime only the latest missed slot is considered: run
// once, late, when JOB_CATCH_UP is on (the default), else skipped.
import { Cron } from "croner";
import type { Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { WakeTimer } from "../wake-timer.ts";
import type { JobRow, JobStore } from "./job-store.ts";
import type { RunService } from "./run-service.ts";

export const SCHEDULE_ACTOR: Actor = { name: "schedule", address: null };
/** A slot this late is still on time (timers drift, a pass may be busy); later, it was missed. */
const ON_TIME_MS = 60_000;
/** Jobs are read again at least this often (another instance may have changed them). */
const SAFETY_PASS_MS = 60_000;

/** The latest slot at or before `now` that has not had its run, or null. Pure. */
export function dueSlot(job: Pick<JobRow, "cron" | "timezone" | "schedule_since">, lastScheduled: Date | null, now: number): Date | null {
  if (!job.cron || !job.timezone) return null;
  const slot = new Cron(job.cron, { timezone: job.timezone, paused: true }).previousRuns(1, new Date(now + 1))[0];
  if (!slot) return null;
  const since = Math.max(job.schedule_since?.getTime() ?? 0, lastScheduled?.getTime() ?? 0);
  return slot.getTime() > since ? slot : null;
}

export class JobSchedules {
  readonly #timer: WakeTimer;
  /** Missed slots already skipped (JOB_CATCH_UP=false): told once, not on every pass. */
  readonly #skipped = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly jobs: JobStore,
    private readonly runs: RunService,
    private readonly catchUp: boolean,
    private readonly log: Logger,
  ) {
    this.#timer = new WakeTimer(() => this.#pass(), SAFETY_PASS_MS, (err) => log.error({ err }, "scheduled jobs: pass failed; will retry"));
  }

  start(): void {
    this.#timer.start();
  }

  /** A job's schedule may have changed. */
  poke(): void {
    this.#timer.soon();
  }

  /** One pass now (tests); resolves when it is done. */
  runOnce(): Promise<void> {
    return this.#timer.now();
  }

  stop(): Promise<void> {
    return this.#timer.stop();
  }

  async #pass(): Promise<number | null> {
    const now = Date.now();
    const jobs = await this.jobs.scheduled();
    const last = await this.#lastScheduled(jobs.map((j) => j.id));
    let next = Infinity;
    for (const job of jobs) {
      const slot = dueSlot(job, last.get(job.id) ?? null, now);
      if (slot) await this.#fire(job, slot, now - slot.getTime());
      const upcoming = new Cron(job.cron!, { timezone: job.timezone!, paused: true }).nextRun(new Date(now));
      if (upcoming) next = Math.min(next, upcoming.getTime());
    }
    return Number.isFinite(next) ? next : null;
  }

  async #fire(job: JobRow, slot: Date, lateMs: number): Promise<void> {
    const key = `${job.id}@${slot.getTime()}`;
    if (lateMs > ON_TIME_MS && !this.catchUp) {
      if (!this.#skipped.has(key)) this.log.warn({ job: job.name, slot: slot.toISOString() }, "scheduled run missed while vxman was down: skipped (JOB_CATCH_UP=false)");
      this.#skipped.add(key);
      return;
    }
    try {
      const run = await this.runs.startRun({ job, actor: SCHEDULE_ACTOR, trigger: "schedule", scheduledFor: slot });
      if (run && lateMs > ON_TIME_MS) this.log.warn({ job: job.name, slot: slot.toISOString(), run_id: run.id }, "scheduled run missed while vxman was down: started now (catch-up)");
    } catch (err) {
      this.log.error({ err, job: job.name, slot: slot.toISOString() }, "scheduled run could not start; will retry");
    }
  }

  async #lastScheduled(jobIds: number[]): Promise<Map<number, Date>> {
    const rows = await this.db.query<{ job_id: number; last: Date }>(
      "SELECT job_id, max(scheduled_for) AS last FROM runs WHERE job_id = ANY($1::int[]) AND scheduled_for IS NOT NULL GROUP BY job_id",
      [jobIds],
    );
    return new Map(rows.map((r) => [r.job_id, r.last]));
  }
}
