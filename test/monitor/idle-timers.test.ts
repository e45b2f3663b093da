// An idle server sets no timer: the monitor's writer, the scheduler with nothing to watch and the
// lease keeper alone on the embedded database sleep until work arrives (then they wake). Timers
// are counted, never timed.
import { afterEach, describe, expect, test } from "bun:test";
import { LeaseKeeper, type ShardWorker } from "../../src/cluster/leases.ts";
import type { InstanceRegistry } from "../../src/cluster/instances.ts";
import type { Database } from "../../src/db/index.ts";
import { silentLogger } from "../../src/log.ts";
import { LoopLag } from "../../src/loop-lag.ts";
import { FLUSH_AT_ROWS, StateWriter } from "../../src/monitor/state-writer.ts";
import { waitFor } from "../helpers/wait.ts";

/** Counts the timers set from now on (they still run). */
function countTimers() {
  const real = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval };
  const counts = { timeouts: 0, intervals: 0 };
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => (counts.timeouts++, real.setTimeout.apply(globalThis, args))) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => (counts.intervals++, real.setInterval.apply(globalThis, args))) as typeof setInterval;
  restore = () => Object.assign(globalThis, real);
  return counts;
}
let restore = () => {};
afterEach(() => restore());

/** A database that answers every statement with `rows(sql)`, and remembers the statements. */
function fakeDb(rows: (sql: string) => unknown[] = () => []) {
  const statements: string[] = [];
  const db = { kind: "pglite", query: async (sql: string) => (statements.push(sql), rows(sql)) } as unknown as Database;
  return { db, statements };
}

describe("no timer while idle", () => {
  test("the monitor's writer: none until something waits to be written, then one flush", async () => {
    const { db, statements } = fakeDb();
    const counts = countTimers();
    const writer = new StateWriter(db, silentLogger, { holder: "test", flushEveryMs: 20 });
    writer.start();
    await Bun.sleep(100);
    expect(counts).toEqual({ timeouts: 0, intervals: 0 });
    expect(statements).toEqual([]);
    const now = Date.now();
    for (let id = 1; id <= 3; id++) writer.recordCheck({ machineId: id, failures: 0, intervalMs: 1000, nextCheckAt: now + 1000, lastCheckedAt: now, lastReplyAt: now, lastRttMs: 0.1 }, 0.1);
    await waitFor("the flush", () => statements.length === 1);
    await Bun.sleep(100);
    expect(counts).toEqual({ timeouts: 1, intervals: 0 }); // three checks, one timer, one flush
    expect(writer.pending).toBe(0);
    await writer.stop();
  });

  test("the lease keeper alone (embedded database): one round at start, then none until asked", async () => {
    const { db, statements } = fakeDb((sql) =>
      sql.includes("WITH beat") ? [{ registered: 1, shards: [], pinging: 1, live: 1 }] : sql.includes("UPDATE leases SET holder = $1") ? Array.from({ length: 256 }, (_, shard) => ({ shard })) : [],
    );
    const registry = { id: "alone", leasePeriodMs: 3000, monitoring: true, register: async () => {} } as unknown as InstanceRegistry;
    const adopted: number[] = [];
    const worker: ShardWorker = { adopt: async (s) => void adopted.push(...s), drop: () => {}, flush: async () => {}, watching: 0 };
    const counts = countTimers();
    const keeper = new LeaseKeeper(db, registry, worker, silentLogger, true);
    await keeper.start();
    expect(adopted).toHaveLength(256);
    expect(keeper.holds(7)).toBe(true);
    expect(counts).toEqual({ timeouts: 0, intervals: 0 });
    const rounds = statements.length;
    await keeper.refresh(); // who is live: the heartbeat is written then
    expect(statements.length).toBeGreaterThan(rounds);
    expect(keeper.holds(7)).toBe(true);
    expect(counts).toEqual({ timeouts: 0, intervals: 0 });
    await keeper.stop();
  });

  test("a lease keeper that may have peers (PostgreSQL) renews on a timer", async () => {
    const { db } = fakeDb((sql) => (sql.includes("WITH beat") ? [{ registered: 1, shards: [], pinging: 1, live: 1 }] : []));
    const registry = { id: "peer", leasePeriodMs: 3000, monitoring: true, register: async () => {} } as unknown as InstanceRegistry;
    const worker: ShardWorker = { adopt: async () => {}, drop: () => {}, flush: async () => {}, watching: 0 };
    const counts = countTimers();
    const keeper = new LeaseKeeper(db, registry, worker, silentLogger);
    await keeper.start();
    expect(counts.intervals).toBe(1);
    await keeper.stop();
  });
});

describe("event-loop lag from the work's own timers", () => {
  test("percentiles of lateness since the last reading, in seconds; nothing recorded reads 0", () => {
    const lag = new LoopLag();
    expect(lag.take()).toMatchObject({ count: 0, p99: 0, max: 0 });
    for (let i = 1; i <= 100; i++) lag.timerFired(1000, 1000 + i); // 1..100 ms late
    lag.timerFired(1000, 990); // early counts as on time
    const s = lag.take();
    expect(s).toMatchObject({ count: 101, min: 0, max: 0.1, p50: 0.05, p90: 0.09, p99: 0.099 });
    expect(lag.latest).toBe(0);
    expect(lag.take().count).toBe(0); // a reading starts a new window
  });
});

describe("how soon the monitor's writer writes", () => {
  /** A database that remembers each statement's machine ids ($1 of the writer's flush). */
  function recordingDb() {
    const flushes: number[][] = [];
    const db = { kind: "pglite", query: async (_sql: string, params: unknown[] = []) => (flushes.push(params[0] as number[]), []) } as unknown as Database;
    return { db, flushes };
  }
  const check = (machineId: number, failures: number) => {
    const now = Date.now();
    return { machineId, failures, intervalMs: 1000, nextCheckAt: now + 1000, lastCheckedAt: now, lastReplyAt: failures ? null : now, lastRttMs: 0.1 };
  };

  test("healthy checks wait for the period; a failing machine's count goes within a second, with them", async () => {
    const { db, flushes } = recordingDb();
    const writer = new StateWriter(db, silentLogger, { holder: "test", flushEveryMs: 60_000 });
    writer.start();
    for (let id = 1; id <= 3; id++) writer.recordCheck(check(id, 0), 0.1);
    await Bun.sleep(1_500);
    expect(flushes).toEqual([]); // the 60 s period: nothing yet
    writer.recordCheck(check(4, 1), null, true); // failing, not yet unreachable
    await waitFor("the failing machine's flush", () => flushes.length === 1, 5_000, 20);
    expect(flushes[0]!.sort()).toEqual([1, 2, 3, 4]); // one statement takes everything waiting
    expect(writer.pending).toBe(0);
    await writer.stop();
  });

  test(`a batch of ${FLUSH_AT_ROWS.toLocaleString()} machines is written at once, whatever the period`, async () => {
    const { db, flushes } = recordingDb();
    const writer = new StateWriter(db, silentLogger, { holder: "test", flushEveryMs: 60_000 });
    writer.start();
    for (let id = 1; id <= FLUSH_AT_ROWS; id++) writer.recordCheck(check(id, 0), 0.1);
    await waitFor("the early flush", () => flushes.length === 1, 5_000, 20);
    expect(flushes[0]).toHaveLength(FLUSH_AT_ROWS);
    await writer.stop();
  });

  test("a batch just under that size waits for the period", async () => {
    const { db, flushes } = recordingDb();
    const writer = new StateWriter(db, silentLogger, { holder: "test", flushEveryMs: 60_000 });
    writer.start();
    for (let id = 1; id < FLUSH_AT_ROWS; id++) writer.recordCheck(check(id, 0), 0.1);
    await Bun.sleep(300);
    expect(flushes).toHaveLength(0);
    await writer.stop(); // stop() writes what waits
    expect(flushes[0]).toHaveLength(FLUSH_AT_ROWS - 1);
  });
});

describe("the live hub with no dashboard open", () => {
  test("numbers each change at once, with no coalescing timer; a dashboard opening then starts from it", async () => {
    const { ChangeFeed } = await import("../../src/changes.ts");
    const { LiveHub } = await import("../../src/live/hub.ts");
    const { MachineDirectory } = await import("../../src/api/machines/directory.ts");
    const { snapshotMachines } = await import("../../src/live/protocol.ts");
    const feed = new ChangeFeed();
    const machine = { id: 1, hostname: "a", status: "active", recent_checks: "", last_rtt_ms: null } as never;
    const directory = await MachineDirectory.start(feed, async () => [machine], { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 });
    const hub = LiveHub.start({
      feed, machines: () => directory.all(), config: { wsMaxPerIp: 10, trustProxy: false }, log: silentLogger,
      monitoring: () => ({ monitoring: true }) as never,
    });
    const counts = countTimers();
    for (let i = 0; i < 3; i++) {
      feed.publish({ type: "status_update", machine_id: 1, status: "active", is_alive: true, response_time: 0.1, checked: true, last_seen: new Date().toISOString(), consecutive_failures: 0, last_checked_at: null, next_check_at: null });
    }
    await Bun.sleep(150); // longer than the coalescing window
    expect(counts).toEqual({ timeouts: 0, intervals: 0 });
    const snapshot = JSON.parse(hub.snapshot().part(0)!);
    expect(snapshot.seq).toBe(3);
    expect(snapshotMachines(snapshot)[0]!.recent_checks).toBe("111");
    hub.close();
  });
});
