// kill -9 in the middle of monitoring, then start again from the same database: no machine is
// lost, failure counts and schedules continue from what was persisted (not from zero), and no
// unreachable/recovered event is logged twice. The compiled binary, on PostgreSQL and on PGlite
// (whose data-folder lock is a flock the kernel releases when the process dies).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeTokenProtocol } from "../../src/live/protocol.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { isolatedBinary, startProcess, waitForHttp, type RunningProcess } from "../helpers/binary.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { freePort, sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ready = needs("root", "netns");

// 200 ms → 400 → 800 → 1600 (cap): a failing machine's count can be caught persisted at 2 or 3,
// well before the 4th failure makes it unreachable.
const THRESHOLD = 4;
const TIMINGS = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "1600ms", FAILURE_THRESHOLD: String(THRESHOLD) };
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface StatusUpdate {
  machine_id: number;
  status: "active" | "unreachable";
  is_alive: boolean;
  consecutive_failures: number;
  last_checked_at: string | null;
}

/** A dashboard's view: every status_update after the snapshot, in order. */
class Watcher {
  readonly updates: StatusUpdate[] = [];
  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      for (const ev of msg.type === "batch" ? msg.events : [msg]) if (ev.type === "status_update") this.updates.push(ev);
    };
  }
  static async open(base: string): Promise<Watcher> {
    const ws = new WebSocket(`${base.replace("http", "ws")}/ws/status`, ["vxman", encodeTokenProtocol(ADMIN_TOKEN)]);
    const w = new Watcher(ws);
    await waitFor("the WebSocket open", () => ws.readyState === WebSocket.OPEN, 10_000);
    return w;
  }
  of(id: number): StatusUpdate[] {
    return this.updates.filter((u) => u.machine_id === id);
  }
  close() {
    this.ws.close();
  }
}

/** The compiled binary in its own folder; started, killed with SIGKILL, started again on the same port. */
class Vxman {
  proc: RunningProcess | undefined;
  watcher: Watcher | undefined;
  readonly base: string;
  private constructor(
    private readonly bin: string,
    readonly dir: string,
    private readonly port: number,
    private readonly env: Record<string, string>,
    readonly cleanup: () => void,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }
  static async create(env: Record<string, string>): Promise<Vxman> {
    const { dir, bin, cleanup } = isolatedBinary();
    return new Vxman(bin, dir, await freePort(), env, cleanup);
  }
  async start() {
    this.proc = startProcess([this.bin, "serve"], {
      cwd: this.dir,
      env: { PORT: String(this.port), HOST: "127.0.0.1", LOG_FORMAT: "json", ADMIN_TOKEN, ...TIMINGS, ...this.env },
    });
    const health = await waitForHttp(`${this.base}/health`, 30_000, this.proc);
    expect(health.status).toBe(200);
    expect((await health.json()).monitoring).toBe("on");
    this.watcher = await Watcher.open(this.base);
  }
  async kill9() {
    this.watcher?.close();
    this.proc!.kill("SIGKILL");
    expect(await this.proc!.exited).toBe(128); // killed by a signal, not exited on its own
    this.proc = undefined;
  }
  stop() {
    this.watcher?.close();
    this.proc?.kill("SIGKILL");
  }

  async register(ip: string, n: number): Promise<number> {
    const res = await fetch(`${this.base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(n)) });
    expect(res.status).toBe(201);
    return (await res.json()).id;
  }
  async machine(id: number): Promise<{ id: number; ip_address: string; status: string; consecutive_failures: number; last_checked_at: string | null; next_check_at: string | null }> {
    return (await fetch(`${this.base}/api/machines/${id}`, { headers: auth })).json();
  }
  /** Every machine's identity (what a restart must not lose or change). */
  async machines(): Promise<{ id: number; ip_address: string; hostname: string; mac_address: string; created_at: string }[]> {
    const { items } = await (await fetch(`${this.base}/api/machines?limit=10000`, { headers: auth })).json();
    return items.map(({ id, ip_address, hostname, mac_address, created_at }: Record<string, unknown>) => ({ id, ip_address, hostname, mac_address, created_at }));
  }
  async events(id: number, kind: string): Promise<unknown[]> {
    return (await (await fetch(`${this.base}/api/events?machine_id=${id}&kind=${kind}`, { headers: auth })).json()).items;
  }
  async flushes(): Promise<number> {
    const text = await (await fetch(`${this.base}/metrics`, { headers: auth })).text();
    return Number(/^vxman_monitor_flushes_total (\d+)/m.exec(text)?.[1] ?? NaN);
  }
  /** Two more committed monitor writes: whatever was pending before has reached the database. */
  async twoFlushes() {
    const start = await this.flushes();
    await waitFor("two more monitor flushes", async () => (await this.flushes()) >= start + 2, 15_000, 100);
  }
}

/** Failures persisted for a machine; waits until at least `min` are. */
const persistedFailures = (v: Vxman, id: number, min: number) =>
  waitFor(`machine ${id} with ${min}+ failures persisted`, async () => {
    const m = await v.machine(id);
    return m.consecutive_failures >= min && m.consecutive_failures;
  }, 20_000, 100);

let host: TestHost;
const running: Vxman[] = [];

beforeAll(async () => {
  if (ready) host = await createTestHost();
}, 60_000);
afterAll(async () => {
  for (const v of running) {
    v.stop();
    if (v.proc) await v.proc.exited;
    v.cleanup();
  }
  await destroyAllTestHosts();
}, 30_000);

describe.skipIf(!ready)("kill -9 and restart", () => {
  test(
    "PostgreSQL: nothing lost, failure counts and schedules continue, no duplicate events",
    async () => {
      const v = await Vxman.create({ DATABASE_URL: await (await sharedPgCluster()).createDatabase() });
      running.push(v);
      await v.start();
      const loop1 = await v.register("127.50.0.1", 1);
      const loop2 = await v.register("127.50.0.2", 2);
      const silent = await v.register(host.unroutedIp, 3); // never answers: behind an unreachable route
      const flaky = await v.register(host.ip, 4); // the test host: silenced across a restart
      const all = await v.machines();
      expect(all).toHaveLength(4);

      await waitFor("the host answering", () => v.watcher!.of(flaky).some((u) => u.is_alive), 15_000);
      await waitFor("the silent machine unreachable", async () => (await v.events(silent, "unreachable")).length === 1, 20_000, 100);
      const silentBefore = await persistedFailures(v, silent, THRESHOLD + 1);
      await host.stopAnswering();

      // --- kill -9 while the host is failing but not yet unreachable.
      const flakyBefore = await persistedFailures(v, flaky, 2);
      expect(flakyBefore).toBeLessThan(THRESHOLD);
      await v.kill9();

      await v.start();
      expect(await v.machines()).toEqual(all); // no machine lost, none changed
      // The counts go on from what was persisted: never back to 1.
      const silentAfter = await v.machine(silent);
      expect(silentAfter.consecutive_failures).toBeGreaterThanOrEqual(silentBefore);
      expect(silentAfter.status).toBe("unreachable");
      await waitFor("the silent machine checked again", () => v.watcher!.of(silent).length >= 2, 20_000);
      expect(Math.min(...v.watcher!.of(silent).map((u) => u.consecutive_failures))).toBeGreaterThan(silentBefore);
      expect((await v.machine(flaky)).consecutive_failures).toBeGreaterThanOrEqual(flakyBefore);
      // The host counts on from its persisted failures and crosses the threshold once.
      await waitFor("the host failing after the restart", () => v.watcher!.of(flaky).length > 0, 20_000, 5);
      expect(v.watcher!.of(flaky)[0]!.consecutive_failures).toBeGreaterThan(flakyBefore); // not a fresh count from 1

      // --- kill -9 the moment the host goes unreachable: the event may or may not be written yet.
      await waitFor("the host unreachable", () => v.watcher!.of(flaky).some((u) => u.status === "unreachable"), 20_000, 2);
      await v.kill9();
      const firstDown = v.watcher!.of(flaky).find((u) => u.status === "unreachable")!;
      expect(firstDown.consecutive_failures).toBe(THRESHOLD);
      await v.start();
      // Every machine's schedule resumed.
      for (const id of [loop1, loop2, silent, flaky]) await waitFor(`machine ${id} checked after the restart`, () => v.watcher!.of(id).length > 0, 20_000);
      expect(v.watcher!.of(loop1).every((u) => u.is_alive && u.consecutive_failures === 0)).toBe(true);
      await waitFor("the host unreachable again", async () => (await v.machine(flaky)).status === "unreachable", 20_000, 100);
      await waitFor("checks after the second restart", () => v.watcher!.of(flaky).length >= 2, 20_000);
      await v.twoFlushes();
      expect(await v.events(flaky, "unreachable")).toHaveLength(1);
      expect(await v.events(silent, "unreachable")).toHaveLength(1);

      // --- The host answers again; kill -9 the moment it is seen alive (racing the recovered event).
      await host.answerAgain();
      await waitFor("the host alive", () => v.watcher!.of(flaky).some((u) => u.is_alive), 20_000, 2);
      await v.kill9();
      await v.start();
      await waitFor("the host checked after the third restart", () => v.watcher!.of(flaky).filter((u) => u.is_alive).length >= 2, 20_000);
      await waitFor("the recovered event", async () => (await v.events(flaky, "recovered")).length >= 1, 20_000, 100);
      await v.twoFlushes();
      expect(await v.events(flaky, "recovered")).toHaveLength(1);
      expect(await v.events(flaky, "unreachable")).toHaveLength(1);
      expect(await v.events(silent, "unreachable")).toHaveLength(1);
      expect(await v.events(silent, "recovered")).toHaveLength(0);
      for (const id of [loop1, loop2]) {
        expect(await v.events(id, "unreachable")).toHaveLength(0);
        expect((await v.machine(id)).status).toBe("active");
      }
      expect((await v.machine(flaky)).status).toBe("active");
      expect(await v.machines()).toEqual(all);
    },
    180_000,
  );

  test(
    "PGlite: the data-folder lock does not block the restart; nothing lost, counts continue",
    async () => {
      const v = await Vxman.create({}); // DATA_DIR defaults to ./vxman-data in the binary's folder
      running.push(v);
      await v.start();
      const loop = await v.register("127.50.1.1", 11);
      const silent = await v.register(host.unroutedIp, 12);
      const all = await v.machines();
      await waitFor("the silent machine unreachable", async () => (await v.events(silent, "unreachable")).length === 1, 20_000, 100);
      const before = await persistedFailures(v, silent, THRESHOLD + 1);
      await waitFor("the loopback machine checked", async () => (await v.machine(loop)).last_checked_at !== null, 10_000, 100);

      await v.kill9();
      await v.start(); // would fail with "data folder … is in use" if the lock outlived the process
      expect(await v.machines()).toEqual(all);
      const after = await v.machine(silent);
      expect(after.consecutive_failures).toBeGreaterThanOrEqual(before);
      await waitFor("checks after the restart", () => v.watcher!.of(silent).length >= 2 && v.watcher!.of(loop).length >= 2, 20_000);
      expect(Math.min(...v.watcher!.of(silent).map((u) => u.consecutive_failures))).toBeGreaterThan(before);
      await v.twoFlushes();
      expect(await v.events(silent, "unreachable")).toHaveLength(1);
      expect(await v.events(loop, "unreachable")).toHaveLength(0);
      expect((await v.machine(loop)).status).toBe("active");

      // A second process on the same folder is still refused while this one runs.
      const second = startProcess([`${v.dir}/vxman`, "serve"], { cwd: v.dir, env: { PORT: String(await freePort()), HOST: "127.0.0.1", ADMIN_TOKEN } });
      expect(await Promise.race([second.exited, Bun.sleep(20_000).then(() => "still running")])).toBe(1);
      expect(second.output()).toContain("is in use by vxman pid");
    },
    120_000,
  );
});
