// Idle: the compiled binary with no machines, on PGlite (the embedded default) and on PostgreSQL.
// Reports its CPU (% of one core, all threads, and the main thread alone) and its wake-ups a
// second: the times each thread was put on a CPU, the proxy for timers that fire with nothing to
// do. Both come from /proc/PID/task/TID/schedstat, in nanoseconds: /proc's utime and stime count
// whole 10 ms ticks, and an idle minute is a handful of them (0.1 % of a core for 60 s = 6 ticks),
// so a tick more or less moved the figure by a sixth. Threads come and go (JSC's JIT workers
// retire when idle), and an ended thread's schedstat goes with it: the threads are read every
// POLL_MS through the window, and each counts with the last figures read. Set VXMAN_BASELINE
// =path to measure another build (e.g. the previous commit's) beside this one.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { runAlone, startVxman, table } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
// Two minutes: a server's first minute or so still compiles and tiers up code (JIT threads), and
// its first background passes run; idle is what it costs after that, for days.
const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_SECONDS ?? 120);

const POLL_MS = 100;

interface ThreadSample { name: string; cpuNs: number; slices: number }

/** Per thread: name, nanoseconds on a CPU and times put on one, so far. */
function threads(pid: number): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [cpuNs, , slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(" ").map(Number);
      out.set(tid, { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim(), cpuNs: cpuNs!, slices: slices! });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export interface IdleSample { cpuPct: number; mainPct: number; wakeups: number; mainWakeups: number; rssMb: number; busiest: string }

/** Measure a running process for `seconds`. */
export async function idleSample(pid: number, seconds: number): Promise<IdleSample> {
  if (!existsSync(`/proc/${pid}/schedstat`)) throw new Error("/proc/PID/schedstat is missing: this kernel was built without CONFIG_SCHED_INFO");
  const before = threads(pid);
  const last = new Map(before);
  const end = Date.now() + seconds * 1000;
  for (let polls = 0; Date.now() < end && polls < (seconds * 1000) / POLL_MS + 1; polls++) {
    await Bun.sleep(Math.min(POLL_MS, Math.max(0, end - Date.now())));
    for (const [tid, t] of threads(pid)) last.set(tid, t);
  }
  const live = threads(pid);
  const perThread = [...last].map(([tid, a]) => {
    const b = before.get(tid) ?? { cpuNs: 0, slices: 0 }; // born in the window: all of it
    return { tid, name: a.name, cpuNs: a.cpuNs - b.cpuNs, slices: a.slices - b.slices, ended: !live.has(tid) };
  });
  const sum = (f: (t: (typeof perThread)[number]) => number) => perThread.reduce((n, t) => n + f(t), 0);
  const ended = perThread.filter((t) => t.ended);
  const main = perThread.find((t) => t.tid === String(pid)) ?? { cpuNs: 0, slices: 0 };
  const busiest = [...perThread].sort((x, y) => y.slices - x.slices).slice(0, 3).filter((t) => t.slices > 0)
    .map((t) => `${t.name} ${(t.slices / seconds).toFixed(1)}/s`).join(", ") +
    (ended.length ? `; ${ended.length} thread(s) ended, ${(sum((t) => (t.ended ? t.cpuNs : 0)) / 1e6).toFixed(1)} ms of theirs counted` : "");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  const pct = (ns: number) => (ns / 1e9 / seconds) * 100;
  return { cpuPct: pct(sum((t) => t.cpuNs)), mainPct: pct(main.cpuNs), wakeups: sum((t) => t.slices) / seconds, mainWakeups: main.slices / seconds, rssMb: rssKb / 1024, busiest };
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
