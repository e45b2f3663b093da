// Steady state: the compiled binary on PostgreSQL watching 10,000 registered loopback machines
// at a 10 s interval for 2 minutes. Reports vxman's CPU (% of one core, all threads), RSS,
// database writes per second (statements and rows, from pg_stat_database), the event-loop lag
// p99 (from /metrics), and what PostgreSQL itself spent. Needs root (raw ICMP).
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { sharedPgCluster } from "../test/helpers/postgres.ts";
import { ADMIN, clusterCpuSeconds, loopback, median, procStats, runAlone, seed, startVxman, table } from "./lib.ts";

const MACHINES = Number(process.env.BENCH_MACHINES ?? 10_000);
const SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 120);
const WARMUP_S = 15; // the first round of checks after registration is not steady state
const RSS_EVERY_S = 10;

/** The peer: fping in loop mode pinging the same hosts at the same rate (each every 10 s). */
async function fpingSteadyCpuPercent(hosts: string[], seconds: number): Promise<number | null> {
  if (!Bun.which("fping")) return null;
  const file = `/tmp/vxman-steady-hosts-${process.pid}.txt`;
  await Bun.write(file, hosts.join("\n") + "\n");
  // -p: per-host period; -i: gap between any two packets (1 ms = 1,000 a second, the same rate).
  const proc = Bun.spawn(["fping", "-l", "-q", "-p", "10000", "-i", "1", "-t", "1000", "-f", file], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(WARMUP_S * 1000);
  const cpu = () => {
    const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const before = cpu();
  await Bun.sleep(seconds * 1000);
  const used = cpu() - before;
  proc.kill();
  await proc.exited;
  await Bun.file(file).delete();
  return (used / seconds) * 100;
}

async function lagP99Ms(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith("vxman_nodejs_eventloop_lag_p99_seconds "));
  return Number(line?.split(" ")[1] ?? NaN) * 1000;
}

export async function runSteadyBench(): Promise<string> {
  const cluster = await sharedPgCluster();
  const server = await startVxman("postgres", { MAX_MACHINES: String(MACHINES * 2), PING_INTERVAL: "10s", MAX_PARALLEL_PINGS: "100" });
  const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
  const dataDir = `${cluster.dir}/data`;
  try {
    await seed(server.base, MACHINES);
    await Bun.sleep(WARMUP_S * 1000);
    const stats = async () => (await sql`SELECT xact_commit::float8 AS commits, (tup_inserted + tup_updated + tup_deleted)::float8 AS rows FROM pg_stat_database WHERE datname = current_database()`)[0]!;
    await lagP99Ms(server.base); // resets the lag histogram: the next reading covers the window
    const before = { vx: procStats(server.pid()), pg: clusterCpuSeconds(dataDir), db: await stats() };
    // RSS sampled every 10 s: it swings with the JavaScript heap between collections, so one
    // reading at the end says little; the median and the highest say what it costs.
    const rss: number[] = [];
    for (let waited = 0; waited < SECONDS; waited += RSS_EVERY_S) {
      await Bun.sleep(Math.min(RSS_EVERY_S, SECONDS - waited) * 1000);
      rss.push(procStats(server.pid()).rssMb);
    }
    const after = { vx: procStats(server.pid()), pg: clusterCpuSeconds(dataDir), db: await stats() };
    const lag = await lagP99Ms(server.base);
    const metrics = await (await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const sent = Number(/^vxman_pings_sent_total (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const timeouts = Number(/^vxman_ping_timeouts_total (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const rows: (string | number)[][] = [
      ["vxman CPU, % of one core (all threads)", `${(((after.vx.cpuS - before.vx.cpuS) / SECONDS) * 100).toFixed(2)} %`, "< 5 %"],
      ["vxman RSS: median / highest of the samples every 10 s", `${median(rss).toFixed(0)} / ${Math.max(...rss).toFixed(0)} MiB`, "< 150 MiB"],
      ["event-loop lag p99", `${lag.toFixed(2)} ms`, "< 5 ms"],
      ["database transactions / s", ((after.db.commits - before.db.commits) / SECONDS).toFixed(1), ""],
      ["database rows written / s", ((after.db.rows - before.db.rows) / SECONDS).toFixed(0), ""],
      ["PostgreSQL CPU, % of one core", `${(((after.pg - before.pg) / SECONDS) * 100).toFixed(2)} %`, ""],
      ["pings sent (whole run) / timeouts", `${sent} / ${timeouts}`, ""],
    ];
    await server.stop();
    const fping = await fpingSteadyCpuPercent(Array.from({ length: MACHINES }, (_, i) => loopback(i)), SECONDS);
    const vxCpu = ((after.vx.cpuS - before.vx.cpuS) / SECONDS) * 100;
    if (fping !== null) rows.splice(1, 0, [`peer: fping -l -p 10000 -i 1, same ${MACHINES.toLocaleString()} hosts, same rate`, `${fping.toFixed(2)} % (vxman ${(vxCpu / fping).toFixed(2)}×)`, ""]);
    return table(`Steady state: ${MACHINES.toLocaleString()} loopback machines at a 10 s interval, ${SECONDS} s measured after ${WARMUP_S} s warm-up (PostgreSQL)`, ["measure", "value", "target"], rows);
  } finally {
    await sql.end();
    await server.stop();
  }
}

if (import.meta.main) await runAlone(runSteadyBench);
