// GET /metrics: Prometheus text, every name prefixed vxman_, admin-only unless METRICS_PUBLIC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { admin, machineBody, testApp, type TestApp } from "../helpers/app.ts";
import { requirement, which } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no series ${series} in:\n${text.slice(0, 2000)}`);
  return Number(line.slice(series.length + 1));
}

describe("metrics", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp("pglite");
  });
  afterAll(() => t.close());

  test("needs the admin token by default", async () => {
    expect((await t.request("GET", "/metrics")).status).toBe(401);
    expect((await t.request("GET", "/metrics", { headers: { authorization: "Bearer some-other-token-value" } })).status).toBe(403);
    const res = await t.request("GET", "/metrics", { headers: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
  });

  test("every metric is vxman_-prefixed; machines by status and HTTP requests by route are counted", async () => {
    await t.request("PUT", "/api/machines/127.8.0.1", { json: machineBody(1) });
    await t.request("PUT", "/api/machines/127.8.0.2", { json: machineBody(2) });
    await t.db.query("UPDATE machines SET status = 'unreachable' WHERE ip_address = '127.8.0.2'");
    await t.request("GET", "/api/machines/999999", { headers: admin }); // a 404
    // Requests are counted after their response has gone out, so the last one may land a tick later.
    const text = await waitFor("the 404 to be counted", async () => {
      const body = await (await t.request("GET", "/metrics", { headers: admin })).text();
      return body.includes('route="/api/machines/:machine",code="404"') && body;
    });
    const names = text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]!);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !n.startsWith("vxman_"))).toEqual([]);
    // The monitor's view: both registered machines are active to it (status in the database was
    // changed behind its back, which the metric rightly does not see).
    expect(value(text, 'vxman_machines{status="active"}')).toBe(2);
    expect(value(text, 'vxman_machines{status="unreachable"}')).toBe(0);
    expect(value(text, 'vxman_http_requests_total{method="PUT",route="/api/machines/:machine",code="201"}')).toBe(2);
    expect(value(text, 'vxman_http_requests_total{method="GET",route="/api/machines/:machine",code="404"}')).toBe(1);
    for (const name of ["vxman_pings_sent_total", "vxman_ping_rtt_seconds_count", "vxman_websocket_clients", "vxman_db_errors_total", "vxman_nodejs_eventloop_lag_p99_seconds", "vxman_monitor_pending_writes"]) {
      expect(names).toContain(name);
    }
  });

  // Prometheus's own linter, on what a scrape gets: a name it complains about (a gauge ending in
  // _total, a counter without it, a unit it does not know) is one dashboards and recording rules
  // will trip over.
  test.skipIf(!requirement("promtool", which("promtool") !== null, "apt-get install prometheus (it has promtool)"))(
    "passes promtool check metrics, without a single complaint",
    async () => {
      await t.request("PUT", "/api/machines/127.8.0.3", { json: machineBody(3) });
      const text = await (await t.request("GET", "/metrics", { headers: admin })).text();
      expect(text).toContain("vxman_http_request_duration_seconds_bucket");
      const r = Bun.spawnSync([which("promtool")!, "check", "metrics"], { stdin: new TextEncoder().encode(text), timeout: 30_000 });
      expect({ code: r.exitCode, complaints: (r.stdout.toString() + r.stderr.toString()).trim() }).toEqual({ code: 0, complaints: "" });
    },
  );

  test("METRICS_PUBLIC serves them without a token", async () => {
    const open = await testApp("pglite", { METRICS_PUBLIC: "true" });
    try {
      expect((await open.request("GET", "/metrics")).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
