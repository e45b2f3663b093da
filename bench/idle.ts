// Idle: the compiled binary with no machines, on PGlite (the embedded default) and on PostgreSQL.
// Reports its CPU (% of one core, all threads, and the main thread alone) and its wake-ups a
// second: context switches of all its threads (voluntary + involuntary, /proc/PID/task/*/status),
// the proxy for timers that fire with nothing to do (perf is not installed here). Set
// VXMAN_BASELINE=path to measure another build (e.g. the previous commit's) beside this one.
import { readdirSync, readFileSync } from "node:fs";
import { runAlone, startVxman, table } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_SECONDS ?? 15);

interface ThreadSample { name: string; ticks: number; switches: number }

/** Per thread: name, CPU ticks (user + sys), context switches so far. Threads that ended are lost. */
function threads(pid: number): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      const num = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
      out.set(tid, { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), ticks: Number(f[11]) + Number(f[12]), switches: num("voluntary_ctxt_switches") + num("nonvoluntary_ctxt_switches") });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export interface IdleSample { cpuPct: number; mainPct: number; wakeups: number; mainWakeups: number; rssMb: number; busiest: string }

/** Measure a running process for `seconds`. */
export async function idleSample(pid: number, seconds: number): Promise<IdleSample> {
  const before = threads(pid);
  await Bun.sleep(seconds * 1000);
  const after = threads(pid);
  let ticks = 0, switches = 0;
  const perThread: { tid: string; name: string; ticks: number; switches: number }[] = [];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { ticks: 0, switches: 0 };
    ticks += a.ticks - b.ticks;
    switches += a.switches - b.switches;
    perThread.push({ tid, name: a.name, ticks: a.ticks - b.ticks, switches: a.switches - b.switches });
  }
  const main = perThread.find((t) => t.tid === String(pid)) ?? { ticks: 0, switches: 0 };
  perThread.sort((x, y) => y.switches - x.switches);
  const busiest = perThread.slice(0, 3).filter((t) => t.switches > 0).map((t) => `${t.name} ${(t.switches / seconds).toFixed(1)}/s`).join(", ");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return { cpuPct: ticks / seconds, mainPct: main.ticks / seconds, wakeups: switches / seconds, mainWakeups: main.switches / seconds, rssMb: rssKb / 1024, busiest };
}

export async function runIdleBench(): Promise<string> {
  const rows: (string | number)[][] = [];
  // VXMAN_BASELINE=path: another build (an older commit's), idle beside this one at the same time.
  const builds: [string, string | undefined][] = [["this build", undefined]];
  if (process.env.VXMAN_BASELINE) builds.unshift(["baseline", process.env.VXMAN_BASELINE]);
  for (const storage of ["pglite", "postgres"] as const) {
    const servers = await Promise.all(builds.map(([, binary]) => startVxman(storage, {}, binary)));
    try {
      await Bun.sleep(WARMUP_S * 1000);
      const samples = await Promise.all(servers.map((s) => idleSample(s.pid(), SECONDS)));
      samples.forEach((s, i) => {
        rows.push([`${storage === "pglite" ? "embedded (PGlite)" : "PostgreSQL"}, ${builds[i]![0]}`, `${s.cpuPct.toFixed(3)} %`, `${s.mainPct.toFixed(3)} %`, `${s.wakeups.toFixed(1)} (main ${s.mainWakeups.toFixed(1)}; ${s.busiest || "none"})`, `${s.rssMb.toFixed(0)} MiB`]);
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  return table(`Idle: the binary with 0 machines, ${SECONDS} s measured after ${WARMUP_S} s`, ["storage, build", "CPU, % of one core", "main thread", "wake-ups / s (threads)", "RSS"], rows) + "\ntarget: < 0.1 % of a core; no timer more often than the work needs\n";
}

if (import.meta.main) await runAlone(runIdleBench);
