// The seed's own scale: 1,000 loopback machines checked every 20 s and every 60 s, on the embedded
// default (PGlite) and on PostgreSQL. vxman's CPU (% of one core, all threads, from /proc) and RSS
// beside fping's at the same rate on the same hosts (`fping -l -p 20000 -i 20`: each host every
// 20 s, 50 packets a second), measured right after vxman's window in the same run (not at the
// same time: each would read the other's replies on its raw socket). Target: ≤ 3× fping.
// BENCH_THOUSAND_CASES=pglite:20,postgres:60 picks cases; BENCH_THOUSAND_SECONDS the window.
// VXMAN_BASELINE=path also measures another build (an older commit's) the same way.
import { readFileSync } from "node:fs";
import { sharedPgCluster } from "../test/helpers/postgres.ts";
import { clusterCpuSeconds, loopback, procStats, runAlone, seed, startVxman, table } from "./lib.ts";

export const MACHINES = 1000;
const SECONDS = Number(process.env.BENCH_THOUSAND_SECONDS ?? 120);
const CASES = (process.env.BENCH_THOUSAND_CASES ?? "pglite:20,postgres:20,pglite:60,postgres:60").split(",").map((c) => {
  const [storage, interval] = c.split(":");
  if ((storage !== "pglite" && storage !== "postgres") || !Number(interval)) throw new Error(`bad case ${c}: want pglite:20 or postgres:60`);
  return { storage, intervalS: Number(interval) } as const;
});

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** fping in loop mode on the same hosts at the same rate: % of one core over `seconds`. */
export async function fpingCpuPercent(hosts: string[], intervalS: number, seconds: number): Promise<number> {
  const file = `/tmp/vxman-thousand-hosts-${process.pid}.txt`;
  await Bun.write(file, hosts.join("\n") + "\n");
  const gapMs = Math.max(1, Math.floor((intervalS * 1000) / hosts.length));
  const proc = Bun.spawn(["fping", "-l", "-q", "-p", String(intervalS * 1000), "-i", String(gapMs), "-t", "1000", "-f", file], { stdout: "ignore", stderr: "ignore" });
  try {
    await Bun.sleep(Math.min(intervalS, 20) * 1000); // its first round
    const before = cpuSeconds(proc.pid);
    await Bun.sleep(seconds * 1000);
    return ((cpuSeconds(proc.pid) - before) / seconds) * 100;
  } finally {
    proc.kill();
    await proc.exited;
    await Bun.file(file).delete();
  }
}

/** The binary watching 1,000 loopback machines every `intervalS`: its CPU over `seconds` after
 *  one interval (every machine checked once since its registration), and on PostgreSQL what the
 *  database server spent meanwhile (on PGlite that work is inside vxman's own figure). */
export async function vxmanRun(storage: "pglite" | "postgres", intervalS: number, binary?: string, seconds = SECONDS): Promise<{ cpuPct: number; rssMb: number; dbCpuPct: number | null }> {
  const server = await startVxman(storage, { MAX_MACHINES: "10000", PING_INTERVAL: `${intervalS}s` }, binary);
  const dbCpu = async () => (storage === "postgres" ? clusterCpuSeconds(`${(await sharedPgCluster()).dir}/data`) : 0);
  try {
    await seed(server.base, MACHINES, 10);
    await Bun.sleep((intervalS + 10) * 1000);
    const before = { vx: procStats(server.pid()), db: await dbCpu() };
    await Bun.sleep(seconds * 1000);
    const after = { vx: procStats(server.pid()), db: await dbCpu() };
    const pct = (cpuS: number) => (cpuS / seconds) * 100;
    return { cpuPct: pct(after.vx.cpuS - before.vx.cpuS), rssMb: after.vx.rssMb, dbCpuPct: storage === "postgres" ? pct(after.db - before.db) : null };
  } finally {
    await server.stop();
  }
}

export async function runThousandBench(): Promise<string> {
  if (!Bun.which("fping")) throw new Error("fping is missing: apt-get install fping");
  const hosts = Array.from({ length: MACHINES }, (_, i) => loopback(i));
  const rows: (string | number)[][] = [];
  for (const { storage, intervalS } of CASES) {
    const label = `${storage === "pglite" ? "embedded (PGlite)" : "PostgreSQL"}, every ${intervalS} s`;
    const baseline = process.env.VXMAN_BASELINE ? await vxmanRun(storage, intervalS, process.env.VXMAN_BASELINE) : null;
    const vx = await vxmanRun(storage, intervalS);
    const fping = await fpingCpuPercent(hosts, intervalS, SECONDS);
    const ratio = (cpu: number) => `${(cpu / fping).toFixed(1)}×`;
    const db = (r: { dbCpuPct: number | null }) => (r.dbCpuPct === null ? "(inside vxman)" : `${r.dbCpuPct.toFixed(2)} %`);
    if (baseline) rows.push([`${label}, baseline build`, `${baseline.cpuPct.toFixed(2)} %`, `${baseline.rssMb.toFixed(0)} MiB`, db(baseline), `${fping.toFixed(2)} %`, ratio(baseline.cpuPct)]);
    rows.push([label, `${vx.cpuPct.toFixed(2)} %`, `${vx.rssMb.toFixed(0)} MiB`, db(vx), `${fping.toFixed(2)} %`, ratio(vx.cpuPct)]);
  }
  return table(`1,000 loopback machines, ${SECONDS} s measured after one interval (fping right after, same hosts, same rate)`, ["case", "vxman CPU, % of one core", "vxman RSS", "PostgreSQL server CPU", `fping -l -p <interval> -i <interval ÷ 1,000>`, "vxman ÷ fping"], rows) + "\ntarget: ≤ 3× fping; RSS < 200 MiB on the embedded default\n";
}

if (import.meta.main) await runAlone(runThousandBench);
