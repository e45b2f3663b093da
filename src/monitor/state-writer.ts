// The monitor's writes, batched: check results (ping_state), RTT samples, status transitions
// (machines.status + an unreachable/recovered event) and last_seen, all in ONE statement per
// flush — never a round trip per ping. When the database is away the batch is kept (merged
// with newer results, bounded) and written when it is back; events carry a key so a retried
// batch cannot log one twice.
import { randomUUID } from "node:crypto";
import type { MachineStatus } from "../changes.ts";
import { isConnectionError, type Database } from "../db/index.ts";
import type { Logger } from "../log.ts";

export interface CheckState {
  machineId: number;
  failures: number;
  intervalMs: number;
  nextCheckAt: Date;
  lastCheckedAt: Date | null;
  lastRttMs: number | null;
}

export interface StatusEvent {
  machineId: number;
  kind: "unreachable" | "recovered";
  status: MachineStatus;
  at: Date;
  details: Record<string, unknown>;
}

/** Samples kept while the database is away; older ones are dropped (and counted) past this. */
const MAX_PENDING_SAMPLES = 200_000;

const FLUSH_SQL = `
WITH state AS (
  INSERT INTO ping_state (machine_id, consecutive_failures, interval_ms, next_check_at, last_checked_at, last_rtt_ms)
  SELECT u.* FROM unnest($1::int[], $2::int[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::real[])
    AS u(machine_id, failures, interval_ms, next_check_at, last_checked_at, last_rtt_ms)
  WHERE EXISTS (SELECT 1 FROM machines m WHERE m.id = u.machine_id)
  ON CONFLICT (machine_id) DO UPDATE SET
    consecutive_failures = excluded.consecutive_failures, interval_ms = excluded.interval_ms,
    next_check_at = excluded.next_check_at, last_checked_at = excluded.last_checked_at,
    last_rtt_ms = excluded.last_rtt_ms
), samples AS (
  INSERT INTO ping_samples (machine_id, checked_at, rtt_ms)
  SELECT u.* FROM unnest($7::int[], $8::timestamptz[], $9::real[]) AS u(machine_id, checked_at, rtt_ms)
  WHERE EXISTS (SELECT 1 FROM machines m WHERE m.id = u.machine_id)
), events AS (
  INSERT INTO events (event_key, at, kind, machine_id, ip_address, hostname, details)
  SELECT u.key, u.at, u.kind, m.id, m.ip_address, m.hostname, u.details::jsonb
  FROM unnest($10::uuid[], $11::timestamptz[], $12::text[], $13::int[], $14::text[]) AS u(key, at, kind, machine_id, details)
  JOIN machines m ON m.id = u.machine_id
  ON CONFLICT (event_key) DO NOTHING
), touched AS (
  UPDATE machines m SET status = coalesce(u.status, m.status), last_seen = greatest(m.last_seen, u.seen)
  FROM unnest($15::int[], $16::text[], $17::timestamptz[]) AS u(machine_id, status, seen)
  WHERE m.id = u.machine_id
)
SELECT 1`;

interface MachineTouch {
  status: MachineStatus | null;
  seen: Date | null;
}

interface Sample {
  machineId: number;
  at: Date;
  rttMs: number | null;
}

/** Everything one flush writes. */
interface Batch {
  states: Map<number, CheckState>;
  samples: Sample[];
  events: (StatusEvent & { key: string })[];
  touches: Map<number, MachineTouch>;
}

export interface WriterStats {
  flushes: number;
  failedFlushes: number;
  rowsWritten: number;
  droppedSamples: number;
}

export class StateWriter {
  #states: Batch["states"] = new Map();
  #samples: Batch["samples"] = [];
  #events: Batch["events"] = [];
  #touches: Batch["touches"] = new Map();
  #flushing: Promise<void> | null = null;
  #timer: Timer | undefined;
  #soon: Timer | undefined;
  #databaseDown = false;
  readonly stats: WriterStats = { flushes: 0, failedFlushes: 0, rowsWritten: 0, droppedSamples: 0 };

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly flushEveryMs = 1000,
  ) {}

  start() {
    this.#timer = setInterval(() => void this.flush(), this.flushEveryMs);
  }

  /** Errors that are not an outage (a bug, a constraint race) get a few retries, then the batch goes. */
  #otherFailures = 0;

  recordCheck(state: CheckState, sample: { at: Date; rttMs: number | null } | null) {
    this.#states.set(state.machineId, state);
    if (sample) this.#samples.push({ machineId: state.machineId, ...sample });
    if (this.#samples.length > MAX_PENDING_SAMPLES) {
      const drop = this.#samples.length - MAX_PENDING_SAMPLES;
      this.#samples.splice(0, drop);
      this.stats.droppedSamples += drop;
    }
  }

  recordSeen(machineId: number, at: Date) {
    const t = this.#touch(machineId);
    if (!t.seen || t.seen < at) t.seen = at;
  }

  /** Status transitions are written within ~50 ms rather than at the next tick. */
  recordTransition(event: StatusEvent) {
    this.#events.push({ ...event, key: randomUUID() });
    this.#touch(event.machineId).status = event.status;
    this.#soon ??= setTimeout(() => {
      this.#soon = undefined;
      void this.flush();
    }, 50);
  }

  forget(machineId: number) {
    this.#states.delete(machineId);
    this.#touches.delete(machineId);
  }

  get pending(): number {
    return this.#states.size + this.#samples.length + this.#events.length + this.#touches.size;
  }

  /** Write what is pending in one statement. Safe to call at any time; flushes never overlap;
   *  never rejects (failures are kept for the next flush, logged and counted). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.pending === 0) return;
    this.#flushing = this.#write().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  async stop() {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    await this.flush();
  }

  #touch(machineId: number): MachineTouch {
    let t = this.#touches.get(machineId);
    if (!t) this.#touches.set(machineId, (t = { status: null, seen: null }));
    return t;
  }

  async #write() {
    const batch: Batch = { states: this.#states, samples: this.#samples, events: this.#events, touches: this.#touches };
    this.#states = new Map();
    this.#samples = [];
    this.#events = [];
    this.#touches = new Map();
    try {
      await this.db.query(FLUSH_SQL, flushParams(batch));
      this.stats.flushes++;
      this.stats.rowsWritten += batch.states.size + batch.samples.length + batch.events.length + batch.touches.size;
      if (this.#databaseDown) this.log.info({ events: batch.events.length }, "database back: monitor state written");
      this.#databaseDown = false;
      this.#otherFailures = 0;
    } catch (err) {
      this.stats.failedFlushes++;
      if (isConnectionError(err)) {
        this.#putBack(batch);
        if (!this.#databaseDown) this.log.warn({ err: (err as Error).message, pending: this.pending }, "database unavailable: monitor keeps state changes in memory");
        this.#databaseDown = true;
      } else if (++this.#otherFailures <= 3) {
        this.#putBack(batch);
        this.log.error({ err }, "writing monitor state failed; will retry");
      } else {
        this.log.error({ err, dropped: batch.states.size + batch.samples.length + batch.events.length }, "writing monitor state keeps failing; batch dropped");
        this.#otherFailures = 0;
      }
    }
  }

  /** A failed batch goes back under anything newer that arrived meanwhile. */
  #putBack(batch: Batch) {
    for (const [id, s] of batch.states) if (!this.#states.has(id)) this.#states.set(id, s);
    this.#samples = [...batch.samples, ...this.#samples];
    this.#events = [...batch.events, ...this.#events];
    for (const [id, old] of batch.touches) {
      const now = this.#touches.get(id);
      if (!now) this.#touches.set(id, old);
      else {
        now.status ??= old.status;
        if (old.seen && (!now.seen || old.seen > now.seen)) now.seen = old.seen;
      }
    }
  }
}

// Times go as ISO text: postgres.js would type an array of Dates as a single timestamptz.
const iso = (d: Date | null) => d?.toISOString() ?? null;

function flushParams(batch: Batch): unknown[] {
  const states = [...batch.states.values()];
  const touches = [...batch.touches.entries()];
  return [
    states.map((s) => s.machineId),
    states.map((s) => s.failures),
    states.map((s) => s.intervalMs),
    states.map((s) => iso(s.nextCheckAt)),
    states.map((s) => iso(s.lastCheckedAt)),
    states.map((s) => s.lastRttMs),
    batch.samples.map((s) => s.machineId),
    batch.samples.map((s) => iso(s.at)),
    batch.samples.map((s) => s.rttMs),
    batch.events.map((e) => e.key),
    batch.events.map((e) => iso(e.at)),
    batch.events.map((e) => e.kind),
    batch.events.map((e) => e.machineId),
    batch.events.map((e) => JSON.stringify(e.details)),
    touches.map(([id]) => id),
    touches.map(([, t]) => t.status),
    touches.map(([, t]) => iso(t.seen)),
  ];
}
