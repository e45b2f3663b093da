// SIGTERM: stop accepting, close dashboards' WebSockets with 1001, write the monitor's pending
// state, close ICMP sockets and the database, exit 0 well within 10 s.
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";
import { encodeTokenProtocol } from "../../src/live/protocol.ts";
import { isolatedBinary, startProcess, waitForHttp } from "../helpers/binary.ts";
import { freePort, sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

test.skipIf(!needs("root"))(
  "SIGTERM closes WebSockets with 1001, flushes monitor state, exits 0",
  async () => {
    const url = await (await sharedPgCluster()).createDatabase();
    const { dir, bin, cleanup } = isolatedBinary();
    cleanups.push(cleanup);
    const port = await freePort();
    // A long flush interval is not configurable, so the proof of the final flush is the state of a
    // check that happened after the last periodic flush: the newest last_checked_at the WS saw.
    const proc = startProcess([bin], {
      cwd: dir,
      env: { PORT: String(port), HOST: "127.0.0.1", LOG_FORMAT: "json", DATABASE_URL: url, ADMIN_TOKEN: "shutdown-test-admin-token", PING_INTERVAL: "100ms" },
    });
    cleanups.push(() => proc.kill("SIGKILL"));
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/health`, 30_000, proc);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/status`, ["vxman", encodeTokenProtocol("shutdown-test-admin-token")]);
    const statusUpdates: { machine_id: number; last_checked_at: string | null }[] = [];
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      const events = msg.type === "batch" ? msg.events : [msg];
      for (const ev of events) if (ev.type === "status_update") statusUpdates.push(ev);
    };
    const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
    await new Promise((resolve) => (ws.onopen = resolve));

    const put = await fetch(`${base}/api/machines/127.9.0.1`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: "bye", mac_address: "52:54:00:09:00:01" }),
    });
    expect(put.status).toBe(201);
    await waitFor("a few checks seen live", () => statusUpdates.length >= 5);

    const t0 = performance.now();
    proc.kill("SIGTERM");
    const close = await closed;
    const code = await proc.exited;
    const took = performance.now() - t0;
    expect(code).toBe(0);
    expect(close.code).toBe(1001);
    expect(took).toBeLessThan(10_000); // the bound, not a speed measurement
    expect(proc.output()).toContain('"msg":"stopped"');

    const lastSeenLive = statusUpdates.at(-1)!.last_checked_at!;
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`SELECT last_checked_at FROM ping_state`;
      expect(row!.last_checked_at.getTime()).toBeGreaterThanOrEqual(Date.parse(lastSeenLive));
    } finally {
      await sql.end();
    }
    // Nothing is left listening.
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  },
  60_000,
);
