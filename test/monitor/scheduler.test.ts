// The monitor end to end on a real server (PostgreSQL), real ICMP: loopback machines, a test
// host in a network namespace that stops answering and answers again, addresses behind the
// unreachable route, restart resume, heartbeats, deletion.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Change } from "../../src/changes.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { createTestHost, type TestHost } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const hasRoot = needs("root", "netns");

// Fast timings so the whole cycle runs in seconds: 200 ms → 400 → 800 (cap), unreachable at 3.
// Reads without a login (ANONYMOUS_READ): what is tested here is the monitor, not access.
// No rate limit: the waits below poll the API, and a 429 would fail every later test.
const TIMINGS = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "800ms", FAILURE_THRESHOLD: "3", ANONYMOUS_READ: "true", RATE_LIMIT: "0" };

async function start(databaseUrl: string): Promise<{ server: RunningServer; changes: Change[]; base: string }> {
  const config = loadConfig({ ...TIMINGS, DATABASE_URL: databaseUrl, HOST: "127.0.0.1", PORT: "0", ADMIN_TOKEN, LOG_LEVEL: "error" });
  const server = await startServer(config, silentLogger);
  const changes: Change[] = [];
  server.feed.subscribe((c) => changes.push(c));
  return { server, changes, base: server.url.href.replace(/\/$/, "") };
}

const put = (base: string, ip: string, n: number) =>
  fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(n)) }).then(
    async (r) => ({ status: r.status, machine: await r.json() }),
  );

const eventsOf = async (base: string, id: number, kind?: string) =>
  (await (await fetch(`${base}/api/events?machine_id=${id}${kind ? `&kind=${kind}` : ""}`)).json()).items as { kind: string; details: Record<string, unknown> }[];

const statusUpdates = (changes: Change[], id: number) =>
  changes.filter((c): c is Extract<Change, { type: "status_update" }> => c.type === "status_update" && c.machine_id === id);

describe.skipIf(!hasRoot)("monitor", () => {
  let url: string;
  let host: TestHost;
  let s: Awaited<ReturnType<typeof start>>;

  beforeAll(async () => {
    url = await (await sharedPgCluster()).createDatabase();
    host = await createTestHost();
    s = await start(url);
  }, 60_000);
  afterAll(async () => {
    try {
      await s?.server.stop();
    } finally {
      await host?.destroy();
    }
  }, 30_000);

  test("a new loopback machine is checked at once and keeps being checked: RTT, samples, state", async () => {
    const { machine } = await put(s.base, "127.7.0.1", 1);
    await waitFor("three checks", () => statusUpdates(s.changes, machine.id).length >= 3);
    const updates = statusUpdates(s.changes, machine.id);
    expect(updates.every((u) => u.is_alive && u.status === "active" && typeof u.response_time === "number")).toBe(true);
    const m = await waitFor("state written", async () => {
      const r = await (await fetch(`${s.base}/api/machines/${machine.id}`)).json();
      return r.last_checked_at && r;
    });
    expect(m).toMatchObject({ status: "active", consecutive_failures: 0 });
    expect(m.last_rtt_ms).toBeGreaterThan(0);
    const samples = await waitFor("samples", async () => {
      const { items } = await (await fetch(`${s.base}/api/machines/${machine.id}/samples`)).json();
      return items.length >= 2 && items;
    });
    expect(samples.every((x: { rtt_ms: number | null }) => x.rtt_ms !== null && x.rtt_ms > 0)).toBe(true);
    // One rounding everywhere (microseconds): the list, the machine and its samples agree on
    // each RTT, and no RTT has more digits than that.
    const rtts = updates.map((u) => u.response_time!);
    expect(rtts.every((r) => Math.round(r * 1000) / 1000 === r)).toBe(true);
    // The machine and the list show the RTT a check reported (checks go on every 200 ms: read
    // until both reads fall between two of them)...
    const one = await waitFor("the machine and the list to agree on the last RTT", async () => {
      const [one, listed] = [await (await fetch(`${s.base}/api/machines/${machine.id}`)).json(), (await (await fetch(`${s.base}/api/machines?q=127.7.0.1`)).json()).items[0]];
      return one.last_rtt_ms !== null && one.last_rtt_ms === listed.last_rtt_ms && one;
    });
    const reported = statusUpdates(s.changes, machine.id).map((u) => u.response_time);
    expect(reported).toContain(one.last_rtt_ms);
    // ... and so does every stored sample (written in the monitor's batches), to the microsecond.
    const { items } = await (await fetch(`${s.base}/api/machines/${machine.id}/samples`)).json();
    expect(items.every((x: { rtt_ms: number }) => reported.includes(x.rtt_ms) && /^\d+(\.\d{1,3})?$/.test(String(x.rtt_ms)))).toBe(true);
  });

  test("a test host that stops answering: unreachable after exactly the threshold, one event, one broadcast; then it recovers", async () => {
    const { machine } = await put(s.base, host.ip, 2);
    await waitFor("the host answers", () => statusUpdates(s.changes, machine.id).some((u) => u.is_alive));
    await host.stopAnswering();
    const since = s.changes.length;

    await waitFor("unreachable", () => statusUpdates(s.changes.slice(since), machine.id).some((u) => u.status === "unreachable"), 15_000);
    const failing = statusUpdates(s.changes.slice(since), machine.id).filter((u) => !u.is_alive);
    const firstDown = failing.findIndex((u) => u.status === "unreachable");
    expect(failing[firstDown]!.consecutive_failures).toBe(3); // exactly the threshold
    expect(failing.slice(0, firstDown).map((u) => u.status)).toEqual(["active", "active"]);

    // Backoff: each failure doubled the interval (200 → 400 → 800 ms, the cap), ±10 % jitter.
    const gaps = failing.slice(0, 3).map((u) => Date.parse(u.next_check_at!) - Date.parse(u.last_checked_at!));
    [400, 800, 800].forEach((interval, i) => {
      expect(gaps[i]!).toBeGreaterThanOrEqual(interval * 0.9 - 1);
      expect(gaps[i]!).toBeLessThanOrEqual(interval * 1.1 + 1);
    });

    const down = await waitFor("the unreachable event", async () => (await eventsOf(s.base, machine.id, "unreachable"))[0]);
    expect(down.details).toMatchObject({ consecutive_failures: 3 });
    expect((await (await fetch(`${s.base}/api/machines/${machine.id}`)).json()).status).toBe("unreachable");

    // Stays down for more checks: still exactly one event, one status change broadcast.
    await waitFor("two more failed checks", () => statusUpdates(s.changes.slice(since), machine.id).filter((u) => !u.is_alive).length >= firstDown + 3, 15_000);
    expect(await eventsOf(s.base, machine.id, "unreachable")).toHaveLength(1);
    const flips = statusUpdates(s.changes.slice(since), machine.id).filter((u, i, all) => i > 0 && u.status !== all[i - 1]!.status);
    expect(flips).toHaveLength(1);

    await host.answerAgain();
    await waitFor("recovery", () => statusUpdates(s.changes.slice(since), machine.id).some((u) => u.status === "active" && u.is_alive), 15_000);
    const up = await waitFor("the recovered event", async () => (await eventsOf(s.base, machine.id, "recovered"))[0]);
    expect(up).toBeTruthy();
    const after = await waitFor("state written", async () => {
      const r = await (await fetch(`${s.base}/api/machines/${machine.id}`)).json();
      return r.status === "active" && r.consecutive_failures === 0 && r;
    });
    expect(after.last_rtt_ms).toBeGreaterThan(0);
    expect(await eventsOf(s.base, machine.id, "recovered")).toHaveLength(1);
  });

  test("a heartbeat counts as a success: an unreachable machine recovers at once", async () => {
    // An address of the test host's block routed nowhere but "unreachable": it never answers.
    const ip = host.unroutedIp;
    const { machine } = await put(s.base, ip, 3);
    await waitFor("unreachable", () => statusUpdates(s.changes, machine.id).some((u) => u.status === "unreachable"), 15_000);
    const hb = await fetch(`${s.base}/api/machines/${ip}/heartbeat`, { method: "POST" });
    expect(hb.status).toBe(204);
    const recovered = await waitFor("recovered event", async () => (await eventsOf(s.base, machine.id, "recovered"))[0]);
    expect(recovered.details).toMatchObject({ via: "heartbeat" });
    expect((await (await fetch(`${s.base}/api/machines/${machine.id}`)).json()).status).toBe("active");
  });

  test("a deleted machine stops being checked at once", async () => {
    const { machine } = await put(s.base, "127.7.0.9", 9);
    await waitFor("a check", () => statusUpdates(s.changes, machine.id).length > 0);
    const del = await fetch(`${s.base}/api/machines/${machine.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(del.status).toBe(204);
    const seen = statusUpdates(s.changes, machine.id).length;
    await Bun.sleep(1000); // five intervals: a watched machine would have been checked ~5 times
    expect(statusUpdates(s.changes, machine.id).length).toBeLessThanOrEqual(seen + 1); // at most the probe already in flight
    expect(s.server.monitor.watching).toBe((await (await fetch(`${s.base}/api/machines`)).json()).total);
  });

  test("after a restart each machine resumes its failure count and schedule", async () => {
    const ip = await host.unreachableBehind(); // answered by an ICMP "host unreachable" error
    const { machine } = await put(s.base, ip, 8);
    await waitFor("two failures", () => statusUpdates(s.changes, machine.id).some((u) => u.consecutive_failures === 2), 15_000);
    await s.server.stop(); // flushes pending state

    s = await start(url);
    const { consecutive_failures } = await (await fetch(`${s.base}/api/machines/${machine.id}`)).json();
    expect(consecutive_failures).toBeGreaterThanOrEqual(2);
    const resumedFrom = consecutive_failures as number;
    await waitFor("unreachable", () => statusUpdates(s.changes, machine.id).some((u) => u.status === "unreachable"), 15_000);
    const first = statusUpdates(s.changes, machine.id)[0]!;
    expect(first.consecutive_failures).toBe(resumedFrom + 1); // counted on, not from zero
    await waitFor("the event", async () => (await eventsOf(s.base, machine.id, "unreachable")).length > 0);
    expect(await eventsOf(s.base, machine.id, "unreachable")).toHaveLength(1);
  });
});
