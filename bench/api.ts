// Registration throughput and latency (wrk), on PostgreSQL and on PGlite, and the list of
// 10,000 machines — with the monitor watching every registered loopback machine meanwhile.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, startFloor, stopFloor } from "./floor.ts";
import { ADMIN, newMachinesScript, procStats, requireTool, runAlone, seed, startVxman, table, wrk, type WrkResult } from "./lib.ts";

const MACHINES = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

// PUT to a random one of the seeded machines: the steady state of machines re-registering.
const updateScript = (count: number) => `
math.randomseed(12345)
request = function()
  local n = math.random(0, ${count - 1})
  local ip = string.format("127.1.%d.%d", math.floor(n / 250), n % 250 + 1)
  local body = string.format('{"hostname":"node-%d","mac_address":"52:54:00:%02x:%02x:%02x"}', n, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("PUT", "/api/machines/" .. ip, {["Content-Type"] = "application/json"}, body)
end
`;

/** The re-registration PUT against its floor (bench/floor/put.ts) on the same database, right
 *  after vxman's own run: what the runtime and the statement cost, without vxman's code. */
async function putFloor(databaseUrl: string): Promise<{ run: WrkResult; cpuPct: number }> {
  const dir = mkdtempSync(join(tmpdir(), "vxman-put-floor-"));
  try {
    const floor = await startFloor(compile(dir, "bench/floor/put.ts"), { DATABASE_URL: databaseUrl });
    try {
      const port = /listening on (\d+)/.exec(floor.output())![1];
      const before = procStats(floor.pid);
      const run = await wrk(`http://127.0.0.1:${port}`, updateScript(MACHINES), { connections: 32, seconds: SECONDS });
      return { run, cpuPct: ((procStats(floor.pid).cpuS - before.cpuS) / SECONDS) * 100 };
    } finally {
      await stopFloor(floor);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const listScript = `request = function() return wrk.format("GET", "/api/machines?limit=${MACHINES}", {["Authorization"] = "Bearer ${ADMIN}"}) end`;

export async function runApiBench(): Promise<string> {
  requireTool("wrk", "apt-get install wrk");
  const rows: (string | number)[][] = [];
  for (const storage of ["postgres", "pglite"] as const) {
    const server = await startVxman(storage, { MAX_MACHINES: "1000000", PING_INTERVAL: "10s" });
    try {
      await seed(server.base, MACHINES);
      // The list first, while exactly MACHINES are registered: one request alone (the whole
      // response received), then under load.
      const single: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const res = await fetch(`${server.base}/api/machines?limit=${MACHINES}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const body = await res.arrayBuffer();
        single.push(performance.now() - t0);
        if (!body.byteLength) throw new Error("empty list");
      }
      const list = await wrk(`${server.base}`, listScript, { connections: 4, seconds: SECONDS });
      const before = procStats(server.pid());
      const update = await wrk(`${server.base}`, updateScript(MACHINES), { connections: 32, seconds: SECONDS });
      const mid = procStats(server.pid());
      const floor = server.databaseUrl ? await putFloor(server.databaseUrl) : null;
      const create = await wrk(`${server.base}`, newMachinesScript, { connections: 32, seconds: SECONDS });
      rows.push([storage, "PUT update (re-register)", update.rps, update.p50, update.p99, update.errors + update.non2xx, `server CPU ${(((mid.cpuS - before.cpuS) / SECONDS) * 100).toFixed(0)}%`]);
      if (floor) {
        rows.push([storage, "floor: the same PUT on Bun.serve + the same batched statement (bench/floor/put.ts)", floor.run.rps, floor.run.p50, floor.run.p99, floor.run.errors + floor.run.non2xx,
          `floor CPU ${floor.cpuPct.toFixed(0)}%; vxman ÷ floor: ${(update.rps / floor.run.rps).toFixed(2)}× the req/s`]);
      }
      rows.push([storage, "PUT new machine", create.rps, create.p50, create.p99, create.errors + create.non2xx, ""]);
      rows.push([storage, `GET list of ${MACHINES.toLocaleString()} machines (4 connections)`, list.rps, list.p50, list.p99, list.errors + list.non2xx, `alone: median ${[...single].sort((a, b) => a - b)[2]!.toFixed(1)} ms of 5`]);
    } finally {
      await server.stop();
    }
  }
  return table(
    `API under load (wrk, 32 connections, ${SECONDS} s each; ${MACHINES.toLocaleString()} machines watched by the monitor at 10 s; loopback)`,
    ["storage", "request", "req/s", "p50 ms", "p99 ms", "errors", "note"],
    rows,
  );
}

if (import.meta.main) await runAlone(runApiBench);
