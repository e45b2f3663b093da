// Segments: a segment's machines are checked together when one of them fails or comes back, so
// a segment that dies at once is seen dying at once (and reported in one message). The pure
// bookkeeping, then a real segment in a network namespace on a running server.
import { afterAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { Segments } from "../../src/monitor/segments.ts";
import { startServer } from "../../src/server.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { createTestSegment, destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const O = { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 };

describe("segment bookkeeping", () => {
  test("machines are grouped as messages group them; a nudge names the others, at most once per interval each way", () => {
    const s = new Segments(O, 10_000);
    s.place(1, { ip_address: "198.19.0.1", extra_data: { vni: 5 }, labels: [] });
    s.place(2, { ip_address: "198.19.9.9", extra_data: { vni: 5 }, labels: [] });
    s.place(3, { ip_address: "198.19.0.3", extra_data: {}, labels: [] });
    expect(s.nudge(1, "down", 0)).toEqual([2]);
    expect(s.nudge(2, "down", 5_000)).toEqual([]); // this segment, this way, within the interval
    expect(s.nudge(2, "up", 5_000)).toEqual([1]);
    expect(s.nudge(2, "down", 10_000)).toEqual([1]);
    s.place(2, { ip_address: "198.19.9.9", extra_data: { vni: 6 }, labels: [] }); // moved to another VNI
    expect(s.nudge(1, "up", 20_000)).toEqual([]);
    s.remove(1);
    expect(s.nudge(1, "down", 30_000)).toEqual([]);
  });
});

describe.skipIf(!needs("root", "netns"))("a segment that dies at once is seen dying at once", () => {
  afterAll(destroyAllTestHosts);

  test("10 machines checked on their own schedules every 4 s: all unreachable within one round of checks", async () => {
    const segment = await createTestSegment(10);
    const config = loadConfig({
      DATABASE_URL: await (await sharedPgCluster()).createDatabase(), HOST: "127.0.0.1", PORT: "0", ADMIN_TOKEN, LOG_LEVEL: "error",
      PING_INTERVAL: "4s", PING_TIMEOUT: "200ms", FAILURE_THRESHOLD: "2", BACKOFF_MAX: "8s",
    });
    const server = await startServer(config, silentLogger);
    try {
      const base = server.url.href.replace(/\/$/, "");
      const headers = { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` };
      const ids: number[] = [];
      for (const [i, ip] of segment.ips.entries()) {
        const res = await fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers, body: JSON.stringify(machineBody(900 + i, { extra_data: { vni: 9000 } })) });
        ids.push((await res.json()).id);
      }
      // Each has been checked once (their next checks now spread over 2–6 s: 0.5–1.5 × the interval).
      await waitFor("every machine checked", async () => (await server.db.query("SELECT 1 FROM ping_state WHERE last_reply_at IS NOT NULL")).length === 10, 20_000, 100);
      await segment.stopAnswering();
      await waitFor("all ten unreachable", async () => (await server.db.query("SELECT 1 FROM machines WHERE status = 'unreachable'")).length === 10, 30_000, 100);
      const [row] = await server.db.query<{ spread: number }>(
        "SELECT extract(epoch FROM max(at) - min(at))::float8 AS spread FROM events WHERE kind = 'unreachable' AND machine_id = ANY($1::int[])",
        [ids],
      );
      // Without the nudge their first failures would be as far apart as their schedules (up to 4 s).
      expect(row!.spread).toBeLessThan(1.5);
    } finally {
      await server.stop();
      await segment.destroy();
    }
  }, 90_000);
});
