// Registrations at once, over real HTTP to the compiled binary on PostgreSQL (rate limit off):
// 1,000 distinct IPs, 1,000 times the same IP, and new IPs racing for the last places under
// MAX_MACHINES. No duplicates, no 500s, the limit exact. 200 requests in flight at a time: what
// two cores can carry without the test measuring its own client.
import { afterAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { isolatedBinary, startProcess, waitForHttp, type RunningProcess } from "../helpers/binary.ts";
import { freePort, sharedPgCluster } from "../helpers/postgres.ts";

const IN_FLIGHT = 200;
const TOTAL = 1000;

const started: { proc: RunningProcess; cleanup(): void }[] = [];
afterAll(async () => {
  for (const s of started) {
    s.proc.kill("SIGTERM");
    await Promise.race([s.proc.exited, Bun.sleep(10_000)]);
    s.proc.kill("SIGKILL");
    await s.proc.exited;
    s.cleanup();
  }
}, 30_000);

interface Served {
  base: string;
  url: string;
  /** The server's error log lines so far (an unexpected 500 is logged with its cause). */
  errors(): string[];
}

async function startBinary(env: Record<string, string>): Promise<Served> {
  const url = await (await sharedPgCluster()).createDatabase();
  const { dir, bin, cleanup } = isolatedBinary();
  const port = await freePort();
  const proc = startProcess([bin, "serve"], {
    cwd: dir,
    env: { PORT: String(port), HOST: "127.0.0.1", LOG_FORMAT: "json", LOG_LEVEL: "warn", DATABASE_URL: url, ADMIN_TOKEN, RATE_LIMIT: "0", ...env },
  });
  started.push({ proc, cleanup });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health`, 30_000, proc);
  const errors = () => proc.output().split("\n").filter((l) => l.includes('"level":"error"')).map((l) => l.slice(0, 2000));
  return { base, url, errors };
}

interface Outcome {
  status: number; // 0: no HTTP answer at all
  error?: string;
  retryAfter?: string | null;
}

/** `total` requests, at most `inFlight` at a time; every one answered or counted as status 0. */
async function blast(total: number, inFlight: number, send: (i: number) => Promise<Response>): Promise<Outcome[]> {
  const results: Outcome[] = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        try {
          const res = await send(i);
          const body = await res.json().catch(() => ({}));
          results[i] = { status: res.status, error: body.error, retryAfter: res.headers.get("retry-after") };
        } catch (err) {
          results[i] = { status: 0, error: String(err) };
        }
      }
    }),
  );
  return results;
}

const put = (base: string, ip: string, body: object) =>
  fetch(`${base}/api/machines/${ip}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });

const tally = (outcomes: Outcome[]) => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
};

async function query<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** 127.60.x.y: loopback, so the monitor's pings to them stay on this machine. */
const ipOf = (block: number, i: number) => `127.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`;

describe("concurrent registrations on PostgreSQL (compiled binary)", () => {
  test(
    "1,000 distinct IPs at once, then 1,000 times the same IP: no duplicates, no 500s, one 201",
    async () => {
      const { base, url, errors } = await startBinary({ MAX_MACHINES: "5000" });

      const distinct = await blast(TOTAL, IN_FLIGHT, (i) => put(base, ipOf(60, i), machineBody(i)));
      expect(errors()).toEqual([]);
      expect(tally(distinct)).toEqual({ 201: TOTAL });
      const rows = await query(url, (sql) => sql<{ rows: number; ips: number; events: number }[]>`
        SELECT (SELECT count(*)::int FROM machines) AS rows, (SELECT count(DISTINCT ip_address)::int FROM machines) AS ips,
               (SELECT count(*)::int FROM events WHERE kind = 'registered') AS events`);
      expect(rows[0]).toEqual({ rows: TOTAL, ips: TOTAL, events: TOTAL });

      const same = await blast(TOTAL, IN_FLIGHT, () => put(base, "127.61.0.1", machineBody(77)));
      expect(errors()).toEqual([]);
      expect(tally(same)).toEqual({ 200: TOTAL - 1, 201: 1 });
      const one = await query(url, (sql) => sql<{ rows: number; registered: number; updated: number }[]>`
        SELECT (SELECT count(*)::int FROM machines WHERE ip_address = '127.61.0.1') AS rows,
               (SELECT count(*)::int FROM events WHERE ip_address = '127.61.0.1' AND kind = 'registered') AS registered,
               (SELECT count(*)::int FROM events WHERE ip_address = '127.61.0.1' AND kind = 'updated') AS updated`);
      expect(one[0]).toEqual({ rows: 1, registered: 1, updated: 0 }); // the same body 999 more times changes nothing

      // The same IP with different bodies at once: still one machine, and one "updated" per real change at most.
      const racing = await blast(TOTAL, IN_FLIGHT, (i) => put(base, "127.61.0.2", machineBody(i % 10)));
      const counts = tally(racing);
      expect(counts[201]).toBe(1);
      expect(counts[200]).toBe(TOTAL - 1);
      const [row] = await query(url, (sql) => sql<{ rows: number; updated: number }[]>`
        SELECT (SELECT count(*)::int FROM machines WHERE ip_address = '127.61.0.2') AS rows,
               (SELECT count(*)::int FROM events WHERE ip_address = '127.61.0.2' AND kind = 'updated') AS updated`);
      expect(row!.rows).toBe(1);
      expect(row!.updated).toBeLessThanOrEqual(TOTAL - 1);
      expect((await (await fetch(`${base}/api/machines?limit=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).total).toBe(TOTAL + 2);
      expect((await fetch(`${base}/health`)).status).toBe(200);
    },
    180_000,
  );

  test(
    "MAX_MACHINES = 300 and 1,000 new IPs at once: exactly 300 stored, the rest 503 machine_limit",
    async () => {
      const LIMIT = 300;
      const { base, url, errors } = await startBinary({ MAX_MACHINES: String(LIMIT) });
      // Some places are taken already; the rest are raced for.
      const first = await blast(100, 50, (i) => put(base, ipOf(62, i), machineBody(i)));
      expect(tally(first)).toEqual({ 201: 100 });

      const race = await blast(TOTAL, IN_FLIGHT, (i) => put(base, ipOf(63, i), machineBody(1000 + i)));
      expect(errors()).toEqual([]);
      expect(tally(race)).toEqual({ 201: LIMIT - 100, 503: TOTAL - (LIMIT - 100) });
      const refused = race.filter((o) => o.status === 503);
      expect(refused.every((o) => o.error === "machine_limit" && Number(o.retryAfter) > 0)).toBe(true);
      const [counts] = await query(url, (sql) => sql<{ rows: number; ips: number; events: number }[]>`
        SELECT (SELECT count(*)::int FROM machines) AS rows, (SELECT count(DISTINCT ip_address)::int FROM machines) AS ips,
               (SELECT count(*)::int FROM events WHERE kind = 'registered') AS events`);
      expect(counts).toEqual({ rows: LIMIT, ips: LIMIT, events: LIMIT });

      // At the limit, known machines still update, and re-registration of stored IPs is not refused.
      const stored = await query(url, (sql) => sql<{ ip: string }[]>`SELECT host(ip_address) AS ip FROM machines`);
      const updates = await blast(stored.length, IN_FLIGHT, (i) => put(base, stored[i]!.ip, machineBody(5000 + i)));
      expect(tally(updates)).toEqual({ 200: LIMIT });
      expect((await (await fetch(`${base}/api/machines?limit=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).total).toBe(LIMIT);

      // One place left and one new IP sent 1,000 times at once: it takes the place once (201) and
      // every other copy is an update of it (200), not a refusal for a limit it does not exceed.
      const victim = stored.at(-1)!.ip;
      const del = await fetch(`${base}/api/machines/${victim}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(del.status).toBe(204);
      const last = await blast(TOTAL, IN_FLIGHT, () => put(base, "127.63.9.9", machineBody(9999)));
      expect(tally(last)).toEqual({ 201: 1, 200: TOTAL - 1 });
      expect((await (await fetch(`${base}/api/machines?limit=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).total).toBe(LIMIT);
    },
    180_000,
  );

  test(
    "registrations racing deletions of the same IP: never a 500, never two rows",
    async () => {
      const { base, url } = await startBinary({ MAX_MACHINES: "5000" });
      const ip = "127.64.0.1";
      const del = () =>
        fetch(`${base}/api/machines/${ip}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(60_000) });
      const mixed = await blast(TOTAL, IN_FLIGHT, (i) => (i % 3 === 2 ? del() : put(base, ip, machineBody(i % 5))));
      const counts = tally(mixed);
      expect(Object.keys(counts).sort()).toEqual(expect.arrayContaining(["201", "204"]));
      for (const status of Object.keys(counts)) expect(["200", "201", "204", "404"]).toContain(status);
      const [row] = await query(url, (sql) => sql<{ rows: number; created: number; deleted: number }[]>`
        SELECT (SELECT count(*)::int FROM machines WHERE ip_address = ${ip}::inet) AS rows,
               (SELECT count(*)::int FROM events WHERE ip_address = ${ip}::inet AND kind = 'registered') AS created,
               (SELECT count(*)::int FROM events WHERE ip_address = ${ip}::inet AND kind = 'deleted') AS deleted`);
      expect(row!.rows).toBeLessThanOrEqual(1);
      // Every creation answered 201 and every deletion 204 has exactly its event.
      expect(row!.created).toBe(counts[201]!);
      expect(row!.deleted).toBe(counts[204]!);
      expect(row!.created - row!.deleted).toBe(row!.rows);
    },
    180_000,
  );
});
