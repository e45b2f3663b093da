// Sweep benchmark: one round of pings to 10,000 loopback addresses (127.1.0.0 upward), vxman vs
// fping on the same file in the same run, plus the naive approach (a /bin/ping process per
// host, 100 at a time, over 1,000 of them) as a reference. Needs root (raw ICMP) and fping.
//
//   bun bench/sweep.ts            (uses dist/vxman; builds it first if it is missing)
//   VXMAN_BIN=/path/to/vxman bun bench/sweep.ts
//
// Each vxman/fping row is the median (by wall time) of RUNS alternating runs. CPU time is the
// child's user+sys as the kernel accounts it (Bun.spawn's resourceUsage), worker threads
// included.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Row {
  name: string;
  hosts: number;
  wallMs: number;
  cpuMs: number;
  lost: number;
  /** Against the fping row of the same run (per host); undefined when fping is missing. */
  wallVsFping?: number;
  cpuVsFping?: number;
}

const ROOT = join(import.meta.dir, "..");
const HOSTS = 10_000;
const NAIVE_HOSTS = 1_000;
const NAIVE_PARALLEL = 100;
const RUNS = 3;

interface Measured {
  wallMs: number;
  cpuMs: number;
  code: number;
  out: string;
  err: string;
}

async function measure(cmd: string[]): Promise<Measured> {
  const started = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), 120_000); // bounded, whatever happens
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const wallMs = performance.now() - started;
  clearTimeout(timer);
  const usage = proc.resourceUsage();
  const cpuMs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : NaN;
  return { wallMs, cpuMs, code, out, err };
}

function loopbackAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.1.${(i >> 8) & 255}.${i & 255}`);
}

async function vxmanBinary(): Promise<string> {
  const bin = process.env.VXMAN_BIN ?? join(ROOT, "dist/vxman");
  if (!existsSync(bin)) {
    const built = await measure([process.execPath, join(ROOT, "scripts/build.ts")]);
    if (built.code !== 0) throw new Error(`build failed:\n${built.err}`);
  }
  return bin;
}

async function vxmanRun(bin: string, file: string): Promise<Row> {
  const m = await measure([bin, "ping", "-q", "-f", file]);
  const lost = /(\d+) lost/.exec(m.out);
  if (!lost) throw new Error(`vxman ping failed (exit ${m.code}):\n${m.err}${m.out}`);
  return { name: "vxman ping -q -f (1,000 in flight)", hosts: HOSTS, wallMs: m.wallMs, cpuMs: m.cpuMs, lost: Number(lost[1]) };
}

async function fpingRun(file: string): Promise<Row> {
  const m = await measure(["fping", "-c1", "-t1000", "-q", "-i0", "-f", file]);
  // With -c -q fping prints one "ip : xmt/rcv/%loss = 1/1/0%..." line per host on stderr.
  const lines = m.err.split("\n").filter((l) => l.includes("xmt/rcv"));
  if (lines.length !== HOSTS) throw new Error(`fping printed ${lines.length} host lines (exit ${m.code}):\n${m.err.slice(0, 500)}`);
  const lost = lines.filter((l) => !/= 1\/1\//.test(l)).length;
  return { name: "fping -c1 -t1000 -q -i0 -f", hosts: HOSTS, wallMs: m.wallMs, cpuMs: m.cpuMs, lost };
}

/** The naive way: one /bin/ping process per host, NAIVE_PARALLEL at a time. */
async function naiveRun(ips: string[]): Promise<Row> {
  const started = performance.now();
  let cpuMs = 0;
  let lost = 0;
  for (let i = 0; i < ips.length; i += NAIVE_PARALLEL) {
    const batch = await Promise.all(ips.slice(i, i + NAIVE_PARALLEL).map((ip) => measure(["ping", "-c1", "-W1", "-q", ip])));
    for (const m of batch) {
      cpuMs += m.cpuMs;
      if (m.code !== 0) lost++;
    }
  }
  return { name: `/bin/ping -c1 -W1 per host, ${NAIVE_PARALLEL} at a time`, hosts: ips.length, wallMs: performance.now() - started, cpuMs, lost };
}

const median = (rows: Row[]) => [...rows].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(rows.length / 2)]!;

export async function runSweepBench(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "vxman-sweep-"));
  try {
    const ips = loopbackAddresses(HOSTS);
    const file = join(dir, "hosts.txt");
    writeFileSync(file, ips.join("\n") + "\n");
    const bin = await vxmanBinary();
    const haveFping = Bun.which("fping") !== null;
    await vxmanRun(bin, file); // warm the page cache for the 130 MB binary
    const vx: Row[] = [];
    const fp: Row[] = [];
    for (let i = 0; i < RUNS; i++) {
      vx.push(await vxmanRun(bin, file));
      if (haveFping) fp.push(await fpingRun(file));
    }
    const rows = [median(vx)];
    const fping = haveFping ? median(fp) : undefined;
    if (fping) rows.push(fping);
    if (Bun.which("ping")) rows.push(await naiveRun(ips.slice(0, NAIVE_HOSTS)));
    for (const r of rows) {
      if (!fping) continue;
      // Per host, so the 1,000-host reference row compares fairly with the 10,000-host ones.
      r.wallVsFping = r.wallMs / r.hosts / (fping.wallMs / fping.hosts);
      r.cpuVsFping = r.cpuMs / r.hosts / (fping.cpuMs / fping.hosts);
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatRows(rows: Row[]): string {
  const ratio = (x?: number) => (x === undefined ? "n/a" : `${x.toFixed(2)}×`);
  const lines = [
    "| sweep | hosts | wall | CPU (user+sys) | lost replies | wall vs fping (per host) | CPU vs fping (per host) |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${r.hosts.toLocaleString("en")} | ${r.wallMs.toFixed(0)} ms | ${r.cpuMs.toFixed(0)} ms | ${r.lost} | ${ratio(r.wallVsFping)} | ${ratio(r.cpuVsFping)} |`),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  if (process.getuid?.() !== 0) console.error("note: raw ICMP needs root (or CAP_NET_RAW); expect vxman to exit 4 otherwise");
  if (!Bun.which("fping")) console.error("note: fping is missing (apt-get install -y fping): no baseline row");
  console.log(formatRows(await runSweepBench()));
}
