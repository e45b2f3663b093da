// Several instances: 100,000 loopback machines at a 60 s interval, checked by one instance, then
// by four on these 2 cores (compiled binary, one PostgreSQL). Per instance CPU and RSS, what
// PostgreSQL spent and wrote, how long a change made through one instance takes to reach a
// dashboard connected to another (p50/p99), and the takeover after kill -9. Needs root.
import postgres from "postgres";
import { LiveClient } from "../test/live/live-client.ts";
import { encodeTokenProtocol } from "../src/live/protocol.ts";
import { migrate, seedMachines } from "../test/helpers/seeded-fleet.ts";
import { call, instancesSeenBy, startInstance, stopInstances, type Instance } from "../test/helpers/instances.ts";
import { sharedPgCluster } from "../test/helpers/postgres.ts";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { clusterCpuSeconds, procStats, runAlone, table } from "./lib.ts";

const MACHINES = Number(process.env.BENCH_CLUSTER_MACHINES ?? 100_000);
const SECONDS = Number(process.env.BENCH_CLUSTER_SECONDS ?? 120);
/** The first checks are spread over 0.5–1.5 intervals: measure after that. */
const WARMUP_S = Number(process.env.BENCH_CLUSTER_WARMUP ?? 95);
const ENV = { PING_INTERVAL: "60s", MAX_MACHINES: String(MACHINES + 1000), LOG_LEVEL: "warn" };
const START = { startTimeoutMs: 180_000 };

async function waitBalanced(instances: Instance[], ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = (await instancesSeenBy(instances[0]!.base)).filter((i) => i.state === "live");
    const watched = live.map((i) => i.machines_watched);
    if (live.length === instances.length && watched.reduce((a, b) => a + b, 0) === MACHINES && Math.max(...watched) <= (MACHINES / instances.length) * 1.2) return;
    if (Date.now() > deadline) throw new Error(`not balanced after ${ms} ms: ${watched.join(", ")}`);
    await Bun.sleep(500);
  }
}

interface Window {
  cpu: number[];
  rss: number[];
  pgCpu: number;
  commits: number;
  rows: number;
}

/** CPU (% of one core) and RSS of each instance, and PostgreSQL's work, over SECONDS. */
async function measure(instances: Instance[], sql: postgres.Sql, dataDir: string): Promise<Window> {
  const db = async () => (await sql`SELECT xact_commit::float8 AS commits, (tup_inserted + tup_updated + tup_deleted)::float8 AS rows FROM pg_stat_database WHERE datname = current_database()`)[0]!;
  const before = { vx: instances.map((i) => procStats(i.binary.pid())), pg: clusterCpuSeconds(dataDir), db: await db() };
  await Bun.sleep(SECONDS * 1000);
  const after = { vx: instances.map((i) => procStats(i.binary.pid())), pg: clusterCpuSeconds(dataDir), db: await db() };
  return {
    cpu: after.vx.map((a, k) => ((a.cpuS - before.vx[k]!.cpuS) / SECONDS) * 100),
    rss: after.vx.map((a) => a.rssMb),
    pgCpu: ((after.pg - before.pg) / SECONDS) * 100,
    commits: (after.db.commits - before.db.commits) / SECONDS,
    rows: (after.db.rows - before.db.rows) / SECONDS,
  };
}

/** A note changed through `from`, seen on a dashboard connected to `to`: milliseconds, n times. */
async function changeLatency(from: Instance, to: Instance, n: number): Promise<number[]> {
  const dashboard = await LiveClient.connect(`${to.base.replace("http", "ws")}/ws/status`, ["vxman", encodeTokenProtocol(ADMIN_TOKEN)], 120_000); // 100,000 machines' snapshot
  const latencies: number[] = [];
  try {
    for (let k = 0; k < n; k++) {
      const note = `latency ${k} ${Date.now()}`;
      const t0 = performance.now();
      const res = await call(from.base, "PATCH", `/api/machines/${1 + (k % 1000)}`, { notes: note });
      if (res.status !== 200) throw new Error(`PATCH: ${res.status}`);
      await dashboard.waitFor(() => dashboard.events.some((e) => e.type === "machine_updated" && e.machine.notes === note), "the note", 10_000);
      latencies.push(performance.now() - t0);
    }
  } finally {
    dashboard.close();
  }
  return latencies.sort((a, b) => a - b);
}

/** BENCH_CLUSTER_ONE=1: the single instance alone (its CPU, RSS and reads of everything), in ~4 minutes. */
const ONE_ONLY = process.env.BENCH_CLUSTER_ONE === "1";

/** Every machine over the API, a page of 10,000 (the most a page holds) at a time: milliseconds. */
async function listAllMs(base: string): Promise<number> {
  const t0 = performance.now();
  for (let offset = 0; offset < MACHINES; offset += 10_000) {
    const res = await call(base, "GET", `/api/machines?limit=10000&offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET /api/machines: ${res.status}`);
  }
  return performance.now() - t0;
}

/** A dashboard socket from connect to its snapshot of every machine: milliseconds, and its size. */
async function snapshotMs(base: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const dashboard = await LiveClient.connect(`${base.replace("http", "ws")}/ws/status`, ["vxman", encodeTokenProtocol(ADMIN_TOKEN)], 120_000);
  try {
    const ms = performance.now() - t0;
    return { ms, bytes: dashboard.snapshot!.length };
  } finally {
    dashboard.close();
  }
}

async function oneInstanceTable(instance: Instance, one: Window): Promise<string> {
  const lists = [await listAllMs(instance.base), await listAllMs(instance.base), await listAllMs(instance.base)].sort((a, b) => a - b);
  const snaps = [await snapshotMs(instance.base), await snapshotMs(instance.base), await snapshotMs(instance.base)].sort((a, b) => a.ms - b.ms);
  return table(
    `One instance: ${MACHINES.toLocaleString()} loopback machines at a 60 s interval, ${SECONDS} s measured after ${WARMUP_S} s (compiled binary, PostgreSQL)`,
    ["measure", "value", "target"],
    [
      ["vxman CPU, % of one core", `${one.cpu[0]!.toFixed(1)} %`, "< 10 %"],
      ["vxman RSS", `${one.rss[0]!.toFixed(0)} MiB`, "< 400 MiB"],
      ["PostgreSQL CPU, % of one core", `${one.pgCpu.toFixed(1)} %`, ""],
      ["PostgreSQL transactions / s; rows written / s", `${one.commits.toFixed(1)}; ${one.rows.toFixed(0)}`, ""],
      ["GET /api/machines, every machine in pages of 10,000 (median of 3)", `${lists[1]!.toFixed(0)} ms`, "< 1.5 s"],
      ["a dashboard socket: connect → snapshot of every machine (median of 3)", `${snaps[1]!.ms.toFixed(0)} ms (${(snaps[1]!.bytes / 1e6).toFixed(0)} MB as JSON)`, ""],
    ],
  );
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** kill -9 one instance: seconds until the others watch all machines, and until each of its
 *  machines has been checked again (on its own schedule: up to an interval later). */
async function takeover(instances: Instance[], sql: postgres.Sql): Promise<{ watchedS: number; checkedS: number; orphans: number }> {
  const victim = instances.at(-1)!;
  const orphans = (await sql<{ id: number }[]>`
    SELECT m.id FROM machines m JOIN leases l ON l.shard = m.id % 256 WHERE l.holder = ${victim.id}`).map((r) => r.id);
  await victim.binary.crash();
  const killedAt = (await sql<{ t: Date }[]>`SELECT now() AS t`)[0]!.t;
  const t0 = performance.now();
  const others = instances.slice(0, -1);
  let watchedS = NaN;
  for (let i = 0; i < 600; i++) {
    const live = (await instancesSeenBy(others[0]!.base)).filter((x) => x.state === "live");
    if (live.length === others.length && live.reduce((n, x) => n + x.machines_watched, 0) === MACHINES) {
      watchedS = (performance.now() - t0) / 1000;
      break;
    }
    await Bun.sleep(200);
  }
  let checkedS = NaN;
  for (let i = 0; i < 300; i++) {
    const [row] = await sql<{ n: number; last: number | null }[]>`
      SELECT count(*)::int AS n, extract(epoch FROM max(first) - ${killedAt}::timestamptz)::float8 AS last FROM (
        SELECT min(checked_at) AS first FROM ping_samples WHERE machine_id = ANY(${orphans}::int[]) AND checked_at > ${killedAt} GROUP BY machine_id) f`;
    if (row!.n === orphans.length) {
      checkedS = row!.last!;
      break;
    }
    await Bun.sleep(1000);
  }
  return { watchedS, checkedS, orphans: orphans.length };
}

export async function runClusterBench(): Promise<string> {
  const pg = await sharedPgCluster();
  const url = await pg.createDatabase();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const dataDir = `${pg.dir}/data`;
  let instances: Instance[] = [];
  try {
    migrate(url);
    await seedMachines(sql, MACHINES, "bench-");

    instances = [await startInstance(url, ENV, START)];
    await waitBalanced(instances);
    await Bun.sleep(WARMUP_S * 1000);
    const one = await measure(instances, sql, dataDir);
    if (ONE_ONLY) return await oneInstanceTable(instances[0]!, one);
    await stopInstances(instances);

    instances = [];
    for (let k = 0; k < 4; k++) instances.push(await startInstance(url, ENV, START));
    await waitBalanced(instances);
    await Bun.sleep(WARMUP_S * 1000);
    const four = await measure(instances, sql, dataDir);
    const same = await changeLatency(instances[0]!, instances[0]!, 100);
    const across = await changeLatency(instances[0]!, instances[1]!, 100);
    const t = await takeover(instances, sql);

    const f = (xs: number[], unit: string, digits = 1) => xs.map((x) => `${x.toFixed(digits)}${unit}`).join(", ");
    return table(
      `Several instances: ${MACHINES.toLocaleString()} loopback machines at a 60 s interval, ${SECONDS} s measured after ${WARMUP_S} s (compiled binary, one PostgreSQL, ${navigator.hardwareConcurrency} cores)`,
      ["measure", "1 instance", "4 instances"],
      [
        ["vxman CPU, % of one core, per instance", f(one.cpu, " %"), f(four.cpu, " %")],
        ["vxman CPU, all instances together", `${one.cpu.reduce((a, b) => a + b).toFixed(1)} %`, `${four.cpu.reduce((a, b) => a + b).toFixed(1)} %`],
        ["vxman RSS per instance", f(one.rss, " MiB", 0), f(four.rss, " MiB", 0)],
        ["PostgreSQL CPU, % of one core", `${one.pgCpu.toFixed(1)} %`, `${four.pgCpu.toFixed(1)} %`],
        ["PostgreSQL transactions / s", one.commits.toFixed(1), four.commits.toFixed(1)],
        ["PostgreSQL rows written / s", one.rows.toFixed(0), four.rows.toFixed(0)],
        ["a change → a dashboard on the same instance, p50 / p99", "", `${pct(same, 50).toFixed(1)} / ${pct(same, 99).toFixed(1)} ms`],
        ["a change → a dashboard on another instance, p50 / p99", "", `${pct(across, 50).toFixed(1)} / ${pct(across, 99).toFixed(1)} ms`],
        [`kill -9 of one of 4 (${t.orphans.toLocaleString()} machines): all watched again`, "", `${t.watchedS.toFixed(1)} s (LEASE_PERIOD 15 s)`],
        ["… and each of them checked again (its next check is up to an interval away)", "", `${t.checkedS.toFixed(1)} s`],
      ],
    );
  } finally {
    await stopInstances(instances);
    await sql.end();
  }
}

if (import.meta.main) await runAlone(runClusterBench);
