// Several compiled vxman processes on one PostgreSQL: the work shared by leases, a dead instance's
// machines taken over, every change seen through every instance, the limit held across them.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { LiveClient } from "../live/live-client.ts";
import { encodeTokenProtocol } from "../../src/live/protocol.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { call, instancesSeenBy, registerSpread, startInstance, startInstances, stopInstances, type Instance } from "../helpers/instances.ts";
import { createTestHost, destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster, startPgCluster } from "../helpers/postgres.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";
import postgres from "postgres";

/** 127.3.x.y: loopback addresses (a ping to one is harmless). */
const loopback = (n: number) => `127.3.${Math.floor(n / 250)}.${(n % 250) + 1}`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

let running: Instance[] = [];
let receiver: HttpReceiver | undefined;
afterEach(async () => {
  await stopInstances(running);
  running = [];
  await receiver?.stop();
  receiver = undefined;
}, 60_000);
afterAll(destroyAllTestHosts);

async function database(): Promise<{ url: string; sql: postgres.Sql }> {
  const url = await (await sharedPgCluster()).createDatabase();
  return { url, sql: postgres(url, { max: 2, onnotice: () => {} }) };
}

/** Which instance holds the lease of each machine's shard (id mod 256). */
async function holders(sql: postgres.Sql): Promise<Map<number, string>> {
  const rows = await sql<{ id: number; holder: string | null }[]>`
    SELECT m.id, l.holder FROM machines m JOIN leases l ON l.shard = m.id % 256 AND l.expires_at > now()`;
  return new Map(rows.map((r) => [r.id, r.holder ?? ""]));
}

describe.skipIf(!needs("root"))("several instances on one PostgreSQL (compiled binary)", () => {
  test("3 instances, 3,000 loopback machines: each machine checked by exactly one instance per interval, the work split within ±20 %", async () => {
    const { url, sql } = await database();
    try {
      running = await startInstances(3, url, { PING_INTERVAL: "4s", PING_TIMEOUT: "500ms", LEASE_PERIOD: "3s", MAX_MACHINES: "5000" });
      const statuses = await registerSpread(running, range(3000).map(loopback));
      expect(statuses.filter((s) => s !== 201)).toEqual([]);

      // Balanced: every instance near its third, all 3,000 watched (from any instance's view).
      const balanced = (list: Awaited<ReturnType<typeof instancesSeenBy>>) => {
        const live = list.filter((i) => i.state === "live");
        const total = live.reduce((n, i) => n + i.machines_watched, 0);
        return live.length === 3 && total === 3000 && live.every((i) => Math.abs(i.machines_watched - 1000) <= 200);
      };
      const list = await waitFor("3,000 machines split among 3 instances", async () => {
        const l = await instancesSeenBy(running[2]!.base);
        return balanced(l) && l;
      }, 60_000, 500);
      expect(list.map((i) => i.leases_held).reduce((a, b) => a + b)).toBe(256);

      // Then count the checks each machine got in 5 intervals: about 5 (±2 for the ±10 % drift, a busy machine
      // and the window's edges); a machine checked by two instances would have about 10.
      const t0 = (await sql<{ t0: Date }[]>`SELECT now() AS t0`)[0]!.t0;
      await Bun.sleep(20_500);
      const counts = await sql<{ n: number; machines: number }[]>`
        SELECT n::int, count(*)::int AS machines FROM (
          SELECT m.id, count(s.checked_at) AS n FROM machines m
          LEFT JOIN ping_samples s ON s.machine_id = m.id AND s.checked_at >= ${t0} AND s.checked_at < ${t0}::timestamptz + interval '20 seconds'
          GROUP BY m.id) c GROUP BY n ORDER BY n`;
      const spread = Object.fromEntries(counts.map((c) => [c.n, c.machines]));
      expect(Math.min(...counts.map((c) => c.n))).toBeGreaterThanOrEqual(3);
      expect(Math.max(...counts.map((c) => c.n))).toBeLessThanOrEqual(7);
      expect(counts.reduce((n, c) => n + c.machines, 0)).toBe(3000);
      // No machine's shard held by two instances, none by nobody.
      const owners = await holders(sql);
      expect(owners.size).toBe(3000);
      expect(new Set(owners.values())).toEqual(new Set(running.map((i) => i.id)));
      console.log(`checks per machine in 5 intervals: ${JSON.stringify(spread)}; watched: ${list.map((i) => i.machines_watched).join(", ")}`);
    } finally {
      await sql.end();
    }
  }, 180_000);

  test("1,000 registrations at once, spread over 3 instances, at MAX_MACHINES - 10: exactly 10 stored, the rest 503 machine_limit", async () => {
    const { url, sql } = await database();
    try {
      running = await startInstances(3, url, { MAX_MACHINES: "110", PING_INTERVAL: "1d" });
      expect((await registerSpread(running, range(100).map(loopback))).every((s) => s === 201)).toBe(true);
      const statuses = await registerSpread(running, range(1000).map((i) => loopback(1000 + i)), 200);
      expect(statuses.filter((s) => s === 201)).toHaveLength(10);
      expect(statuses.filter((s) => s === 503)).toHaveLength(990);
      expect((await sql`SELECT count(*)::int AS n FROM machines`)[0]!.n).toBe(110);
      expect((await sql`SELECT count(*)::int AS n FROM events WHERE kind = 'registered'`)[0]!.n).toBe(110);
    } finally {
      await sql.end();
    }
  }, 120_000);

  test("an instance started with another SECRET_KEY than the others is told so at once (channels it cannot open are named)", async () => {
    const { url, sql } = await database();
    try {
      running = await startInstances(1, url);
      const channel = await call(running[0]!.base, "POST", "/api/channels", {
        name: "hook", kind: "webhook", settings: { url: "http://127.0.0.1:9/hook", secret: `whsec_${Buffer.alloc(32, 1).toString("base64")}` }, events: ["unreachable"],
      });
      expect(channel.status).toBe(201);
      const other = await startInstance(url, { SECRET_KEY: Buffer.alloc(32, 2).toString("base64") });
      running.push(other);
      const line = other.binary.output().split("\n").find((l) => l.includes("sealed with another key"));
      expect(line).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: "error", instances_with_another_key: [running[0]!.id] });
    } finally {
      await sql.end();
    }
  }, 60_000);

  test("a registration, a status change and a deletion through instance A reach a dashboard connected to instance B, in order", async () => {
    const { url, sql } = await database();
    try {
      running = await startInstances(2, url, { PING_INTERVAL: "1s", PING_TIMEOUT: "300ms", LEASE_PERIOD: "3s" });
      const [a, b] = running as [Instance, Instance];
      const dashboard = await LiveClient.connect(`${b.base.replace("http", "ws")}/ws/status`, ["vxman", encodeTokenProtocol(ADMIN_TOKEN)]);
      try {
        const created = await call<{ id: number }>(a.base, "PUT", `/api/machines/${loopback(1)}`, machineBody(1));
        expect(created.status).toBe(201);
        const id = created.body.id;
        const about = () => dashboard.events.filter((e) => ("machine" in e ? e.machine.id : e.machine_id) === id);
        await dashboard.waitFor(() => about().some((e) => e.type === "machine_registered"), "the registration, through B");
        await dashboard.waitFor(() => about().some((e) => e.type === "status_update" && e.checked), "a check of it, whichever instance made it");
        expect((await call<{ total: number }>(b.base, "GET", "/api/machines?q=node-1")).body.total).toBe(1);

        expect((await call(a.base, "PATCH", `/api/machines/${id}`, { labels: ["role=db"] })).status).toBe(200);
        await dashboard.waitFor(() => about().some((e) => e.type === "machine_updated" && e.machine.labels.includes("role=db")), "the label, through B");
        expect((await call(a.base, "DELETE", `/api/machines/${id}`)).status).toBe(204);
        await dashboard.waitFor(() => about().some((e) => e.type === "machine_deleted"), "the deletion, through B");

        // In order: registered first, deleted last, nothing after it.
        const kinds = about().map((e) => e.type);
        expect(kinds[0]).toBe("machine_registered");
        expect(kinds.at(-1)).toBe("machine_deleted");
        expect((await call<{ total: number }>(b.base, "GET", "/api/machines")).body.total).toBe(0);
      } finally {
        dashboard.close();
      }
    } finally {
      await sql.end();
    }
  }, 120_000);
});

describe.skipIf(!needs("root", "netns"))("an instance dies (compiled binary, PostgreSQL)", () => {
  const LEASE = 4_000;

  test("kill -9: its machines are checked again within two lease periods; a host that goes down meanwhile gets ONE unreachable event and ONE message", async () => {
    const { url, sql } = await database();
    try {
      const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
      receiver = await startHttpReceiver({ secret });
      running = await startInstances(3, url, {
        LEASE_PERIOD: `${LEASE / 1000}s`, PING_INTERVAL: "1s", PING_TIMEOUT: "300ms", BACKOFF_MAX: "1s", FAILURE_THRESHOLD: "3", GROUP_WAIT: "2s",
      });
      const host = await createTestHost();
      const target = await call<{ id: number }>(running[0]!.base, "PUT", `/api/machines/${host.ip}`, machineBody(9999));
      await registerSpread(running, range(300).map(loopback));
      const channel = await call(running[1]!.base, "POST", "/api/channels", {
        name: "on-call", kind: "webhook", settings: { url: `${receiver.url}/hook`, secret }, events: ["unreachable", "recovered"],
      });
      expect(channel.status).toBe(201);
      await waitFor("the work split among 3", async () => (await instancesSeenBy(running[0]!.base)).filter((i) => i.machines_watched > 0).length === 3, 30_000, 250);

      // Kill the instance that checks the host, and take the host down at the same moment.
      const owner = (await holders(sql)).get(target.body.id)!;
      const victim = running.find((i) => i.id === owner)!;
      const orphans = [...(await holders(sql))].filter(([, h]) => h === owner).map(([id]) => id);
      await victim.binary.crash();
      const killed = (await sql<{ killed: Date }[]>`SELECT now() AS killed`)[0]!.killed;
      await host.stopAnswering();

      // Every machine it checked is checked again by the others, within two lease periods.
      await waitFor("its machines checked again", async () => {
        const [row] = await sql<{ n: number }[]>`
          SELECT count(DISTINCT machine_id)::int AS n FROM ping_samples WHERE machine_id = ANY(${orphans}::int[]) AND checked_at > ${killed}`;
        return row!.n === orphans.length;
      }, 30_000, 200);
      const [{ last }] = await sql<[{ last: number }]>`
        SELECT extract(epoch FROM max(first) - ${killed}::timestamptz)::float8 AS last FROM (
          SELECT min(checked_at) AS first FROM ping_samples WHERE machine_id = ANY(${orphans}::int[]) AND checked_at > ${killed} GROUP BY machine_id) f`;
      console.log(`takeover after kill -9: the last of ${orphans.length} machines checked again ${last.toFixed(1)} s after (lease period ${LEASE / 1000} s)`);
      expect(last).toBeLessThan((2 * LEASE) / 1000);

      // The host: exactly one unreachable event and one message, whoever saw it.
      await waitFor("the host unreachable", async () => (await sql`SELECT 1 FROM events WHERE machine_id = ${target.body.id} AND kind = 'unreachable'`).length > 0, 30_000, 200);
      await receiver.waitForRequests(1, 30_000);
      await Bun.sleep(3 * LEASE); // room for a duplicate to show up
      expect((await sql`SELECT 1 FROM events WHERE machine_id = ${target.body.id} AND kind = 'unreachable'`).length).toBe(1);
      const messages = receiver.requests.map((r) => JSON.parse(r.body) as { kind: string; machines: { id: number }[] });
      expect(messages.filter((m) => m.kind === "unreachable" && m.machines.some((x) => x.id === target.body.id))).toHaveLength(1);
      // The dead instance is shown as such.
      const seen = await instancesSeenBy(running.find((i) => i !== victim)!.base);
      expect(seen.find((i) => i.id === victim.id)?.state).toBe("dead");
      running = running.filter((i) => i !== victim);
      await victim.binary.stop();
    } finally {
      await sql.end();
    }
  }, 180_000);
});

describe.skipIf(!needs("root", "netns", "iptables"))("an instance loses its database (compiled binary, PostgreSQL)", () => {
  test("its connection to PostgreSQL cut: it stops checking, the others take over, and it rejoins (and catches up) when the database is back", async () => {
    // X runs inside a test host's namespace and reaches PostgreSQL over that host's link, where a
    // firewall rule can cut it alone; A and B reach it over loopback.
    const host = await createTestHost();
    const pg = await startPgCluster({ listen: [host.hostIp], allow: [`${host.ip}/32`] });
    const url = await pg.createDatabase();
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    const cut = ["OUTPUT", "-d", host.hostIp, "-p", "tcp", "--dport", String(pg.port), "-j", "REJECT", "--reject-with", "tcp-reset"];
    try {
      const env = { LEASE_PERIOD: "3s", PING_INTERVAL: "1s", PING_TIMEOUT: "300ms" };
      running = await startInstances(2, url, env);
      const x = await startInstance(url.replace("127.0.0.1", host.hostIp), env, { inside: { name: host.name, ip: host.ip } });
      running.push(x);
      await registerSpread(running.slice(0, 2), range(300).map(loopback));
      const watchedBy = async (base: string) => Object.fromEntries((await instancesSeenBy(base)).filter((i) => i.state === "live").map((i) => [i.id, i.machines_watched]));
      await waitFor("X checks its share", async () => ((await watchedBy(running[0]!.base))[x.id] ?? 0) > 50, 30_000, 250);

      await host.exec(["iptables", "-A", ...cut]);
      const health = async () => (await (await fetch(`${x.base}/health`)).json()) as { database: string; instance: { leases_held: number; machines_watched: number } };
      await waitFor("X stops checking", async () => (await health()).instance.machines_watched === 0, 20_000, 200);
      expect((await health()).database).toBe("unavailable");
      await waitFor("A and B check all 300", async () => {
        const w = await watchedBy(running[0]!.base);
        return w[x.id] === undefined && Object.values(w).reduce((a, b) => a + b, 0) === 300;
      }, 20_000, 250);
      // Meanwhile a machine registers through A: X cannot hear of it now.
      expect((await call(running[0]!.base, "PUT", `/api/machines/${loopback(400)}`, machineBody(400))).status).toBe(201);

      await host.exec(["iptables", "-D", ...cut]);
      await waitFor("X checks its share again", async () => ((await watchedBy(running[0]!.base))[x.id] ?? 0) > 50, 30_000, 250);
      await waitFor("X lists the machine registered while it was cut off", async () => (await call<{ total: number }>(x.base, "GET", "/api/machines")).body.total === 301, 15_000, 250);
      expect(x.binary.output()).toContain("stopped checking; other instances take over");
      // Nothing was down: no machine changed status twice, no event doubled.
      expect((await sql`SELECT 1 FROM events WHERE kind IN ('unreachable', 'recovered')`).length).toBe(0);
    } finally {
      await host.exec(["iptables", "-D", ...cut]).catch(() => {});
      await stopInstances(running);
      running = [];
      await sql.end();
      pg.destroy();
    }
  }, 180_000);
});
