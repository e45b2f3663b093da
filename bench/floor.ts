// The floor under vxman's two smallest costs, measured beside it: what the runtime costs idle,
// and what vxman's own ICMP core costs at the seed's rate, with nothing else in the process.
// Three tiny programs (bench/floor/) are compiled with vxman's own flags and run as vxman does:
//
//   idle:            Bun.serve alone · Bun.serve + PGlite opened as vxman opens it · vxman (PGlite,
//                    PostgreSQL), all idle side by side over the same window;
//   1,000 at 60 s:   fping · vxman's Pinger alone (no database, HTTP or feed) · vxman on
//                    PostgreSQL, one after the other on the same hosts (raw sockets each see
//                    every reply: side by side, fping would read the others' too).
//
// What vxman costs above the matching floor is what its own code costs; the floor itself is the
// runtime's (timers, the JIT, the allocator), which no code in vxman can remove.
// (bench/floor/put.ts, the re-registration PUT's floor, is run by bench/api.ts beside vxman's.)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILE_FLAGS } from "../scripts/compile-flags.ts";
import { startProcess, type RunningProcess } from "../test/helpers/binary.ts";
import { idleSample, type IdleSample } from "./idle.ts";
import { procStats, loopback, runAlone, startVxman, table } from "./lib.ts";
import { fpingCpuPercent, MACHINES, vxmanRun } from "./thousand.ts";

const ROOT = join(import.meta.dir, "..");
const IDLE_SECONDS = Number(process.env.BENCH_FLOOR_IDLE_SECONDS ?? 60);
const IDLE_WARMUP_S = 30;
const BUSY_SECONDS = Number(process.env.BENCH_FLOOR_SECONDS ?? 60);
const INTERVAL_S = 60;

/** Compile a floor program with vxman's flags (extra entrypoints: its Workers). */
export function compile(dir: string, entry: string, extra: string[] = []): string {
  const out = join(dir, entry.replace(/\W+/g, "-"));
  const r = spawnSync(process.execPath, ["build", ...COMPILE_FLAGS, "--outfile", out, entry, ...extra], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiling ${entry} failed:\n${r.stderr}`);
  return out;
}

/** Start a floor program and wait for its first line (it is then ready). Bounded: 60 s. */
export async function startFloor(bin: string, env: Record<string, string>): Promise<RunningProcess> {
  const proc = startProcess([bin], { env });
  const deadline = Date.now() + 60_000;
  while (!proc.output().includes("\n")) {
    if (Date.now() > deadline) throw new Error(`${bin} did not start: ${proc.output()}`);
    await Bun.sleep(100);
  }
  return proc;
}

export async function stopFloor(proc: RunningProcess): Promise<void> {
  proc.kill();
  await proc.exited;
}

const idleRow = (label: string, s: IdleSample) => [label, `${s.cpuPct.toFixed(3)} %`, `${s.mainPct.toFixed(3)} %`, `${s.wakeups.toFixed(1)}`, `${s.rssMb.toFixed(0)} MiB`];

async function idleRows(dir: string): Promise<(string | number)[][]> {
  const http = compile(dir, "bench/floor/http.ts");
  const pglite = compile(dir, "bench/floor/pglite-http.ts");
  const floors = [await startFloor(http, {}), await startFloor(pglite, { DATA_DIR: join(dir, "pglite-data") })];
  const servers = [await startVxman("pglite"), await startVxman("postgres")];
  try {
    await Bun.sleep(IDLE_WARMUP_S * 1000);
    const pids = [...floors.map((f) => f.pid), ...servers.map((s) => s.pid())];
    const [h, p, vp, vg] = await Promise.all(pids.map((pid) => idleSample(pid, IDLE_SECONDS)));
    return [
      idleRow("floor: Bun.serve alone", h!),
      idleRow("floor: Bun.serve + PGlite, opened as vxman opens it", p!),
      idleRow("vxman, PGlite", vp!),
      idleRow("vxman, PostgreSQL", vg!),
    ];
  } finally {
    await Promise.all([...floors.map(stopFloor), ...servers.map((s) => s.stop())]);
  }
}

/** vxman's Pinger alone checking the hosts every INTERVAL_S: CPU over BUSY_SECONDS after one interval. */
async function pingerAlone(dir: string, hostsFile: string): Promise<{ cpuPct: number; rssMb: number }> {
  const bin = compile(dir, "bench/floor/pinger.ts", ["src/monitor/receiver.worker.ts"]);
  const proc = await startFloor(bin, { HOSTS_FILE: hostsFile, INTERVAL_S: String(INTERVAL_S) });
  try {
    await Bun.sleep((INTERVAL_S + 10) * 1000);
    const before = procStats(proc.pid);
    await Bun.sleep(BUSY_SECONDS * 1000);
    const after = procStats(proc.pid);
    return { cpuPct: ((after.cpuS - before.cpuS) / BUSY_SECONDS) * 100, rssMb: after.rssMb };
  } finally {
    await stopFloor(proc);
  }
}

async function busyRows(dir: string): Promise<(string | number)[][]> {
  const hosts = Array.from({ length: MACHINES }, (_, i) => loopback(i));
  const hostsFile = join(dir, "hosts.txt");
  writeFileSync(hostsFile, hosts.join("\n") + "\n");
  const fping = await fpingCpuPercent(hosts, INTERVAL_S, BUSY_SECONDS);
  const pinger = await pingerAlone(dir, hostsFile);
  const vxman = await vxmanRun("postgres", INTERVAL_S, undefined, BUSY_SECONDS);
  const ratio = (cpu: number) => `${(cpu / fping).toFixed(1)}×`;
  return [
    [`fping -l -p 60000 -i 60`, `${fping.toFixed(2)} %`, "", "1.0×"],
    ["floor: vxman's Pinger alone (Bun, one raw socket, its receiver Worker)", `${pinger.cpuPct.toFixed(2)} %`, `${pinger.rssMb.toFixed(0)} MiB`, ratio(pinger.cpuPct)],
    [`vxman, PostgreSQL (the database server meanwhile: ${vxman.dbCpuPct?.toFixed(2)} %)`, `${vxman.cpuPct.toFixed(2)} %`, `${vxman.rssMb.toFixed(0)} MiB`, ratio(vxman.cpuPct)],
  ];
}

export async function runFloorBench(): Promise<string> {
  if (!Bun.which("fping")) throw new Error("fping is missing: apt-get install fping");
  const dir = mkdtempSync(join(tmpdir(), "vxman-floor-"));
  try {
    const idle = await idleRows(dir);
    const busy = await busyRows(dir);
    return (
      table(`Idle floor: ${IDLE_SECONDS} s after ${IDLE_WARMUP_S} s, all side by side`, ["program", "CPU, % of one core", "main thread", "wake-ups / s", "RSS"], idle) +
      "\n" +
      table(`${MACHINES.toLocaleString()} loopback machines every ${INTERVAL_S} s: ${BUSY_SECONDS} s after one interval, one after the other`, ["program", "CPU, % of one core", "RSS", "÷ fping"], busy)
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await runAlone(runFloorBench);
