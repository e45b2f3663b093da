// The database goes away while the monitor is running (a real PostgreSQL cluster of this test's
// own, stopped with `pg_ctl stop -m immediate`): the server stays up and says so, the monitor
// keeps pinging and keeps what it sees in memory; when the database is back the server
// reconnects by itself and writes what it held — every unreachable/recovered event exactly once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Change } from "../../src/changes.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate } from "../../src/db/migrate.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { createLogger } from "../../src/log.ts";
import { StateWriter } from "../../src/monitor/state-writer.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { encodeTokenProtocol } from "../../src/live/protocol.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { startPgCluster, type PgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ready = needs("root", "netns");

// LEASE_PERIOD at its longest: this outage is about the monitor holding state in memory, and on a
// loaded machine its steps have outlasted the default 15 s, past which the lease keeper rightly
// stops checking for other instances to take over (that path is tested in test/cluster/).
const TIMINGS = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "800ms", FAILURE_THRESHOLD: "3", LEASE_PERIOD: "10m" };
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

type StatusUpdate = Extract<Change, { type: "status_update" }>;

describe.skipIf(!ready)("database outage with the monitor running", () => {
  let pg: PgCluster;
  let url: string;
  let server: RunningServer;
  let base: string;
  let down: TestHost; // stops answering during the outage, recovers after it
  let flapping: TestHost; // goes down and comes back, all within the outage
  let ws: WebSocket | undefined;
  const logs: { level: string; msg: string; [k: string]: unknown }[] = [];
  const updates: StatusUpdate[] = [];
  const live: StatusUpdate[] = [];

  beforeAll(async () => {
    pg = await startPgCluster(); // this test's own: it stops and starts it
    url = await pg.createDatabase();
    [down, flapping] = [await createTestHost(), await createTestHost()];
    const log = createLogger({ level: "info", format: "json", destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
    server = await startServer(loadConfig({ ...TIMINGS, DATABASE_URL: url, HOST: "127.0.0.1", PORT: "0", ADMIN_TOKEN }), log);
    base = server.url.href.replace(/\/$/, "");
    server.feed.subscribe((c) => c.type === "status_update" && updates.push(c));
  }, 60_000);

  afterAll(async () => {
    ws?.close();
    try {
      await server?.stop();
    } finally {
      await destroyAllTestHosts();
      pg?.destroy();
    }
  }, 60_000);

  const register = async (ip: string, n: number) => {
    const res = await fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(n)) });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: number };
  };
  const of = (list: StatusUpdate[], id: number, since = 0) => list.slice(since).filter((u) => u.machine_id === id);

  /** Read straight from the database, not through the server under test. */
  const direct = async <T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return await fn(sql);
    } finally {
      await sql.end();
    }
  };
  const eventsOf = (id: number, kind: string) =>
    direct((sql) => sql<{ id: number; at: Date }[]>`SELECT id::int AS id, at FROM events WHERE machine_id = ${id} AND kind = ${kind} ORDER BY id`);

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`${name} not in /metrics`);
    return Number(line.split(" ")[1]);
  };

  /** Two more successful flushes: whatever was pending when this was called has been written. */
  const twoFlushes = async () => {
    const start = server.monitor.writer.stats.flushes;
    await waitFor("two more monitor flushes", () => server.monitor.writer.stats.flushes >= start + 2, 15_000);
  };

  test(
    "server stays up, monitor keeps state in memory, reconnects by itself and writes each event exactly once",
    async () => {
      const loop1 = await register("127.40.0.1", 1);
      const loop2 = await register("127.40.0.2", 2);
      const d = await register(down.ip, 3);
      const f = await register(flapping.ip, 4);
      for (const m of [loop1, loop2, d, f]) {
        await waitFor(`machine ${m.id} answering`, () => of(updates, m.id).filter((u) => u.is_alive).length >= 2, 15_000);
      }
      await twoFlushes();

      ws = new WebSocket(`${base.replace("http", "ws")}/ws/status`, ["vxman", encodeTokenProtocol(ADMIN_TOKEN)]);
      ws.onmessage = (e) => {
        const msg = JSON.parse(String(e.data));
        for (const ev of msg.type === "batch" ? msg.events : [msg]) if (ev.type === "status_update") live.push(ev);
      };
      await waitFor("the WebSocket open", () => ws!.readyState === WebSocket.OPEN);

      // --- The database goes away.
      const failedBefore = await metric("vxman_monitor_failed_flushes_total");
      const outageStart = new Date();
      pg.stop("immediate");
      const seenAtStop = updates.length;
      const liveAtStop = live.length;

      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: "unavailable", database: "unavailable", monitoring: "on" });
      for (const ip of ["127.40.0.9", "127.40.0.1"]) {
        const put = await fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(9)) });
        expect(put.status).toBe(503);
        expect(Number(put.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(await put.json()).toMatchObject({ error: "database_unavailable" });
      }

      // The monitor keeps pinging: results keep arriving on the change feed and on the WebSocket.
      await waitFor("checks during the outage", () => of(updates, loop1.id, seenAtStop).length >= 5, 15_000);
      await waitFor("live updates during the outage", () => of(live, loop1.id, liveAtStop).length >= 3, 15_000);

      // A host stops answering while the database is down: unreachable, in memory.
      await down.stopAnswering();
      await waitFor("the host unreachable in memory", () => of(updates, d.id, seenAtStop).some((u) => u.status === "unreachable"), 20_000);
      // Reads keep working from memory, and show what the monitor sees now.
      const list = await fetch(`${base}/api/machines?status=unreachable`, { headers: auth });
      expect(list.status).toBe(200);
      expect((await list.json()).items.map((m: { id: number }) => m.id)).toContain(d.id);
      // Another goes down and comes back before the database does.
      await flapping.stopAnswering();
      await waitFor("the flapping host unreachable", () => of(updates, f.id, seenAtStop).some((u) => u.status === "unreachable"), 20_000);
      await flapping.answerAgain();
      await waitFor("the flapping host back", () => of(updates, f.id, seenAtStop).some((u, i, all) => u.status === "active" && all.slice(0, i).some((x) => x.status === "unreachable")), 20_000);
      const failuresAtReturn = of(updates, d.id).at(-1)!.consecutive_failures;
      expect(failuresAtReturn).toBeGreaterThanOrEqual(3);

      expect(await metric("vxman_monitor_failed_flushes_total")).toBeGreaterThan(failedBefore);
      expect(await metric("vxman_monitor_pending_writes")).toBeGreaterThan(0);
      expect((await fetch(`${base}/health`)).status).toBe(503); // still down: nothing above reached it

      // --- The database comes back; the server is not restarted.
      const outageEnd = new Date();
      pg.start();
      await waitFor("/health 200 again", async () => (await fetch(`${base}/health`)).status === 200, 30_000, 200);
      await twoFlushes();

      expect(await eventsOf(d.id, "unreachable")).toHaveLength(1);
      const flapEvents = await direct((sql) => sql<{ kind: string }[]>`SELECT kind FROM events WHERE machine_id = ${f.id} AND kind IN ('unreachable', 'recovered') ORDER BY id`);
      expect(flapEvents.map((e) => e.kind)).toEqual(["unreachable", "recovered"]);
      const rows = await direct((sql) => sql<{ id: number; status: string; failures: number }[]>`
        SELECT m.id, m.status, p.consecutive_failures AS failures FROM machines m JOIN ping_state p ON p.machine_id = m.id ORDER BY m.id`);
      expect(rows.find((r) => r.id === d.id)).toMatchObject({ status: "unreachable" });
      expect(rows.find((r) => r.id === d.id)!.failures).toBeGreaterThanOrEqual(failuresAtReturn);
      expect(rows.find((r) => r.id === f.id)).toMatchObject({ status: "active", failures: 0 });
      expect(rows.find((r) => r.id === loop1.id)).toMatchObject({ status: "active", failures: 0 });

      // The samples taken while the database was away were written when it came back.
      const during = await direct((sql) => sql<{ machine_id: number; ok: number; failed: number }[]>`
        SELECT machine_id, count(rtt_ms)::int AS ok, (count(*) - count(rtt_ms))::int AS failed FROM ping_samples
        WHERE checked_at BETWEEN ${outageStart} AND ${outageEnd} GROUP BY machine_id`);
      const sampled = (id: number) => during.find((r) => r.machine_id === id) ?? { ok: 0, failed: 0 };
      expect(sampled(loop1.id).ok).toBeGreaterThanOrEqual(5);
      expect(sampled(loop2.id).ok).toBeGreaterThanOrEqual(5);
      expect(sampled(d.id).failed).toBeGreaterThanOrEqual(3);
      expect(sampled(f.id).failed).toBeGreaterThanOrEqual(3);
      expect(sampled(f.id).ok).toBeGreaterThanOrEqual(1);

      // Registration works again, through the same server.
      expect((await fetch(`${base}/api/machines/127.40.0.9`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(9)) })).status).toBe(201);

      // --- The host answers again: exactly one recovered event; still exactly one unreachable.
      const beforeRecovery = updates.length;
      await down.answerAgain();
      await waitFor("the host recovered", () => of(updates, d.id, beforeRecovery).some((u) => u.status === "active" && u.is_alive), 20_000);
      await twoFlushes();
      expect(await eventsOf(d.id, "recovered")).toHaveLength(1);
      expect(await eventsOf(d.id, "unreachable")).toHaveLength(1);
      const [unreachable] = await eventsOf(d.id, "unreachable");
      const [recovered] = await eventsOf(d.id, "recovered");
      expect(recovered!.id).toBeGreaterThan(unreachable!.id);
      expect(await eventsOf(f.id, "unreachable")).toHaveLength(1);
      expect(await eventsOf(f.id, "recovered")).toHaveLength(1);

      // A short outage drops nothing; what was held is all written.
      expect(await metric("vxman_monitor_dropped_samples_total")).toBe(0);
      expect(server.monitor.writer.stats.droppedSamples).toBe(0);
      expect(logs.filter((l) => l.msg === "database unavailable: monitor keeps state changes in memory")).toHaveLength(1);
      expect(logs.some((l) => l.msg === "database back: monitor state written")).toBe(true);
      expect(logs.filter((l) => l.level === "error" || l.level === "fatal").map((l) => l.msg)).toEqual([]);
    },
    180_000,
  );

  const WRITER = "writer-test";

  /** A fresh migrated database whose leases all belong to WRITER (the writer's writes are fenced
   *  on them), and a logger whose JSON lines the test can read. */
  async function writerDatabase() {
    const db = openPostgres({ url: await pg.createDatabase() });
    await migrate(db);
    await db.query("UPDATE leases SET holder = $1, expires_at = now() + interval '1 hour'", [WRITER]);
    const lines: { msg: string; [k: string]: unknown }[] = [];
    const log = createLogger({ level: "info", format: "json", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    return { db, log, lines };
  }

  test("what is held is bounded: past the cap the oldest samples are dropped, counted and logged; events under their cap are all kept", async () => {
    const { db, log, lines } = await writerDatabase();
    try {
      const [{ id }] = (await db.query<{ id: number }>(
        "INSERT INTO machines (hostname, ip_address, mac_address) VALUES ('capped', '127.40.1.1', '52:54:00:40:01:01') RETURNING id",
      )) as [{ id: number }];
      const writer = new StateWriter(db, log, { holder: WRITER, flushEveryMs: 60_000, maxPendingSamples: 10 }); // flushed by hand
      const t0 = Date.now();
      pg.stop("immediate");
      for (let i = 0; i < 25; i++) {
        writer.recordCheck({ machineId: id, failures: i, intervalMs: 200, nextCheckAt: t0 + i + 200, lastCheckedAt: t0 + i, lastReplyAt: null, lastRttMs: null }, null);
        if (i === 2) writer.recordTransition({ machineId: id, kind: "unreachable", status: "unreachable", at: t0 + i, details: { consecutive_failures: 3 } });
        if (i % 5 === 4) await writer.flush(); // fails: the database is down; the batch is kept
      }
      expect(writer.stats.failedFlushes).toBe(5);
      expect(writer.stats.droppedSamples).toBe(15);
      expect(lines.filter((l) => l.msg === "database away too long: dropping the oldest RTT samples held in memory")).toHaveLength(1);

      pg.start();
      await waitFor("the held batch written", async () => (await writer.flush(), writer.stats.flushes === 1), 30_000, 200);
      const samples = await db.query<{ at: number }>("SELECT (extract(epoch FROM checked_at) * 1000)::float8 AS at FROM ping_samples ORDER BY checked_at");
      expect(samples.map((s) => Math.round(s.at) - t0)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]); // the newest ten
      const events = await db.query<{ kind: string }>("SELECT kind FROM events WHERE machine_id = $1", [id]);
      expect(events.map((e) => e.kind)).toEqual(["unreachable"]);
      const [state] = await db.query<{ failures: number; status: string }>(
        "SELECT p.consecutive_failures AS failures, m.status FROM ping_state p JOIN machines m ON m.id = p.machine_id",
      );
      expect(state).toEqual({ failures: 24, status: "unreachable" });
      expect(lines.find((l) => l.msg === "database back: monitor state written")).toMatchObject({ dropped_samples: 15, dropped_events: 0, samples: 10, events: 1 });
      await writer.stop();
    } finally {
      await db.close();
    }
  }, 60_000);

  test("events held are bounded too: past the cap the oldest are dropped, counted and logged, and the status stays right", async () => {
    const { db, log, lines } = await writerDatabase();
    try {
      const [early, flapping] = (await db.query<{ id: number }>(
        `INSERT INTO machines (hostname, ip_address, mac_address) VALUES
           ('early', '127.40.2.1', '52:54:00:40:02:01'), ('flapping', '127.40.2.2', '52:54:00:40:02:02') RETURNING id`,
      )) as [{ id: number }, { id: number }];
      const id = flapping.id;
      const writer = new StateWriter(db, log, { holder: WRITER, flushEveryMs: 60_000, maxPendingEvents: 3 });
      const t0 = Date.now();
      pg.stop("immediate");
      // One machine goes down first: its event will be among those dropped, its status must not be.
      writer.recordCheck({ machineId: early.id, failures: 3, intervalMs: 200, nextCheckAt: t0 + 200, lastCheckedAt: t0, lastReplyAt: null, lastRttMs: null });
      writer.recordTransition({ machineId: early.id, kind: "unreachable", status: "unreachable", at: t0, details: { n: -1 } });
      // Seven flips while the database is away: unreachable, recovered, ..., unreachable.
      for (let i = 0; i < 7; i++) {
        const down = i % 2 === 0;
        writer.recordCheck({ machineId: id, failures: down ? 3 : 0, intervalMs: 200, nextCheckAt: t0 + i + 200, lastCheckedAt: t0 + i, lastReplyAt: null, lastRttMs: null });
        writer.recordTransition({ machineId: id, kind: down ? "unreachable" : "recovered", status: down ? "unreachable" : "active", at: t0 + i, details: { n: i } });
        if (i % 3 === 2) await writer.flush(); // fails: the batch is kept, and still capped
      }
      expect(writer.stats.failedFlushes).toBe(2);
      expect(writer.stats.droppedEvents).toBe(5);
      expect(lines.filter((l) => l.msg === "database away too long: dropping the oldest unreachable/recovered events held in memory")).toHaveLength(1);

      pg.start();
      await waitFor("the held batch written", async () => (await writer.flush(), writer.stats.flushes === 1), 30_000, 200);
      const events = await db.query<{ kind: string; n: number }>("SELECT kind, (details->>'n')::int AS n FROM events WHERE machine_id = $1 ORDER BY id", [id]);
      expect(events).toEqual([
        { kind: "unreachable", n: 4 },
        { kind: "recovered", n: 5 },
        { kind: "unreachable", n: 6 },
      ]); // the newest three, in order
      const statuses = await db.query<{ hostname: string; status: string }>("SELECT hostname, status FROM machines ORDER BY id");
      expect(statuses).toEqual([
        { hostname: "early", status: "unreachable" },
        { hostname: "flapping", status: "unreachable" },
      ]);
      expect(await db.query("SELECT 1 FROM events WHERE machine_id = $1", [early.id])).toHaveLength(0);
      expect(lines.find((l) => l.msg === "database back: monitor state written")).toMatchObject({ dropped_events: 5, events: 3 });
      await writer.stop();
    } finally {
      await db.close();
    }
  }, 60_000);
});
