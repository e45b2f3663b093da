// Checks the machines this instance holds leases on (all of them, when it runs alone): checks each
// one when it is due, applies the backoff rules, and turns what it sees into state writes
// (batched), events and live status updates. The lease keeper (cluster/leases.ts) hands it
// shards to adopt, resuming each machine's schedule and failure count from the database, and
// shards to drop. Registrations in its shards are watched at once, deletions stop at once
// (through the change feed, which other instances' changes reach too).
import { loopLag } from "../loop-lag.ts";
import type { MonitoringState } from "../api/health/index.ts";
import type { ChangeFeed, MachineStatus } from "../changes.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { afterFailure, afterSuccess, backoffInterval, jittered, type Health, type Policy, type Transition } from "./backoff.ts";
import type { PingerStats, ProbeResult } from "./pinger.ts";
import type { GroupOptions } from "../outages/groups.ts";
import { Segments, type Direction } from "./segments.ts";
import { StateWriter } from "./state-writer.ts";
import { shardOf, SHARDS } from "../cluster/leases.ts";

/** What the scheduler needs of the ICMP engine (the Pinger). */
export interface Prober {
  probe(ip: string, timeoutMs: number): Promise<ProbeResult>;
  close(): Promise<void>;
  readonly stats: PingerStats;
}

/** Monitoring is off (no ICMP socket): nothing can be checked on demand. */
export class MonitoringOffError extends Error {}

export interface MonitorOptions extends Policy {
  timeoutMs: number;
  /** How often healthy machines' check results are written (MONITOR_WRITE_INTERVAL). */
  writeIntervalMs?: number;
  /** How machines form segments (GROUP_BY): neighbours are checked together (segments.ts). */
  segments?: GroupOptions;
}

export interface MonitorDeps {
  db: Database;
  /** This instance's id: the monitor's writes are fenced on its leases (state-writer.ts). */
  instanceId: string;
  feed: ChangeFeed;
  log: Logger;
  options: MonitorOptions;
  /** null when no ICMP socket could be opened: heartbeats still count, nothing is pinged. */
  prober: Prober | null;
  unavailableReason?: string;
}

/** A watched machine; times are epoch ms. */
interface Watched extends Health {
  id: number;
  ip: string;
  nextCheckAt: number;
  lastCheckedAt: number | null;
  lastReplyAt: number | null;
  lastRttMs: number | null;
  /** Last sign of life of any kind: reply, heartbeat, registration. */
  lastSeen: number;
  /** The check in flight, if one is. */
  checking: Promise<ProbeResult> | null;
}

interface WatchedRow {
  id: number;
  ip: string;
  labels: string[];
  extra_data: Record<string, unknown>;
  status: MachineStatus;
  last_seen: Date;
  failures: number | null;
  next_check_at: Date | null;
  last_checked_at: Date | null;
  last_reply_at: Date | null;
  last_rtt_ms: number | null;
}

/** ISO 8601 of an epoch-ms time; the last one is reused, since a reply's check time and its
 *  last_seen are the same instant (a thousand checks a second make this worth it). */
let lastIsoMs = NaN;
let lastIso = "";
function iso(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

// The loop sleeps until the next machine is due, but never less than a tick after its last
// wake-up nor more than a second. A tick is 1 % of the check interval, 100 ms to 1 s (600 ms at
// the seed's 60 s): the checks due within it go out together in one wake-up, and their replies
// come back together to the receiver thread. With 1,000 machines a tick of 10 ms woke the
// process 50 times a second, the largest part of its cost (docs/performance.md). A check is at
// most 1 % of its interval late; intervals are jittered by ±10 % anyway. A new machine and a
// segment's nudge wake the loop within MIN_TICK_MS.
const MIN_TICK_MS = 100;
const TICK_SHARE_OF_INTERVAL = 0.01;
const MAX_TICK_MS = 1000;
/** Machines overdue when adopted (a restart, a takeover) are spread over at most this long, not
 *  checked in one burst; short enough that a takeover checks them well within a lease period. */
const RESUME_SPREAD_MS = 3_000;

export class Monitor {
  readonly #watched = new Map<number, Watched>();
  /** The shards this instance holds leases on (cluster/leases.ts): their machines are watched. */
  readonly #ownedShards = new Set<number>();
  readonly #segments: Segments | undefined;
  readonly #writer: StateWriter;
  #timer: Timer | undefined;
  /** When the pending timer fires (Infinity: none pending). */
  #wakeAt = Infinity;
  #lastTick = 0;
  /** The shortest sleep between two scheduled wake-ups (see TICK_SHARE_OF_INTERVAL). */
  readonly #tickMs: number;
  #stopped = false;
  #unsubscribe: () => void = () => {};

  private constructor(private readonly deps: MonitorDeps) {
    this.#writer = new StateWriter(deps.db, deps.log, { holder: deps.instanceId, flushEveryMs: deps.options.writeIntervalMs });
    this.#segments = deps.options.segments ? new Segments(deps.options.segments, deps.options.intervalMs) : undefined;
    this.#tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.round(deps.options.intervalMs * TICK_SHARE_OF_INTERVAL)));
  }

  /** Watches nothing until it is given shards (adopt). */
  static start(deps: MonitorDeps): Monitor {
    const monitor = new Monitor(deps);
    monitor.#unsubscribe = deps.feed.subscribe((change) => {
      // (An update of one not watched yet: another instance's registration that reached us as an update.)
      if ((change.type === "machine_registered" || change.type === "machine_updated") && monitor.#owns(change.machine.id)) monitor.#watch(change.machine.id, change.machine.ip_address, Date.now());
      if ((change.type === "machine_registered" || change.type === "machine_updated") && monitor.#owns(change.machine.id)) monitor.#segments?.place(change.machine.id, change.machine);
      else if (change.type === "machine_deleted") monitor.#unwatch(change.machine_id);
      else if (change.type === "machine_seen") monitor.#seen(change.machine_id, change.at, change.via);
    });
    monitor.#writer.start();
    return monitor;
  }

  #owns(machineId: number): boolean {
    return this.#ownedShards.has(shardOf(machineId));
  }

  async adopt(shards: number[]): Promise<void> {
    for (const s of shards) this.#ownedShards.add(s);
    const rows = await this.deps.db.query<WatchedRow>(
      `SELECT m.id, host(m.ip_address) AS ip, m.labels, m.extra_data, m.status, greatest(m.last_seen, p.last_reply_at) AS last_seen,
              p.consecutive_failures AS failures, p.next_check_at, p.last_checked_at, p.last_reply_at, p.last_rtt_ms
       FROM machines m LEFT JOIN ping_state p ON p.machine_id = m.id WHERE m.id % ${SHARDS} = ANY($1::int[])`,
      [shards],
    );
    const now = Date.now();
    for (const row of rows) {
      // Dropped again while loading, or registered (and watched) meanwhile: leave it be.
      if (!this.#owns(row.id) || this.#watched.has(row.id)) continue;
      this.#watched.set(row.id, this.#resume(row, now));
      this.#segments?.place(row.id, { ip_address: row.ip, labels: row.labels, extra_data: row.extra_data });
    }
    this.deps.log.debug({ shards: shards.length, machines: rows.length }, "adopted shards");
    this.#wakeBy(now);
  }

  /** Shards this instance no longer holds: stop checking their machines now. */
  drop(shards: number[]): void {
    const gone = new Set(shards);
    for (const s of shards) this.#ownedShards.delete(s);
    for (const id of this.#watched.keys()) {
      if (!gone.has(shardOf(id))) continue;
      this.#watched.delete(id); // a probe in flight finds it gone and is not recorded
      this.#segments?.remove(id);
    }
  }

  /** Write what is pending now (before shards are handed to another instance). */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  get state(): MonitoringState {
    return this.deps.prober ? { monitoring: "on" } : { monitoring: "off", monitoring_reason: this.deps.unavailableReason ?? "no ICMP socket" };
  }

  get watching(): number {
    return this.#watched.size;
  }

  /** The ICMP engine's counters (null when monitoring is off). */
  get pingStats(): PingerStats | null {
    return this.deps.prober?.stats ?? null;
  }

  /** Told the RTT of every successful check (the metrics' histogram). */
  onRtt: (ms: number) => void = () => {};

  get writer(): StateWriter {
    return this.#writer;
  }

  /** Stop checking, write what is pending, close the ICMP sockets. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#unsubscribe();
    await this.deps.prober?.close(); // pending probes end as timeouts; they are no longer recorded
    await this.#writer.stop();
  }

  /** A machine as it was before a restart or takeover: same failures, same schedule (re-spread if overdue). */
  #resume(row: WatchedRow, now: number): Watched {
    const { options } = this.deps;
    const failures = row.failures ?? 0;
    // Recomputed rather than read back, so a changed PING_INTERVAL/BACKOFF_MAX applies at once.
    const intervalMs = backoffInterval(failures, options);
    const stored = row.next_check_at?.getTime();
    const nextCheckAt =
      stored === undefined ? now + Math.random() * Math.min(intervalMs, RESUME_SPREAD_MS) // never checked: spread first checks
      : stored < now ? now + Math.random() * Math.min(intervalMs, RESUME_SPREAD_MS)
      : Math.min(stored, now + intervalMs);
    return {
      id: row.id,
      ip: row.ip,
      status: row.status,
      failures,
      intervalMs,
      nextCheckAt,
      lastCheckedAt: row.last_checked_at?.getTime() ?? null,
      lastReplyAt: row.last_reply_at?.getTime() ?? null,
      lastRttMs: row.last_rtt_ms,
      lastSeen: row.last_seen.getTime(),
      checking: null,
    };
  }

  #watch(id: number, ip: string, now: number) {
    if (this.#watched.has(id)) return;
    const { intervalMs } = this.deps.options;
    this.#watched.set(id, { id, ip, status: "active", failures: 0, intervalMs, nextCheckAt: now, lastCheckedAt: null, lastReplyAt: null, lastRttMs: null, lastSeen: now, checking: null });
    this.#wakeBy(now, MIN_TICK_MS);
  }

  #unwatch(id: number) {
    this.#watched.delete(id);
    this.#segments?.remove(id);
    this.#writer.forget(id);
  }

  /** A heartbeat or re-registration: as good as a reply. */
  #seen(id: number, at: Date, via: string) {
    const w = this.#watched.get(id);
    if (!w) return;
    w.lastSeen = Math.max(w.lastSeen, at.getTime());
    this.#apply(w, afterSuccess(w, this.deps.options), { isAlive: true, rttMs: w.lastRttMs, sampled: false, firstCheck: false, detail: via });
  }

  /** Make sure the loop runs by `at`, but no sooner than `tickMs` after its last wake-up. */
  #wakeBy(at: number, tickMs = this.#tickMs) {
    if (this.#stopped || !this.deps.prober) return;
    const when = Math.max(at, this.#lastTick + tickMs);
    if (when >= this.#wakeAt) return;
    clearTimeout(this.#timer);
    this.#wakeAt = when;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, when - Date.now()));
  }

  /** Start every check that is due; sleep until the next one. A scan of 10,000 machines takes
   *  well under a millisecond, so a plain loop beats keeping a priority queue in step. */
  #tick() {
    const now = Date.now();
    loopLag.timerFired(this.#wakeAt, now);
    this.#lastTick = now;
    this.#wakeAt = Infinity;
    // Nothing watched: no timer at all (watching a machine wakes the loop).
    if (this.#watched.size === 0) return;
    let earliest = now + MAX_TICK_MS;
    for (const w of this.#watched.values()) {
      if (w.checking) continue;
      if (w.nextCheckAt <= now) this.#check(w);
      else if (w.nextCheckAt < earliest) earliest = w.nextCheckAt;
    }
    this.#wakeBy(earliest);
  }

  #check(w: Watched): Promise<ProbeResult> {
    const probe = this.deps.prober!.probe(w.ip, this.deps.options.timeoutMs);
    w.checking = probe;
    probe.then(
      (result) => this.#record(w, result),
      (err) => {
        w.checking = null;
        this.deps.log.error({ err, machine_id: w.id, ip: w.ip }, "probe failed");
      },
    );
    return probe;
  }

  /**
   * Check a machine now (an operator's "re-check"). One this instance watches is checked as a
   * scheduled check would be: the result moves its schedule, failures and status, and a check
   * already in flight is waited for, not doubled. One another instance watches is pinged once
   * from here, and only the answer is returned (recorded: false): its record is that instance's.
   * Throws when monitoring is off.
   */
  async checkNow(id: number, ip: string): Promise<{ result: ProbeResult; status: MachineStatus | null; recorded: boolean }> {
    const { prober } = this.deps;
    if (!prober) throw new MonitoringOffError(this.deps.unavailableReason ?? "no ICMP socket");
    const w = this.#watched.get(id);
    if (!w) return { result: await prober.probe(ip, this.deps.options.timeoutMs), status: null, recorded: false };
    const result = await (w.checking ?? this.#check(w));
    return { result, status: w.status, recorded: true };
  }

  #record(w: Watched, result: ProbeResult) {
    w.checking = null;
    if (this.#stopped || this.#watched.get(w.id) !== w) return; // deleted while the probe was out
    const now = Date.now();
    const firstCheck = w.lastCheckedAt === null;
    w.lastCheckedAt = now;
    const alive = result.outcome === "reply";
    if (alive) {
      w.lastRttMs = result.rttMs;
      w.lastReplyAt = now;
      w.lastSeen = now;
      if (result.rttMs !== null) this.onRtt(result.rttMs);
    }
    const step = alive ? afterSuccess(w, this.deps.options) : afterFailure(w, this.deps.options);
    const firstFailure = !alive && w.failures === 0 && w.status === "active";
    this.#apply(w, step, { isAlive: alive, rttMs: alive ? result.rttMs : null, sampled: true, firstCheck, detail: result.detail ?? result.outcome });
    if (firstFailure) this.#checkNeighbours(w, "down", now);
    else if (step.transition === "recovered") this.#checkNeighbours(w, "up", now);
  }

  /** One machine of a segment failed (or came back): check the others that look otherwise now. */
  #checkNeighbours(w: Watched, direction: Direction, now: number) {
    let due = false;
    for (const id of this.#segments?.nudge(w.id, direction, now) ?? []) {
      const n = this.#watched.get(id);
      const looksOtherwise = direction === "down" ? n?.status === "active" && n.failures === 0 : n?.status === "unreachable";
      if (!n || n.checking || !looksOtherwise || n.nextCheckAt <= now) continue;
      n.nextCheckAt = now;
      due = true;
    }
    if (due) this.#wakeBy(now, MIN_TICK_MS);
  }

  /** Move a machine to its new health: schedule, write, log, publish. */
  #apply(
    w: Watched,
    step: { health: Health; transition: Transition },
    check: { isAlive: boolean; rttMs: number | null; sampled: boolean; firstCheck: boolean; detail?: string },
  ) {
    const now = Date.now();
    Object.assign(w, step.health);
    // The first interval is spread over 0.5–1.5× so machines registered together fall out of
    // step; healthy ones keep drifting (±10 %). A failing machine is not jittered: neighbours
    // that failed together (segments.ts) stay in step and cross the threshold together.
    const next = check.firstCheck ? Math.round(w.intervalMs * (0.5 + Math.random())) : check.isAlive ? jittered(w.intervalMs) : w.intervalMs;
    w.nextCheckAt = now + next;
    this.#writer.recordCheck(
      { machineId: w.id, failures: w.failures, intervalMs: w.intervalMs, nextCheckAt: w.nextCheckAt, lastCheckedAt: w.lastCheckedAt, lastReplyAt: w.lastReplyAt, lastRttMs: w.lastRttMs },
      check.sampled ? check.rttMs : undefined,
      w.status === "active" && w.failures > 0,
    );
    if (step.transition) this.#transition(w, step.transition, check.detail);
    this.deps.feed.publish({
      type: "status_update",
      machine_id: w.id,
      status: w.status,
      is_alive: check.isAlive,
      response_time: check.rttMs,
      checked: check.sampled,
      last_seen: iso(w.lastSeen),
      consecutive_failures: w.failures,
      last_checked_at: w.lastCheckedAt === null ? null : iso(w.lastCheckedAt),
      next_check_at: iso(w.nextCheckAt),
    });
    this.#wakeBy(w.nextCheckAt);
  }

  #transition(w: Watched, kind: NonNullable<Transition>, detail?: string) {
    const details =
      kind === "unreachable"
        ? { consecutive_failures: w.failures, last_result: detail ?? null, last_seen: new Date(w.lastSeen).toISOString() }
        : { via: detail === "reply" ? "echo reply" : (detail ?? "check") };
    this.#writer.recordTransition({ machineId: w.id, kind, status: w.status, at: Date.now(), details });
    const line = { machine_id: w.id, ip: w.ip, ...details };
    if (kind === "unreachable") this.deps.log.warn(line, "machine unreachable");
    else this.deps.log.info(line, "machine recovered");
  }
}
