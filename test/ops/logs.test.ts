// Logs: one JSON object per line with time, level and msg; one line per state change and per
// refused request; never a token — checked on a real server (PostgreSQL, real ICMP).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { machineBody } from "../helpers/app.ts";
import { createTestHost, type TestHost } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ADMIN = "logs-test-admin-token-0001";
const REGISTRATION = "logs-test-registration-0002";
const WRONG = "logs-test-wrong-token-0003";

describe.skipIf(!needs("root", "netns"))("logs", () => {
  const lines: string[] = [];
  let server: RunningServer;
  let host: TestHost;
  let base: string;

  beforeAll(async () => {
    host = await createTestHost();
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const config = loadConfig({
      DATABASE_URL: await (await sharedPgCluster()).createDatabase(),
      HOST: "127.0.0.1",
      PORT: "0",
      ADMIN_TOKEN: ADMIN,
      REGISTRATION_TOKEN: REGISTRATION,
      PING_INTERVAL: "200ms",
      PING_TIMEOUT: "150ms",
      BACKOFF_MAX: "400ms",
      FAILURE_THRESHOLD: "2",
    });
    server = await startServer(config, createLogger({ level: "info", format: "json", destination: sink }));
    base = server.url.href.replace(/\/$/, "");
  }, 60_000);
  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      await host?.destroy();
    }
  }, 30_000);

  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const withMsg = (msg: string) => entries().filter((e) => e.msg === msg);
  const put = (ip: string, body: object, token: string) =>
    fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  test("a line per state change and per refused request, as JSON with time, level and msg; no token anywhere", async () => {
    const ip = host.unroutedIp; // never answers: it goes unreachable
    const m = await (await put(ip, machineBody(1), REGISTRATION)).json();
    await put(ip, { ...machineBody(1), hostname: "renamed" }, REGISTRATION);
    expect((await put("127.11.0.1", { hostname: "bad name" }, REGISTRATION)).status).toBe(422);
    expect((await put("127.11.0.2", machineBody(2), WRONG)).status).toBe(403);
    await waitFor("unreachable", () => withMsg("machine unreachable").length > 0, 15_000);
    const hb = await fetch(`${base}/api/machines/${ip}/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${REGISTRATION}` } });
    expect(hb.status).toBe(204);
    await waitFor("recovered", () => withMsg("machine recovered").length > 0);
    const del = await fetch(`${base}/api/machines/${m.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(del.status).toBe(204);
    await waitFor("deleted", () => withMsg("machine deleted").length > 0);

    for (const e of entries()) {
      expect(typeof e.time).toBe("string");
      expect(Number.isNaN(Date.parse(e.time as string))).toBe(false);
      expect(["debug", "info", "warn", "error"]).toContain(e.level as string);
      expect(typeof e.msg).toBe("string");
    }
    for (const msg of ["machine registered", "machine updated", "machine unreachable", "machine recovered", "machine deleted"]) {
      const found = withMsg(msg).filter((e) => e.machine_id === m.id);
      expect({ msg, count: found.length }).toEqual({ msg, count: 1 });
    }
    const refused = withMsg("request refused");
    expect(refused.map((e) => [e.status, e.error])).toEqual(expect.arrayContaining([[422, "invalid_request"], [403, "forbidden"]]));
    const all = lines.join("\n");
    for (const token of [ADMIN, REGISTRATION, WRONG]) expect(all).not.toContain(token);
  }, 60_000);
});
