// Shared by the benchmarks: start the compiled binary on either storage, seed machines, run
// wrk, read CPU/RSS from /proc, print markdown tables. Loopback only.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serveBinary } from "../test/helpers/binary.ts";
import { sharedPgCluster, stopSharedPgCluster } from "../test/helpers/postgres.ts";

export const ADMIN = "bench-admin-token-0123456789";

export interface Server {
  base: string;
  pid(): number;
  /** Set on PostgreSQL: the database this server uses. */
  databaseUrl?: string;
  stop(): Promise<unknown>;
}

/** The compiled binary from an empty temp dir; storage "postgres" gets a fresh database. */
export async function startVxman(storage: "postgres" | "pglite", env: Record<string, string> = {}, binary?: string): Promise<Server> {
  const databaseUrl = storage === "postgres" ? await (await sharedPgCluster()).createDatabase() : undefined;
  // A generous start: PGlite's first start on a busy 2-core machine has taken over 30 s.
  const served = await serveBinary({
    LOG_LEVEL: "warn",
    ADMIN_TOKEN: ADMIN,
    RATE_LIMIT: "0",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
    // BENCH_SERVER_ENV='{"MONITOR_WRITE_INTERVAL":"1s"}': a setting tried on every bench's server,
    // BENCH_BINARY=path: another build (for an A/B where a bench has no baseline of its own).
    ...(JSON.parse(process.env.BENCH_SERVER_ENV ?? "{}") as Record<string, string>),
  }, { binary: binary ?? process.env.BENCH_BINARY, startTimeoutMs: 120_000 });
  return { base: served.base, pid: served.pid, databaseUrl, stop: served.stop };
}

export function loopback(n: number): string {
  return `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}

export function body(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return JSON.stringify({ hostname: `node-${n}`, mac_address: `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}` });
}

/** Register machines 0..count-1 (loopback addresses), `parallel` requests at a time. */
export async function seed(base: string, count: number, parallel = 50): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const r = await fetch(`${base}/api/machines/${loopback(n)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: body(n) });
      if (r.status !== 201 && r.status !== 200) throw new Error(`seed ${n}: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** wrk: PUT a new IP every request (127.2.0.1 and up, 62,500 a /8 block; seed() uses 127.1.x.y). */
export const newMachinesScript = `
local n = 0
request = function()
  n = n + 1
  local ip = string.format("127.%d.%d.%d", 2 + math.floor(n / 62500), math.floor(n / 250) % 250, n % 250 + 1)
  local body = string.format('{"hostname":"new-%d","mac_address":"52:54:01:%02x:%02x:%02x"}', n, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("PUT", "/api/machines/" .. ip, {["Content-Type"] = "application/json"}, body)
end
`;

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** With `statuses: true`: how many responses had each HTTP status. */
  statuses?: Record<string, number>;
}

/** wrk with a Lua script; the script's done() prints one "JSON {...}" line. `statuses: true`
 *  tallies every response's status (wrk's own summary lumps all non-2xx together). */
export async function wrk(url: string, script: string, opts: { threads?: number; connections?: number; seconds?: number; statuses?: boolean } = {}): Promise<WrkResult> {
  const file = join(process.env.TMPDIR ?? "/tmp", `vxman-wrk-${process.pid}-${Date.now()}.lua`);
  await Bun.write(file, script + (opts.statuses ? WRK_STATUSES : "") + WRK_DONE);
  const proc = Bun.spawn(["wrk", `-t${opts.threads ?? 1}`, `-c${opts.connections ?? 32}`, `-d${opts.seconds ?? 10}s`, "-s", file, url], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  await Bun.file(file).delete();
  const line = out.split("\n").find((l) => l.startsWith("JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${out}\n${await new Response(proc.stderr).text()}`);
  return JSON.parse(line.slice(5));
}

// Each thread counts in its own Lua state; done() adds them up through thread:get.
const WRK_STATUSES = `
threads = {}
setup = function(thread) table.insert(threads, thread) end
statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
`;

const WRK_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  local total, parts = {}, {}
  for _, thread in ipairs(threads or {}) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do table.insert(parts, string.format('"%d":%d', status, n)) end
  io.write(string.format('JSON {"rps":%.1f,"p50":%.3f,"p99":%.3f,"errors":%d,"non2xx":%d,"requests":%d%s}\\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status, summary.requests,
    threads and string.format(',"statuses":{%s}', table.concat(parts, ",")) or ""))
end
`;

/** CPU seconds (user+sys) and RSS of a process, from /proc. */
export function procStats(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuS: ticks / 100, rssMb: rssKb / 1024 };
}

/** CPU seconds of the cluster: its postmaster (from postmaster.pid) with the children it has
 *  reaped (cutime/cstime: backends and autovacuum workers come and go), plus live children. */
export function clusterCpuSeconds(dataDir: string): number {
  const postmaster = readFileSync(`${dataDir}/postmaster.pid`, "utf8").split("\n")[0]!.trim();
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (pid === postmaster) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      else if (f[1] === postmaster) ticks += Number(f[11]) + Number(f[12]); // utime + stime
    } catch {
      // the process went away meanwhile
    }
  }
  return ticks / 100;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function table(title: string, header: string[], rows: (string | number)[][]): string {
  const fmt = (v: string | number) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)) : v);
  return [`### ${title}`, "", `| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(fmt).join(" | ")} |`), ""].join("\n");
}

export function requireTool(cmd: string, install: string): void {
  if (!Bun.which(cmd)) throw new Error(`${cmd} is missing: ${install}`);
}

/** `bun bench/<name>.ts`: one bench alone, its table printed, the shared PostgreSQL stopped after. */
export async function runAlone(bench: () => Promise<string>): Promise<void> {
  try {
    console.log(await bench());
  } finally {
    await stopSharedPgCluster();
  }
}
