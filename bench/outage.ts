// A segment outage: 1,000 machines of one VNI (one network-namespace test host answering for
// all of them) stop answering at once. Measured on the compiled binary (PostgreSQL, the default
// GROUP_WAIT of 30 s and MAX_PARALLEL_PINGS of 100): how many messages reach a real webhook
// receiver on loopback (expected: 1), the time from the last machine's transition to the
// message, and vxman's CPU and memory through the burst. Needs root (raw ICMP, namespaces).
import postgres from "postgres";
import { createTestSegment } from "../test/helpers/netns.ts";
import { startHttpReceiver } from "../test/helpers/receivers.ts";
import { ADMIN, procStats, runAlone, startVxman, table } from "./lib.ts";

const MACHINES = Number(process.env.BENCH_OUTAGE_MACHINES ?? 1000);
const GROUP_WAIT_MS = 30_000; // the default
const SECRET = "whsec_c2VjcmV0LWZvci10aGUtb3V0YWdlLWJlbmNo";

export async function runOutageBench(): Promise<string> {
  const receiver = await startHttpReceiver({ secret: SECRET });
  const segment = await createTestSegment(MACHINES);
  const server = await startVxman("postgres", {
    MAX_MACHINES: "100000", PING_INTERVAL: "10s", PING_TIMEOUT: "1s", BACKOFF_MAX: "20s", FAILURE_THRESHOLD: "2", LOG_LEVEL: "warn",
  });
  const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
  try {
    const headers = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
    const made = await fetch(`${server.base}/api/channels`, {
      method: "POST", headers,
      body: JSON.stringify({ name: "bench", kind: "webhook", settings: { url: `${receiver.url}/hook`, secret: SECRET }, events: ["unreachable", "recovered"] }),
    });
    if (made.status !== 201) throw new Error(`channel: ${made.status} ${await made.text()}`);
    await Promise.all(segment.ips.map((ip, i) =>
      fetch(`${server.base}/api/machines/${ip}`, { method: "PUT", headers, body: JSON.stringify({ hostname: `seg-${i}`, mac_address: `52:54:00:5e:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`, extra_data: { vni: 7000 } }) }),
    ));
    await until(async () => Number((await sql`SELECT count(*)::int AS n FROM ping_state WHERE last_reply_at IS NOT NULL`)[0]!.n) === MACHINES, 60_000, "every machine answered once");

    const before = procStats(server.pid());
    const t0 = performance.now();
    let peakRss = before.rssMb;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, procStats(server.pid()).rssMb)), 200);
    await segment.stopAnswering();
    await until(async () => Number((await sql`SELECT count(*)::int AS n FROM machines WHERE status = 'unreachable'`)[0]!.n) === MACHINES, 120_000, "every machine unreachable");
    await until(async () => receiver.requests.length > 0, 120_000, "the message");
    const received = Date.now();
    const wall = (performance.now() - t0) / 1000;
    const after = procStats(server.pid());
    await Bun.sleep(5000); // a second message, if there were one, would be due by now
    clearInterval(sampler);
    const [row] = await sql<{ first: Date; last: Date; n: number }[]>`SELECT min(at) AS first, max(at) AS last, count(*)::int AS n FROM events WHERE kind = 'unreachable'`;
    const { first, last, n } = row!;
    const messages = receiver.requests.map((r) => JSON.parse(r.body) as { kind: string; total: number });
    const rows: (string | number)[][] = [
      ["machines down together", MACHINES, `${n} unreachable events, ${((last!.getTime() - first!.getTime()) / 1000).toFixed(1)} s from first to last`],
      ["messages sent", messages.length, messages.map((m) => `${m.kind} × ${m.total}`).join(", ")],
      ["first transition → message received", Number(((received - first!.getTime()) / 1000).toFixed(2)), `seconds (GROUP_WAIT ${GROUP_WAIT_MS / 1000} s)`],
      ["last transition → message received", Number(((received - last!.getTime()) / 1000).toFixed(2)), "seconds"],
      ["vxman CPU, stop → message", Number((((after.cpuS - before.cpuS) / wall) * 100).toFixed(1)), `% of one core over ${wall.toFixed(1)} s`],
      ["vxman RSS", Number(peakRss.toFixed(0)), `MiB peak (${before.rssMb.toFixed(0)} before)`],
    ];
    return table(`Segment outage: ${MACHINES} machines of one VNI down at once (compiled binary, PostgreSQL, webhook on loopback)`, ["what", "value", "note"], rows);
  } finally {
    await sql.end();
    await server.stop();
    await segment.destroy();
    await receiver.stop();
  }
}

async function until(check: () => Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

if (import.meta.main) await runAlone(runOutageBench);
