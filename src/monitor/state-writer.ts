// The monitor's writes, batched: check results (ping_state), RTT samples, and status
// transitions (machines.status + an unreachable/recovered event), all in ONE statement per
// flush — never a round trip per ping. When the database is away the batch is kept (merged
// with newer results, bounded) and written when it is back; events carry a key so a retried
// batch cannot log one twice. Times are epoch milliseconds until the database turns them into
// timestamps: the hot path makes no Date objects.
//
// Fenced: a row is written only for a machine whose shard this instance still holds a live lease
// on (cluster/leases.ts), read under FOR SHARE so no one can take the lease while the statement
// runs. A batch held through a database outage, written after the leases lapsed and another
// instance took over, is dropped instead of overwriting newer state or logging an event twice.
import { randomUUID } from "node:crypto";
import type { MachineStatus } from "../changes.ts";
import { isConnectionError, type Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { SHARDS } from "../cluster/leases.ts";
import { MONITOR } from "../api/events/record.ts";

export interface CheckState {
  machineId: number;
  failures: number;
  intervalMs: number;
  nextCheckAt: number;
  lastCheckedAt: number | null;
  lastReplyAt: number | null;
  lastRttMs: number | null;
}

export interface StatusEvent {
  machineId: number;
  kind: "unreachable" | "recovered";
  /** The status the machine has after this event. */
  status: MachineStatus;
  at: number;
  details: Record<string, unknown>;
}

interface Sample {
  machineId: number;
  at: number;
  rttMs: number | null;
}

/** Everything one flush writes. */
interface Batch {
  states: Map<number, CheckState>;
  samples: Sample[];
  events: (StatusEvent & { key: string })[];
  /** Each machine's status after its last transition: kept apart from the events, so that
   *  dropping old events (past the cap) never leaves a wrong status in the database. */
  statuses: Map<number, MachineStatus>;
}

/** Samples kept while the database is away; older ones are dropped (and counted) past this. */
const MAX_PENDING_SAMPLES = 200_000;
/** Status events kept while the database is away (~300 bytes each). A machine can flip only
 *  after FAILURE_THRESHOLD failed checks, so this is hours of a whole network flapping. */
const MAX_PENDING_EVENTS = 100_000;
/** By default check results of healthy machines are written no more often than every 5 s, and
 *  writers made without an interval (as in tests) write every 5 s. Each flush is one statement
 *  whose fixed cost (plan, commit; on PGlite several ms of WASM) dominated the 1,000-machine case
 *  at one flush a second (measured: main thread 2.3 % → 1.8 % of a core, process 4.9 % → 3.8 %). */
const FLUSH_EVERY_MS = 5_000;
/** …and every 30 s at least: a crash loses at most this much of their schedules and samples. */
const FLUSH_EVERY_MAX_MS = 30_000;

/**
 * MONITOR_WRITE_INTERVAL's default: half the check interval, 5–30 s. A write then holds about
 * half of each machine's checks whatever the interval, so what a crash loses and how far the
 * stored samples lag stay the same share of an interval. At the seed's 60 s, writing every 5 s
 * held one check in twelve per machine, and the writes' fixed cost was most of what vxman
 * spent on PGlite: 1,000 machines every 60 s measured 0.96–0.98 % of a core at 5 s, 0.73–0.75 %
 * at 30 s (docs/performance.md). Transitions and failing counts do not wait for it.
 */
export function defaultWriteInterval(checkIntervalMs: number): number {
  return Math.min(FLUSH_EVERY_MAX_MS, Math.max(FLUSH_EVERY_MS, Math.round(checkIntervalMs / 2)));
}
/** The count of a machine that is failing but not yet unreachable is written within a second,
 *  as every check was before: a restart resumes counting from it towards the threshold.
 *  (Transitions go within 50 ms, see recordTransition; machines long unreachable wait for the
 *  periodic write.) */
const FLUSH_FAILING_MS = 1_000;
/** A batch this big is written at once rather than at the next tick (10,000 machines at 10 s).
 *  A trade, measured both ways watching 10,000 machines at 10 s on PostgreSQL: 1,000-row writes
 *  (one a second) cost the process 6.2 % of a core against 5.1 % for 5,000-row ones, while one
 *  5,000-row statement shows in the API's tail while it runs (re-registrations under wrk: p99
 *  107 ms, against 36 ms with MONITOR_WRITE_INTERVAL=1s, which writes 1,000 rows a second at
 *  this scale). Kept at 5,000: the monitor's cost is paid all day, the tail only under a flood,
 *  and an operator who cares more for the tail sets MONITOR_WRITE_INTERVAL=1s. */
export const FLUSH_AT_ROWS = 5_000;

export interface WriterOptions {
  /** The instance whose leases fence the writes (cluster/leases.ts). */
  holder: string;
  flushEveryMs?: number;
  maxPendingSamples?: number;
  maxPendingEvents?: number;
}

const ts = (column: string) => `to_timestamp(${column} / 1000.0)`;

const FLUSH_SQL = `
WITH held AS (
  SELECT shard FROM leases WHERE holder = $18 AND expires_at > now() FOR SHARE
), state AS (
  INSERT INTO ping_state (machine_id, consecutive_failures, interval_ms, next_check_at, last_checked_at, last_reply_at, last_rtt_ms)
  SELECT u.machine_id, u.failures, u.interval_ms, ${ts("u.next_ms")}, ${ts("u.checked_ms")}, ${ts("u.reply_ms")}, u.rtt
  FROM unnest($1::int[], $2::int[], $3::int[], $4::float8[], $5::float8[], $6::float8[], $7::real[])
    AS u(machine_id, failures, interval_ms, next_ms, checked_ms, reply_ms, rtt)
  WHERE EXISTS (SELECT 1 FROM machines m WHERE m.id = u.machine_id) AND u.machine_id % ${SHARDS} IN (SELECT shard FROM held)
  ON CONFLICT (machine_id) DO UPDATE SET
    consecutive_failures = excluded.consecutive_failures, interval_ms = excluded.interval_ms,
    next_check_at = excluded.next_check_at, last_checked_at = excluded.last_checked_at,
    last_reply_at = excluded.last_reply_at, last_rtt_ms = excluded.last_rtt_ms
), samples AS (
  INSERT INTO ping_samples (machine_id, checked_at, rtt_ms)
  SELECT u.machine_id, ${ts("u.at_ms")}, u.rtt FROM unnest($8::int[], $9::float8[], $10::real[]) AS u(machine_id, at_ms, rtt)
  WHERE EXISTS (SELECT 1 FROM machines m WHERE m.id = u.machine_id) AND u.machine_id % ${SHARDS} IN (SELECT shard FROM held)
), events AS (
  INSERT INTO events (event_key, at, kind, machine_id, ip_address, hostname, details, actor)
  SELECT u.key, ${ts("u.at_ms")}, u.kind, m.id, m.ip_address, m.hostname, u.details::jsonb, '${MONITOR.name}'
  FROM unnest($11::uuid[], $12::float8[], $13::text[], $14::int[], $15::text[]) WITH ORDINALITY AS u(key, at_ms, kind, machine_id, details, n)
  JOIN machines m ON m.id = u.machine_id
  WHERE m.id % ${SHARDS} IN (SELECT shard FROM held)
  -- Ids in the order the transitions happened: the join may reorder rows, and a batch held
  -- through an outage can carry both a machine's unreachable and its recovered.
  ORDER BY u.n
  ON CONFLICT (event_key) DO NOTHING
), locked AS (
  -- Rows locked in id order, like the API's batched re-registrations: no deadlock between them.
  SELECT m.id, u.status FROM machines m JOIN unnest($16::int[], $17::text[]) AS u(machine_id, status) ON m.id = u.machine_id
  WHERE m.id % ${SHARDS} IN (SELECT shard FROM held)
  ORDER BY m.id FOR NO KEY UPDATE OF m
), status AS (
  UPDATE machines m SET status = locked.status FROM locked WHERE m.id = locked.id
)
SELECT 1`;

export interface WriterStats {
  flushes: number;
  failedFlushes: number;
  droppedSamples: number;
  droppedEvents: number;
}

export class StateWriter {
  #batch: Batch = emptyBatch();
  #flushing: Promise<void> | null = null;
  /** The batch a flush is writing right now. */
  #writing: Batch | null = null;
  /** The next periodic flush: armed only while something waits (an idle writer never wakes). */
  #timer: Timer | undefined;
  #timerAt = Infinity;
  #started = false;
  #soon: Timer | undefined;
  #databaseDown = false;
  readonly #flushEveryMs: number;
  readonly #holder: string;
  readonly #sampleCap: HoldCap;
  readonly #eventCap: HoldCap;
  /** Errors that are not an outage (a bug, a constraint race) get a few retries, then the batch goes. */
  #otherFailures = 0;
  readonly stats: WriterStats = { flushes: 0, failedFlushes: 0, droppedSamples: 0, droppedEvents: 0 };
  /** Told after a batch with unreachable/recovered events is committed (the notifications' wake). */
  onTransitionsWritten: () => void = () => {};

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    { holder, flushEveryMs = FLUSH_EVERY_MS, maxPendingSamples = MAX_PENDING_SAMPLES, maxPendingEvents = MAX_PENDING_EVENTS }: WriterOptions,
  ) {
    this.#holder = holder;
    this.#flushEveryMs = flushEveryMs;
    this.#sampleCap = new HoldCap(maxPendingSamples, "RTT samples", log);
    this.#eventCap = new HoldCap(maxPendingEvents, "unreachable/recovered events", log);
  }

  start() {
    this.#started = true;
    this.#flushLater();
  }

  /** Flush at the next tick of a grid of `periodMs` (checks are many: one flush a period takes
   *  them all), or keep an earlier flush already armed. On the grid, not a period after the first
   *  write: that write is a check, and flushes would fall in step with the checks, each just
   *  before the next check's result. */
  #flushLater(periodMs = this.#flushEveryMs) {
    if (!this.#started || this.#waiting === 0) return;
    const now = Date.now();
    const at = now + periodMs - (now % periodMs);
    if (this.#timer && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, at - now);
  }

  /** The machine's schedule and last result; a sample when it was a real check. `failing`: it
   *  is failing but not yet unreachable (written within FLUSH_FAILING_MS). */
  recordCheck(state: CheckState, sampleRttMs?: number | null, failing = false) {
    this.#batch.states.set(state.machineId, state);
    // Not while the database is away: the batch is held then, and retried on the grid.
    if (this.#batch.states.size >= FLUSH_AT_ROWS && !this.#databaseDown) this.#flushSoon();
    else this.#flushLater(failing ? Math.min(FLUSH_FAILING_MS, this.#flushEveryMs) : this.#flushEveryMs);
    if (sampleRttMs === undefined || state.lastCheckedAt === null) return;
    this.#batch.samples.push({ machineId: state.machineId, at: state.lastCheckedAt, rttMs: sampleRttMs });
    this.stats.droppedSamples += this.#sampleCap.trim(this.#batch.samples);
  }

  /** Status transitions are written within ~50 ms rather than at the next tick. */
  recordTransition(event: StatusEvent) {
    this.#batch.events.push({ ...event, key: randomUUID() });
    this.#batch.statuses.set(event.machineId, event.status);
    // Statuses stay right even when old events go: they are kept apart (Batch.statuses).
    this.stats.droppedEvents += this.#eventCap.trim(this.#batch.events);
    this.#flushSoon();
  }

  #flushSoon() {
    this.#soon ??= setTimeout(() => {
      this.#soon = undefined;
      void this.flush();
    }, 50);
  }

  forget(machineId: number) {
    this.#batch.states.delete(machineId);
    this.#batch.statuses.delete(machineId);
  }


  /** Writes not yet committed: those waiting for the next flush and those being written now. */
  get pending(): number {
    return size(this.#batch) + (this.#writing ? size(this.#writing) : 0);
  }

  /** Waiting for the next flush only (a flush does nothing when this is 0). */
  get #waiting(): number {
    return size(this.#batch);
  }

  /** Write what is pending in one statement. Safe to call at any time; flushes never overlap;
   *  never rejects (failures are kept for the next flush, logged and counted). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#waiting === 0) return;
    this.#flushing = this.#write().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  async stop() {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#soon);
    await this.flush();
  }

  async #write() {
    const batch = this.#batch;
    this.#batch = emptyBatch();
    this.#writing = batch;
    try {
      await this.#commit(batch);
    } finally {
      this.#writing = null;
    }
  }

  async #commit(batch: Batch) {
    try {
      await this.db.query(FLUSH_SQL, [...flushParams(batch), this.#holder]);
      this.stats.flushes++;
      if (batch.events.length) this.onTransitionsWritten();
      if (this.#databaseDown) {
        const dropped = { dropped_samples: this.#sampleCap.sinceWrite, dropped_events: this.#eventCap.sinceWrite };
        this.log.info({ events: batch.events.length, samples: batch.samples.length, ...dropped }, "database back: monitor state written");
      }
      this.#databaseDown = false;
      this.#sampleCap.sinceWrite = 0;
      this.#eventCap.sinceWrite = 0;
      this.#otherFailures = 0;
    } catch (err) {
      this.stats.failedFlushes++;
      if (isConnectionError(err)) {
        this.#putBack(batch);
        if (!this.#databaseDown) this.log.warn({ err: (err as Error).message, pending: this.#waiting }, "database unavailable: monitor keeps state changes in memory");
        this.#databaseDown = true;
      } else if (++this.#otherFailures <= 3) {
        this.#putBack(batch);
        this.log.error({ err }, "writing monitor state failed; will retry");
      } else {
        this.log.error({ err, dropped: size(batch) }, "writing monitor state keeps failing; batch dropped");
        this.#otherFailures = 0;
      }
    }
  }

  /** A failed batch goes back under anything newer that arrived meanwhile. */
  #putBack(old: Batch) {
    const now = this.#batch;
    for (const [id, s] of old.states) if (!now.states.has(id)) now.states.set(id, s);
    now.samples = [...old.samples, ...now.samples];
    now.events = [...old.events, ...now.events];
    for (const [id, status] of old.statuses) if (!now.statuses.has(id)) now.statuses.set(id, status);
    this.stats.droppedSamples += this.#sampleCap.trim(now.samples);
    this.stats.droppedEvents += this.#eventCap.trim(now.events);
    this.#flushLater();
  }
}

/** A bound on what is held while the database is away: past `max` the oldest go, and the first
 *  drop since the last successful write is logged (the count is logged when it is back). */
class HoldCap {
  /** Dropped since the last successful write. */
  sinceWrite = 0;

  constructor(
    readonly max: number,
    private readonly what: string,
    private readonly log: Logger,
  ) {}

  /** Drop the oldest entries of `held` past the cap, in place; returns how many went. */
  trim(held: unknown[]): number {
    const drop = held.length - this.max;
    if (drop <= 0) return 0;
    held.splice(0, drop);
    if (this.sinceWrite === 0) this.log.warn({ max_pending: this.max }, `database away too long: dropping the oldest ${this.what} held in memory`);
    this.sinceWrite += drop;
    return drop;
  }
}

function size(b: Batch): number {
  return b.states.size + b.samples.length + b.events.length;
}

function emptyBatch(): Batch {
  return { states: new Map(), samples: [], events: [], statuses: new Map() };
}

function flushParams({ states, samples, events, statuses }: Batch): unknown[] {
  const s = [...states.values()];
  return [
    s.map((x) => x.machineId),
    s.map((x) => x.failures),
    s.map((x) => x.intervalMs),
    s.map((x) => x.nextCheckAt),
    s.map((x) => x.lastCheckedAt),
    s.map((x) => x.lastReplyAt),
    s.map((x) => x.lastRttMs),
    samples.map((x) => x.machineId),
    samples.map((x) => x.at),
    samples.map((x) => x.rttMs),
    events.map((e) => e.key),
    events.map((e) => e.at),
    events.map((e) => e.kind),
    events.map((e) => e.machineId),
    events.map((e) => JSON.stringify(e.details)),
    [...statuses.keys()],
    [...statuses.values()],
  ];
}
