// Binary size, cold start to the first 200 from /health (median of 5), and idle RSS, on each
// storage mode. PGlite is measured on a first start (empty DATA_DIR) and on a restart.
import { statSync } from "node:fs";

import { buildBinary, isolatedBinary, startProcess } from "../test/helpers/binary.ts";
import { freePort, sharedPgCluster } from "../test/helpers/postgres.ts";
import { ADMIN, median, procStats, runAlone, table } from "./lib.ts";

const RUNS = 5;

async function timeToFirst200(bin: string, cwd: string, env: Record<string, string>): Promise<{ ms: number; idleRssMb: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = startProcess([bin], { cwd, env: { PORT: String(port), HOST: "127.0.0.1", LOG_FORMAT: "json", ADMIN_TOKEN: ADMIN, ...env } });
  let ms = NaN;
  for (let i = 0; i < 3000 && Number.isNaN(ms); i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) ms = performance.now() - t0;
    } catch {
      await Bun.sleep(5);
    }
  }
  await Bun.sleep(5000); // idle: no machines, nothing to do
  const { rssMb } = procStats(proc.pid);
  proc.kill("SIGTERM");
  await proc.exited;
  if (Number.isNaN(ms)) throw new Error(`no 200 from /health:\n${proc.output()}`);
  return { ms, idleRssMb: rssMb };
}

export async function runStartupBench(): Promise<string> {
  const size = statSync(buildBinary()).size;
  const rows: (string | number)[][] = [];
  const measure = async (label: string, env: () => Promise<Record<string, string>>, freshDir: boolean) => {
    const results = [];
    const keep = isolatedBinary();
    for (let i = 0; i < RUNS; i++) {
      const box = freshDir ? isolatedBinary() : keep;
      results.push(await timeToFirst200(box.bin, box.dir, await env()));
      if (freshDir) box.cleanup();
    }
    keep.cleanup();
    rows.push([label, median(results.map((r) => r.ms)), Math.min(...results.map((r) => r.ms)), Math.max(...results.map((r) => r.ms)), median(results.map((r) => r.idleRssMb))]);
  };
  const pg = await sharedPgCluster();
  await measure("PostgreSQL (DATABASE_URL)", async () => ({ DATABASE_URL: await pg.createDatabase() }), false);
  await measure("PGlite, first start (empty DATA_DIR)", async () => ({}), true);
  // Same folder each run: the first run makes it, the next four are restarts (the median is a restart).
  await measure("PGlite, restart (existing DATA_DIR)", async () => ({}), false);
  return [
    `Binary: dist/vxman, ${(size / 1024 / 1024).toFixed(1)} MiB`,
    "",
    table(`Cold start to the first 200 from /health (${RUNS} runs each) and idle RSS`, ["storage", "median ms", "min ms", "max ms", "idle RSS MiB"], rows),
  ].join("\n");
}

if (import.meta.main) await runAlone(runStartupBench);
