// Jobs as admins define them: a named shell script, the machines it runs on, how (timeout per
// host, hosts at once, stop after a failure or keep going), parameters passed as environment
// variables, and an optional cron schedule in a time zone.
import { Cron } from "croner";
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { checkSchedule } from "../outages/silences.ts";
import type { Job, JobPatch, NewJob, Parameter, Targets } from "./run-model.ts";

export interface JobRow {
  id: number;
  name: string;
  description: string;
  script: string;
  targets: Targets;
  timeout_seconds: number;
  parallelism: number;
  stop_on_failure: boolean;
  parameters: Parameter[];
  cron: string | null;
  timezone: string | null;
  schedule_since: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = "id, name, description, script, targets, timeout_seconds, parallelism, stop_on_failure, parameters, cron, timezone, schedule_since, created_by, created_at, updated_at";
export const DEFAULT_TIMEOUT_S = 300;
export const DEFAULT_PARALLELISM = 10;

/** The next time a schedule fires after `now`, or null when it never will. */
export function nextRunOf(cron: string, timezone: string, now = new Date()): Date | null {
  return new Cron(cron, { timezone, paused: true }).nextRun(now);
}

export function toJob(r: JobRow, now = new Date()): Job {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    script: r.script,
    targets: r.targets,
    timeout: r.timeout_seconds,
    parallelism: r.parallelism,
    stop_on_failure: r.stop_on_failure,
    parameters: r.parameters,
    schedule: r.cron && r.timezone ? { cron: r.cron, timezone: r.timezone, next_run_at: nextRunOf(r.cron, r.timezone, now)?.toISOString() ?? null } : null,
    created_by: r.created_by,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

/** Names listed once; a scheduled job (nobody there to give values) has a default for each required one. */
function checkParameters(parameters: readonly Parameter[] | undefined, scheduled: boolean): void {
  const seen = new Set<string>();
  parameters?.forEach((p, i) => {
    if (seen.has(p.name)) {
      throw new ApiError(422, "invalid_request", `Invalid parameters.${i}.name: ${p.name} is listed twice.`, [{ field: `parameters.${i}.name`, message: `${p.name} is listed twice` }]);
    }
    seen.add(p.name);
    if (scheduled && p.required && p.default === undefined) {
      const message = "a scheduled job runs with no one to give values: a required parameter needs a default";
      throw new ApiError(422, "invalid_request", `Invalid parameters.${i}.default: ${message}.`, [{ field: `parameters.${i}.default`, message }]);
    }
  });
}

const nameTaken = (name: string | undefined) => (err: unknown) => {
  if ((err as { code?: string }).code === "23505") throw new ApiError(409, "conflict", `A job named "${name}" exists already.`);
  throw err;
};

export class JobStore {
  constructor(private readonly db: Database) {}

  async list(name?: string): Promise<Job[]> {
    const rows = await this.db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE ($1::text IS NULL OR name = $1) ORDER BY lower(name)`, [name ?? null]);
    return rows.map((r) => toJob(r));
  }

  async get(id: number): Promise<Job> {
    return toJob(await this.row(id));
  }

  async row(id: number, q: Queryable = this.db): Promise<JobRow> {
    const [row] = await q.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
    if (!row) throw notFound(`Job ${id}`);
    return row;
  }

  /** Jobs with a schedule: what the scheduler looks at. */
  async scheduled(q: Queryable = this.db): Promise<JobRow[]> {
    return q.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE cron IS NOT NULL ORDER BY id`);
  }

  async create(body: NewJob, actor: Actor): Promise<Job> {
    checkParameters(body.parameters, Boolean(body.schedule));
    const timezone = body.schedule ? (body.schedule.timezone ?? "UTC") : null;
    if (body.schedule) checkSchedule(body.schedule.cron, timezone!);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<JobRow>(
        `INSERT INTO jobs (name, description, script, targets, timeout_seconds, parallelism, stop_on_failure, parameters, cron, timezone, schedule_since, created_by)
         VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8::text::jsonb, $9, $10, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END, $11)
         RETURNING ${COLUMNS}`,
        [
          body.name, body.description ?? "", body.script, JSON.stringify(body.targets), body.timeout ?? DEFAULT_TIMEOUT_S, body.parallelism ?? DEFAULT_PARALLELISM,
          body.stop_on_failure ?? false, JSON.stringify(body.parameters ?? []), body.schedule?.cron ?? null, timezone, actor.name,
        ],
      ).catch(nameTaken(body.name));
      await recordEvent(tx, { kind: "job_created", actor, details: { job_id: row!.id, name: row!.name } });
      return toJob(row!);
    });
  }

  async update(id: number, patch: JobPatch, actor: Actor): Promise<Job> {
    const schedule = patch.schedule === undefined ? undefined : patch.schedule && { cron: patch.schedule.cron, timezone: patch.schedule.timezone ?? "UTC" };
    if (schedule) checkSchedule(schedule.cron, schedule.timezone);
    if (patch.parameters || schedule) {
      const current = await this.row(id);
      checkParameters(patch.parameters ?? current.parameters, schedule !== undefined ? schedule !== null : current.cron !== null);
    }
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<JobRow>(
        `UPDATE jobs SET name = coalesce($2, name), description = coalesce($3, description), script = coalesce($4, script),
           targets = coalesce($5::text::jsonb, targets), timeout_seconds = coalesce($6, timeout_seconds), parallelism = coalesce($7, parallelism),
           stop_on_failure = coalesce($8, stop_on_failure), parameters = coalesce($9::text::jsonb, parameters),
           cron = CASE WHEN $10 THEN $11 ELSE cron END, timezone = CASE WHEN $10 THEN $12 ELSE timezone END,
           schedule_since = CASE WHEN $10 AND $11::text IS NOT NULL THEN now() WHEN $10 THEN NULL ELSE schedule_since END,
           updated_at = now()
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [
          id, patch.name ?? null, patch.description ?? null, patch.script ?? null, patch.targets ? JSON.stringify(patch.targets) : null,
          patch.timeout ?? null, patch.parallelism ?? null, patch.stop_on_failure ?? null, patch.parameters ? JSON.stringify(patch.parameters) : null,
          schedule !== undefined, schedule?.cron ?? null, schedule?.timezone ?? null,
        ],
      ).catch(nameTaken(patch.name));
      if (!row) throw notFound(`Job ${id}`);
      await recordEvent(tx, { kind: "job_changed", actor, details: { job_id: id, name: row.name, changed: Object.keys(patch) } });
      return toJob(row);
    });
  }

  /** Its runs stay, as records (job_id becomes null; they keep the job's name and script). */
  async remove(id: number, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ name: string }>("DELETE FROM jobs WHERE id = $1 RETURNING name", [id]);
      if (!row) throw notFound(`Job ${id}`);
      await recordEvent(tx, { kind: "job_deleted", actor, details: { job_id: id, name: row.name } });
    });
  }
}
