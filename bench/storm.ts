// The registration storm (issue 14): every machine of a network enrolling at once after a power
// cut. wrk sends PUTs for new loopback IPs only (127.x.y.z), 64 connections, on PostgreSQL and on
// PGlite, against the compiled binary: new machines a second and the latency of each. Then the
// same storm against MAX_MACHINES = 5,000 (for 3× as long as the rate just measured needs to
// reach it): exactly 5,000 machines afterwards, counted through the API, every other answer a
// 503. Targets: ≥ 2,000 new machines/s on PostgreSQL, ≥ 500 on PGlite.
// BENCH_BASELINE_BINARY=<another build> runs the same storms on that build too, in the same run
// (each case right after the other), so noise from other work on the machine hits both alike.
import { ADMIN, newMachinesScript, procStats, requireTool, runAlone, startVxman, table, wrk, type Server } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_STORM_CONNECTIONS ?? 64);
const LIMIT = 5000;
const BASELINE = process.env.BENCH_BASELINE_BINARY;

async function machineCount(server: Server): Promise<number> {
  const res = await fetch(`${server.base}/api/machines?limit=1`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (!res.ok) throw new Error(`count: ${res.status} ${await res.text()}`);
  return (await res.json()).total;
}

/** One storm on a fresh server; the machine count read after wrk's last answers are in. */
async function storm(storage: "postgres" | "pglite", maxMachines: number, seconds: number, binary?: string) {
  const server = await startVxman(storage, { MAX_MACHINES: String(maxMachines), PING_INTERVAL: "10s" }, binary);
  try {
    const before = procStats(server.pid());
    const result = await wrk(server.base, newMachinesScript, { connections: CONNECTIONS, seconds, statuses: true });
    const cpuPct = ((procStats(server.pid()).cpuS - before.cpuS) / seconds) * 100;
    await Bun.sleep(1000); // requests wrk gave up on at its deadline may still be answered
    return { ...result, cpuPct, stored: await machineCount(server) };
  } finally {
    await server.stop();
  }
}

export async function runStormBench(): Promise<string> {
  requireTool("wrk", "apt-get install wrk");
  const builds: [string, string | undefined][] = [...(BASELINE ? [["baseline", BASELINE] as [string, string]] : []), ["this build", undefined]];
  const rows: (string | number)[][] = [];
  const failures: string[] = [];
  for (const storage of ["postgres", "pglite"] as const) {
    for (const [build, binary] of builds) {
      const free = await storm(storage, 1_000_000, SECONDS, binary);
      const created = free.statuses?.["201"] ?? 0;
      rows.push([storage, build, "no limit", created / SECONDS, free.p50, free.p99, `${free.cpuPct.toFixed(0)} %`, free.stored, statusText(free.statuses), free.errors]);
      // Every answer a 201, and the answered ones stored (those in flight at wrk's deadline may be too).
      if (created !== free.requests || free.stored < created || free.stored > created + CONNECTIONS) {
        failures.push(`${storage}, ${build}, no limit: ${created} of ${free.requests} answered 201, ${free.stored} stored`);
      }

      const seconds = Math.min(120, Math.max(SECONDS, Math.ceil((3 * LIMIT) / Math.max(created / SECONDS, 1))));
      const full = await storm(storage, LIMIT, seconds, binary);
      const [ok, refused] = [full.statuses?.["201"] ?? 0, full.statuses?.["503"] ?? 0];
      rows.push([storage, build, `MAX_MACHINES ${LIMIT}, ${seconds} s`, "", full.p50, full.p99, `${full.cpuPct.toFixed(0)} %`, full.stored, statusText(full.statuses), full.errors]);
      if (full.stored !== LIMIT || ok + refused !== full.requests || ok > LIMIT || ok < LIMIT - CONNECTIONS) {
        failures.push(`${storage}, ${build}, MAX_MACHINES ${LIMIT}: ${full.stored} stored, answers ${statusText(full.statuses)}`);
      }
    }
  }
  const title = `Registration storm (wrk, ${CONNECTIONS} connections, ${SECONDS} s without a limit, a new loopback IP every request; compiled binary, monitor at 10 s)`;
  const out = table(title, ["storage", "build", "case", "new machines/s", "p50 ms", "p99 ms", "vxman CPU (of one core)", "stored after", "answers", "socket errors"], rows);
  if (failures.length) throw new Error(`${out}\nwrong outcome:\n${failures.join("\n")}`);
  return out + `\ntarget: ≥ 2,000 new machines/s on PostgreSQL, ≥ 500 on PGlite; with MAX_MACHINES exactly ${LIMIT} stored, every other answer 503\n`;
}

const statusText = (statuses: Record<string, number> = {}) =>
  Object.entries(statuses).map(([status, n]) => `${n} × ${status}`).join(", ");

if (import.meta.main) await runAlone(runStormBench);
