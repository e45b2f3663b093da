// Runs in the database: the run and its hosts as they start, each host's state as it changes,
// the outcome, and the reads (one run with its hosts and output, lists, output after a sequence
// number). Single statements on the hot path: on PostgreSQL vxman's transactions share one
// connection, and a run of many hosts must not queue behind it.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ownerGone } from "./instance.ts";
import { displayText } from "./output-text.ts";
import type { OutputChunk } from "./run-output.ts";
import type { HostState, Run, RunHost, RunQuery, RunStatus, RunSummary } from "./run-model.ts";

export interface RunRow {
  id: number;
  job_id: number | null;
  job_name: string;
  script: string;
  parameters: Record<string, string>;
  timeout_seconds: number;
  parallelism: number;
  stop_on_failure: boolean;
  status: RunStatus;
  message: string | null;
  started_by: string;
  trigger: "manual" | "schedule";
  scheduled_for: Date | null;
  instance_id: string;
  cancel_requested_at: Date | null;
  cancelled_by: string | null;
  created_at: Date;
  ended_at: Date | null;
}

export interface HostRow {
  machine_id: number;
  hostname: string;
  ip_address: string;
  state: HostState;
  exit_code: number | null;
  signal: string | null;
  message: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  output_bytes: number;
  truncated: boolean;
}

export interface NewRun {
  job_id: number;
  job_name: string;
  script: string;
  parameters: Record<string, string>;
  timeout_seconds: number;
  parallelism: number;
  stop_on_failure: boolean;
  started_by: Actor;
  trigger: "manual" | "schedule";
  scheduled_for: Date | null;
  instance_id: string;
  hosts: { machine_id: number; hostname: string; ip_address: string }[];
}

const RUN_COLUMNS = `r.id, r.job_id, r.job_name, r.script, r.parameters, r.timeout_seconds, r.parallelism, r.stop_on_failure, r.status, r.message,
  r.started_by, r.trigger, r.scheduled_for, r.instance_id, r.cancel_requested_at, r.cancelled_by, r.created_at, r.ended_at`;
const HOST_COLUMNS = "machine_id, hostname, host(ip_address) AS ip_address, state, exit_code, signal, message, started_at, ended_at, output_bytes, truncated";

const iso = (d: Date | null) => d?.toISOString() ?? null;
const seconds = (from: Date | null, to: Date | null) => (from && to ? (to.getTime() - from.getTime()) / 1000 : null);

export function toHost(h: HostRow): RunHost {
  return { ...h, started_at: iso(h.started_at), ended_at: iso(h.ended_at), duration_seconds: seconds(h.started_at, h.ended_at), output_bytes: Number(h.output_bytes) };
}

export function toSummary(r: RunRow, hostsByState: Record<string, number>): RunSummary {
  return {
    id: r.id, job_id: r.job_id, job_name: r.job_name, status: r.status, message: r.message, trigger: r.trigger, started_by: r.started_by,
    scheduled_for: iso(r.scheduled_for), instance_id: r.instance_id, parameters: r.parameters, timeout: r.timeout_seconds, parallelism: r.parallelism,
    stop_on_failure: r.stop_on_failure, created_at: r.created_at.toISOString(), ended_at: iso(r.ended_at), duration_seconds: seconds(r.created_at, r.ended_at),
    cancel_requested_at: iso(r.cancel_requested_at), cancelled_by: r.cancelled_by, hosts_by_state: hostsByState,
  };
}

export const countByState = (hosts: readonly { state: string }[]) =>
  hosts.reduce<Record<string, number>>((acc, h) => ((acc[h.state] = (acc[h.state] ?? 0) + 1), acc), {});

export class RunStore {
  constructor(private readonly db: Database) {}

  /** The run and its queued hosts, with a run_started event. Null when a scheduled slot was taken by another instance. */
  async insert(run: NewRun): Promise<RunRow | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<RunRow>(
        `INSERT INTO runs AS r (job_id, job_name, script, parameters, timeout_seconds, parallelism, stop_on_failure, started_by, started_by_address, trigger, scheduled_for, instance_id)
         VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (job_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING RETURNING ${RUN_COLUMNS}`,
        [
          run.job_id, run.job_name, run.script, JSON.stringify(run.parameters), run.timeout_seconds, run.parallelism, run.stop_on_failure,
          run.started_by.name, run.started_by.address, run.trigger, run.scheduled_for, run.instance_id,
        ],
      );
      if (!row) return null;
      await tx.query(
        `INSERT INTO run_hosts (run_id, machine_id, position, hostname, ip_address)
         SELECT $1, machine_id, position, hostname, ip::inet FROM unnest($2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS h(machine_id, hostname, ip, position)`,
        [row.id, run.hosts.map((h) => h.machine_id), run.hosts.map((h) => h.hostname), run.hosts.map((h) => h.ip_address)],
      );
      await recordEvent(tx, {
        kind: "run_started",
        actor: run.started_by,
        details: { run_id: row.id, job_id: run.job_id, job_name: run.job_name, trigger: run.trigger, hosts: run.hosts.length, parameters: Object.keys(run.parameters) },
      });
      return row;
    });
  }

  async setHost(runId: number, h: Pick<HostRow, "machine_id" | "state"> & Partial<HostRow>): Promise<void> {
    await this.db.query(
      `UPDATE run_hosts SET state = $3, exit_code = coalesce($4, exit_code), signal = coalesce($5, signal), message = coalesce($6, message),
         started_at = coalesce($7, started_at), ended_at = coalesce($8, ended_at), output_bytes = coalesce($9, output_bytes), truncated = coalesce($10, truncated)
       WHERE run_id = $1 AND machine_id = $2`,
      [runId, h.machine_id, h.state, h.exit_code ?? null, h.signal ?? null, h.message ?? null, h.started_at ?? null, h.ended_at ?? null, h.output_bytes ?? null, h.truncated ?? null],
    );
  }

  /** Hosts that never started: skipped (after a failure) or cancelled. */
  async endQueued(runId: number, state: "skipped" | "cancelled" | "interrupted", message: string): Promise<void> {
    await this.db.query("UPDATE run_hosts SET state = $2, message = $3 WHERE run_id = $1 AND state = 'queued'", [runId, state, message]);
  }

  /** The outcome; a failed run also becomes a run_failed event (channels may announce it). */
  async finish(runId: number, status: Exclude<RunStatus, "running">, message: string | null, failed: Record<string, unknown> | null): Promise<RunRow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<RunRow>(
        `UPDATE runs r SET status = $2, message = $3, ended_at = now() WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
        [runId, status, message],
      );
      if (failed) await recordEvent(tx, { kind: "run_failed", actor: { name: "jobs", address: null }, details: failed });
      return row!;
    });
  }

  async requestCancel(runId: number, actor: Actor, q: Queryable = this.db): Promise<RunRow | null> {
    const [row] = await q.query<RunRow>(
      `UPDATE runs r SET cancel_requested_at = coalesce(cancel_requested_at, now()), cancelled_by = coalesce(cancelled_by, $2)
       WHERE id = $1 AND status = 'running' RETURNING ${RUN_COLUMNS}`,
      [runId, actor.name],
    );
    if (row) await recordEvent(q, { kind: "run_cancelled", actor, details: { run_id: runId, job_name: row.job_name } });
    return row ?? null;
  }

  /** Of these runs, those someone asked (maybe on another instance) to cancel. */
  async cancelRequested(runIds: readonly number[]): Promise<number[]> {
    const rows = await this.db.query<{ id: number }>("SELECT id FROM runs WHERE id = ANY($1::bigint[]) AND cancel_requested_at IS NOT NULL", [runIds]);
    return rows.map((r) => r.id);
  }

  /**
   * Runs left "running" by an instance that is gone (see instance.ts), except `local` ones: their
   * unfinished hosts become interrupted, and so do the runs. Returns the ids.
   */
  async reapOrphans(me: string, local: readonly number[]): Promise<number[]> {
    return this.db.transaction(async (tx) => {
      const runs = await tx.query<{ id: number }>(
        `UPDATE runs r SET status = 'interrupted', ended_at = now(), message = 'the vxman instance running it stopped (' || r.instance_id || ')'
         WHERE r.status = 'running' AND $1::text IS NOT NULL AND ${ownerGone("$1", this.db.kind === "pglite")} AND NOT (r.id = ANY($2::bigint[])) RETURNING r.id`,
        [me, local],
      );
      if (runs.length) {
        await tx.query(
          `UPDATE run_hosts SET state = 'interrupted', ended_at = CASE WHEN started_at IS NULL THEN NULL ELSE now() END,
             message = 'vxman stopped during the run: how the script ended is unknown'
           WHERE run_id = ANY($1::bigint[]) AND state IN ('queued', 'connecting', 'running')`,
          [runs.map((r) => r.id)],
        );
      }
      return runs.map((r) => r.id);
    });
  }

  async row(runId: number): Promise<RunRow | null> {
    const [row] = await this.db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE id = $1`, [runId]);
    return row ?? null;
  }

  async hosts(runId: number): Promise<HostRow[]> {
    return this.db.query<HostRow>(`SELECT ${HOST_COLUMNS} FROM run_hosts WHERE run_id = $1 ORDER BY position`, [runId]);
  }

  async get(runId: number, withOutput: boolean): Promise<Run | null> {
    const row = await this.row(runId);
    if (!row) return null;
    const hosts = (await this.hosts(runId)).map(toHost);
    if (withOutput) {
      const output = await this.outputByHost(runId);
      for (const h of hosts) h.output = output.get(h.machine_id) ?? "";
    }
    return { ...toSummary(row, countByState(hosts)), script: row.script, hosts };
  }

  async list(q: RunQuery): Promise<RunSummary[]> {
    const rows = await this.db.query<RunRow & { by_state: Record<string, number> | null }>(
      `SELECT ${RUN_COLUMNS}, (SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*)::int AS n FROM run_hosts WHERE run_id = r.id GROUP BY state) s) AS by_state
       FROM runs r WHERE ($1::int IS NULL OR r.job_id = $1) AND ($2::text IS NULL OR r.status = $2) AND ($3::bigint IS NULL OR r.id < $3)
       ORDER BY r.id DESC LIMIT $4`,
      [q.job_id ?? null, q.status ?? null, q.before ?? null, q.limit ?? 100],
    );
    return rows.map(({ by_state, ...r }) => toSummary(r, by_state ?? {}));
  }

  /** Output chunks with after < seq <= upTo, in order: at most `limit`, and about `maxBytes` (at least one). */
  async chunks(runId: number, after: number, upTo = 2_147_483_647, limit = 500, maxBytes = 2 * 1024 * 1024): Promise<OutputChunk[]> {
    const rows = await this.db.query<OutputChunk>(
      `SELECT seq, machine_id, stream, data FROM (
         SELECT seq, machine_id, stream, data, sum(octet_length(data)) OVER (ORDER BY seq) - octet_length(data) AS before
         FROM run_output WHERE run_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4
       ) c WHERE before < $5 ORDER BY seq`,
      [runId, after, upTo, limit, maxBytes],
    );
    return rows.map((r) => ({ ...r, data: new Uint8Array(r.data) }));
  }

  /** Each host's output as one text, chunks in order (decoded together, so nothing splits a character). */
  private async outputByHost(runId: number): Promise<Map<number, string>> {
    const rows = await this.db.query<{ machine_id: number; data: Uint8Array }>(
      "SELECT machine_id, data FROM run_output WHERE run_id = $1 ORDER BY machine_id, seq",
      [runId],
    );
    const parts = new Map<number, Uint8Array[]>();
    for (const r of rows) {
      const list = parts.get(r.machine_id) ?? [];
      list.push(r.data);
      parts.set(r.machine_id, list);
    }
    return new Map([...parts].map(([id, list]) => [id, displayText(Buffer.concat(list))]));
  }
}
