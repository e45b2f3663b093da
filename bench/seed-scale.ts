// The seed's own scale in under 5 minutes, as ONE table with each row's target and its ratio to
// the peer measured in the same run: idle with no machines, 1,000 loopback machines every 20 s
// on the embedded default and on PostgreSQL beside `fping -l` at the same rate on the same hosts,
// and a sweep of 10,000 hosts beside `fping -c1`. Shorter windows than the full benches
// (`idle`, `thousand`, `sweep`), so noisier: for figures to quote, run those.
//
//   npm run bench -- seed-scale        (root, fping; loopback only)
import { idleSample } from "./idle.ts";
import { loopback, requireTool, runAlone, startVxman, table } from "./lib.ts";
import { runSweepBench } from "./sweep.ts";
import { fpingCpuPercent, MACHINES, vxmanRun } from "./thousand.ts";

const IDLE_WARMUP_S = 10;
const IDLE_S = 30;
const INTERVAL_S = 20;
/** Measured after one interval (+10 s), so each 1,000-machine case takes ~70 s. */
const WINDOW_S = 30;

const pct = (x: number) => `${x.toFixed(2)} %`;

export async function runSeedScaleBench(): Promise<string> {
  requireTool("fping", "apt-get install fping");
  const rows: string[][] = [];

  // Idle: both storages at once (nothing to contend for).
  const idle = await Promise.all((["pglite", "postgres"] as const).map((s) => startVxman(s)));
  try {
    await Bun.sleep(IDLE_WARMUP_S * 1000);
    const [pglite, postgres] = await Promise.all(idle.map((s) => idleSample(s.pid(), IDLE_S)));
    rows.push([`idle, 0 machines, embedded (PGlite), ${IDLE_WARMUP_S}–${IDLE_WARMUP_S + IDLE_S} s after start (the start-up's tail; settled: bench idle)`, `${pct(pglite!.cpuPct)}, ${pglite!.wakeups.toFixed(1)} wake-ups/s, ${pglite!.rssMb.toFixed(0)} MiB`, "—", "—", "< 0.1 %"]);
    rows.push([`idle, 0 machines, PostgreSQL, ${IDLE_WARMUP_S}–${IDLE_WARMUP_S + IDLE_S} s after start`, `${pct(postgres!.cpuPct)}, ${postgres!.wakeups.toFixed(1)} wake-ups/s, ${postgres!.rssMb.toFixed(0)} MiB`, "—", "—", "< 0.1 %, < 80 MiB"]);
  } finally {
    await Promise.all(idle.map((s) => s.stop()));
  }

  // 1,000 machines: vxman on each storage, then fping alone on the same hosts at the same rate.
  const pglite = await vxmanRun("pglite", INTERVAL_S, undefined, WINDOW_S);
  const postgres = await vxmanRun("postgres", INTERVAL_S, undefined, WINDOW_S);
  const hosts = Array.from({ length: MACHINES }, (_, i) => loopback(i));
  const fping = await fpingCpuPercent(hosts, INTERVAL_S, WINDOW_S);
  const ratio = (x: number) => `${(x / fping).toFixed(1)}×`;
  rows.push([`1,000 machines every ${INTERVAL_S} s, embedded (PGlite)`, `${pct(pglite.cpuPct)}, ${pglite.rssMb.toFixed(0)} MiB`, `fping -l: ${pct(fping)}`, ratio(pglite.cpuPct), "≤ 3×, < 200 MiB"]);
  rows.push([`1,000 machines every ${INTERVAL_S} s, PostgreSQL`, `${pct(postgres.cpuPct)}, ${postgres.rssMb.toFixed(0)} MiB`, `fping -l: ${pct(fping)}`, ratio(postgres.cpuPct), "≤ 3×"]);

  // The sweep: its own runs alternate vxman and fping (bench/sweep.ts).
  const [vx, fp] = await runSweepBench();
  if (vx && fp) {
    rows.push([`sweep of ${vx.hosts.toLocaleString("en")} hosts, wall`, `${vx.wallMs.toFixed(0)} ms`, `fping -c1: ${fp.wallMs.toFixed(0)} ms`, `${vx.wallVsFping!.toFixed(2)}×`, "≤ 1.0×"]);
    rows.push([`sweep of ${vx.hosts.toLocaleString("en")} hosts, CPU`, `${vx.cpuMs.toFixed(0)} ms`, `fping -c1: ${fp.cpuMs.toFixed(0)} ms`, `${vx.cpuVsFping!.toFixed(2)}×`, "≤ 1.2×"]);
  }
  return table("Seed scale (compiled binary, loopback; CPU as % of one core, all threads)", ["case", "vxman", "peer, same run", "vxman ÷ peer", "target"], rows);
}

if (import.meta.main) await runAlone(runSeedScaleBench);
