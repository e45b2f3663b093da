// npm run bench: every benchmark in one run, each against its peer on the same input, printed as
// markdown tables. Run one alone with `bun bench/<name>.ts`, or a subset with
// `npm run bench -- sweep steady`. Needs root (raw ICMP), wrk and fping (apt-get install wrk fping),
// and chromium for the dashboard bench. Loopback only.
import { stopSharedPgCluster } from "../test/helpers/postgres.ts";

const BENCHES: Record<string, () => Promise<string>> = {
  "seed-scale": async () => (await import("./seed-scale.ts")).runSeedScaleBench(),
  idle: async () => (await import("./idle.ts")).runIdleBench(),
  floor: async () => (await import("./floor.ts")).runFloorBench(),
  startup: async () => (await import("./startup.ts")).runStartupBench(),
  sweep: async () => {
    const { runSweepBench, formatRows } = await import("./sweep.ts");
    return formatRows(await runSweepBench());
  },
  steady: async () => (await import("./steady.ts")).runSteadyBench(),
  thousand: async () => (await import("./thousand.ts")).runThousandBench(),
  api: async () => (await import("./api.ts")).runApiBench(),
  "ws-fanout": async () => (await import("./ws-fanout.ts")).runWsFanoutBench(),
  dashboard: async () => (await import("./dashboard.ts")).runDashboardBench(),
  "first-render": async () => (await import("./first-render.ts")).runFirstRenderBench(),
  people: async () => (await import("./people.ts")).runPeopleBench(),
  outage: async () => (await import("./outage.ts")).runOutageBench(),
  cluster: async () => (await import("./cluster.ts")).runClusterBench(),
  jobs: async () => (await import("./jobs.ts")).runJobsBench(),
  storm: async () => (await import("./storm.ts")).runStormBench(),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(", ")}; choose from ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}

console.log(`# vxman benchmarks — ${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, load ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}\n`);
let failed = 0;
try {
  for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
    const t0 = performance.now();
    try {
      console.log(await BENCHES[name]!());
      console.log(`_(${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)_\n`);
    } catch (err) {
      failed++;
      console.log(`### ${name}: FAILED\n\n\`\`\`\n${(err as Error).stack ?? err}\n\`\`\`\n`);
    }
  }
} finally {
  await stopSharedPgCluster();
}
process.exit(failed ? 1 : 0);
