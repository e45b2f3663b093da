// WS /ws/status end to end: a real listening vxman app (PGlite), real HTTP requests, and Bun's
// WebSocket client. The ICMP monitor is not part of the app yet, so status updates are published
// through the app's change feed: the very call the monitor makes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Change } from "../../src/changes.ts";
import { COALESCE_WINDOW_MS } from "../../src/live/coalescer.ts";
import { applyEvent, encodeTokenProtocol, SNAPSHOT_COLUMNS, type LiveEvent, type ServerMessage } from "../../src/live/protocol.ts";
import { VERSION } from "../../src/version.ts";
import { ADMIN_TOKEN, admin, loopbackIp, machineBody, testApp, type TestApp } from "../helpers/app.ts";
import { LiveClient, upgradeAnswer } from "./live-client.ts";

interface Served {
  t: TestApp;
  base: string;
  ws: string;
}

/** Without READ_TOKEN, dashboards read without logging in (ANONYMOUS_READ): the socket's own behaviour is what is tested here. */
async function serve(env: Record<string, string> = {}): Promise<Served> {
  const t = await testApp("pglite", env.READ_TOKEN ? env : { ANONYMOUS_READ: "true", ...env });
  t.app.listen({ port: 0, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${t.app.server!.port}`;
  return { t, base, ws: `${base.replace("http", "ws")}/ws/status` };
}

function put(base: string, ip: string, body: unknown) {
  return fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

function statusUpdate(machine_id: number, status: "active" | "unreachable", rtt: number | null): Change {
  const now = new Date().toISOString();
  return {
    type: "status_update",
    machine_id,
    status,
    is_alive: status === "active",
    response_time: rtt,
    checked: true,
    last_seen: now,
    consecutive_failures: status === "active" ? 0 : 3,
    last_checked_at: now,
    next_check_at: now,
  };
}

const seqs = (events: LiveEvent[]) => events.map((e) => e.seq);

describe("WS /ws/status", () => {
  let s: Served;
  const clients: LiveClient[] = [];
  const connect = async (...args: Parameters<typeof LiveClient.connect>) => {
    const c = await LiveClient.connect(...args);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    s = await serve({ MAX_MACHINES: "2000", WS_MAX_PER_IP: "50" });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.t.close();
  });

  test("hello, then a snapshot of every machine", async () => {
    expect((await put(s.base, "127.3.0.1", machineBody(1))).status).toBe(201);
    const c = await connect(s.ws);
    // The in-process app's monitor has no ICMP socket: monitoring is off, with the reason.
    expect(c.frames[0]).toEqual({ type: "hello", version: VERSION, monitoring: "off", monitoring_reason: expect.any(String) });
    expect(c.frames[1]?.type).toBe("snapshot");
    expect(c.snapshot!.machines.map((m) => m.ip_address)).toContain("127.3.0.1");
    expect(c.snapshot!.seq).toBeGreaterThanOrEqual(1);
  });

  test("the snapshot is a table: field names once, then one row of values per machine", async () => {
    const c = await connect(s.ws);
    const wire = c.frames[1] as Extract<ServerMessage, { type: "snapshot" }>;
    expect(wire.columns).toEqual([...SNAPSHOT_COLUMNS]);
    expect(wire.rows.length).toBe(c.snapshot!.machines.length);
    expect(wire.rows.every((row) => row.length === wire.columns.length)).toBe(true);
    // Read back by its column names, each machine is exactly what the REST API says it is.
    const listed = await (await fetch(`${s.base}/api/machines?limit=10000`)).json();
    const byId = new Map(c.snapshot!.machines.map((m) => [m.id, m]));
    expect(listed.items.length).toBeGreaterThan(0);
    for (const m of listed.items) expect(byId.get(m.id)).toEqual(m);
  });

  test("registered, updated, status_update, deleted arrive in order, seq increasing by one", async () => {
    const c = await connect(s.ws);
    const from = c.snapshot!.seq;
    const created = await put(s.base, "127.3.0.2", machineBody(2));
    expect(created.status).toBe(201);
    const { id } = await created.json();
    expect((await put(s.base, "127.3.0.2", { ...machineBody(2), hostname: "renamed" })).status).toBe(200);
    s.t.feed.publish(statusUpdate(id, "unreachable", null));
    const del = await fetch(`${s.base}/api/machines/${id}`, { method: "DELETE", headers: admin });
    expect(del.status).toBe(204);

    await c.waitFor(() => c.events.some((e) => e.type === "machine_deleted"), "machine_deleted");
    const mine = c.events.filter((e) => ("machine" in e ? e.machine.id : e.machine_id) === id);
    // The monitor may add status updates of its own (a re-registration counts as a sign of
    // life); in between or not, the four changes come in the order they happened.
    const types = mine.map((e) => e.type).filter((t, i, all) => t !== "status_update" || all[i - 1] !== "status_update");
    expect(types).toEqual(["machine_registered", "machine_updated", "status_update", "machine_deleted"]);
    expect(mine.find((e) => e.type === "machine_updated")).toMatchObject({ machine: { id, hostname: "renamed" } });
    expect(mine.filter((e) => e.type === "status_update").at(-1)).toMatchObject({
      machine_id: id, status: "unreachable", is_alive: false, response_time: null, consecutive_failures: 3,
    });
    expect(mine.at(-1)).toEqual({ type: "machine_deleted", machine_id: id, seq: expect.any(Number) });
    // Every event after the snapshot, numbered without a gap.
    expect(seqs(c.events)).toEqual(c.events.map((_, i) => from + 1 + i));
  });

  test("a socket opened later starts from the state after the last seq", async () => {
    const created = await put(s.base, "127.3.0.3", machineBody(3));
    const { id } = await created.json();
    s.t.feed.publish(statusUpdate(id, "active", 0.25));
    s.t.feed.publish(statusUpdate(id, "unreachable", null));
    const watcher = await connect(s.ws);
    await Bun.sleep(COALESCE_WINDOW_MS * 3); // let anything still coalescing go out
    const c = await connect(s.ws);
    const m = c.snapshot!.machines.find((x) => x.id === id)!;
    // The newest status, with the RTT of the last check that answered.
    expect(m).toMatchObject({ status: "unreachable", consecutive_failures: 3, last_rtt_ms: 0.25 });
    expect(c.snapshot!.machines.some((x) => x.ip_address === "127.3.0.2")).toBe(false); // deleted above
    expect(c.snapshot!.seq).toBe(watcher.events.at(-1)?.seq ?? watcher.snapshot!.seq);
  });

  test("sockets opening while checks stream in: snapshot + events add up to the server's state, nothing twice", async () => {
    const created = await put(s.base, "127.3.0.9", machineBody(9));
    const { id } = await created.json();
    const first = await connect(s.ws); // a dashboard already open: changes now wait in the window
    const late: LiveClient[] = [];
    // Checks every 5 ms, and a new dashboard every ~40 ms among them (inside the coalescing window).
    for (let i = 0; i < 60; i++) {
      s.t.feed.publish(statusUpdate(id, i % 7 === 0 ? "unreachable" : "active", i % 7 === 0 ? null : 0.1));
      if (i % 8 === 4) late.push(await connect(s.ws));
      else await Bun.sleep(5);
    }
    await Bun.sleep(COALESCE_WINDOW_MS * 3);
    // The list is the server's in-memory directory, which the snapshot is made from too.
    const [served] = (await (await fetch(`${s.base}/api/machines?q=127.3.0.9`)).json()).items;
    expect(served.recent_checks).toHaveLength(30); // the strip is full: any mark applied twice would show
    for (const c of [first, ...late]) {
      expect(seqs(c.events)).toEqual(c.events.map((_, i) => c.snapshot!.seq + 1 + i));
      const machines = new Map(c.snapshot!.machines.map((m) => [m.id, m]));
      for (const e of c.events) applyEvent(machines, e);
      expect(machines.get(id)).toEqual(served);
      c.close();
    }
  });

  test("500 registrations and 500 status changes reach a browser in few frames", async () => {
    const c = await connect(s.ws);
    const ids: number[] = [];
    const started = performance.now();
    for (let batch = 0; batch < 20; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 25 }, (_, i) => put(s.base, loopbackIp(1000 + batch * 25 + i), machineBody(1000 + batch * 25 + i))),
      );
      for (const r of responses) {
        expect(r.status).toBe(201);
        ids.push((await r.json()).id);
      }
    }
    await c.waitFor(() => c.events.filter((e) => e.type === "machine_registered").length >= 500, "500 registrations");
    const elapsed = performance.now() - started;
    // At most one frame per coalescing window (plus the first, sent at once): far fewer than 500.
    expect(c.frames.length - 2).toBeLessThanOrEqual(Math.ceil(elapsed / COALESCE_WINDOW_MS) + 2);
    expect(c.frames.length - 2).toBeLessThan(500);

    // A whole segment changes at once, as one monitor batch does: one frame, a batch of 500.
    const before = c.frames.length;
    for (const id of ids) s.t.feed.publish(statusUpdate(id, "unreachable", null));
    await c.waitFor(() => c.events.filter((e) => e.type === "status_update").length >= 500, "500 status updates");
    await Bun.sleep(COALESCE_WINDOW_MS * 2);
    const frames = c.frames.slice(before);
    expect(frames.length).toBe(1);
    expect(frames[0]).toMatchObject({ type: "batch" });
    const batch = frames[0] as Extract<(typeof frames)[0], { type: "batch" }>;
    expect(batch.events).toHaveLength(500);
    expect(batch.seq).toBe(batch.events.at(-1)!.seq);
    expect(seqs(c.events)).toEqual(c.events.map((_, i) => c.snapshot!.seq + 1 + i));
  }, 60_000);

  test("the internal machine_seen never reaches browsers (what the monitor makes of it may)", async () => {
    await put(s.base, "127.3.0.4", machineBody(4));
    const c = await connect(s.ws);
    expect((await put(s.base, "127.3.0.4", machineBody(4))).status).toBe(200); // nothing changed
    expect((await fetch(`${s.base}/api/machines/127.3.0.4/heartbeat`, { method: "POST" })).status).toBe(204);
    await put(s.base, "127.3.0.5", machineBody(5)); // a change to wait for
    await c.waitFor(() => c.events.some((e) => e.type === "machine_registered"), "the registration");
    await Bun.sleep(COALESCE_WINDOW_MS * 2);
    const types = new Set<string>(c.events.map((e) => e.type));
    expect(types.has("machine_seen")).toBe(false);
    expect([...types].every((t) => t === "machine_registered" || t === "status_update")).toBe(true);
  });
});

describe("WS /ws/status access", () => {
  const READ_TOKEN = "read-token-0123456789abcdef";
  let s: Served;
  beforeAll(async () => {
    s = await serve({ READ_TOKEN, WS_MAX_PER_IP: "2" });
  });
  afterAll(() => s.t.close());

  test("with READ_TOKEN set, no token is refused with 401 and a wrong one with 403", async () => {
    const none = await upgradeAnswer(s.ws);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: "unauthorized" });
    const wrong = await upgradeAnswer(s.ws, { "sec-websocket-protocol": `vxman, ${encodeTokenProtocol("not-the-token-0123456789")}` });
    expect(wrong.status).toBe(403);
    const c = await LiveClient.open(s.ws);
    expect((await c.closed).code).not.toBe(1000);
    expect(c.hello).toBeUndefined();
  });

  test("the read token as a subprotocol opens it; the server answers with plain `vxman`", async () => {
    const c = await LiveClient.connect(s.ws, ["vxman", encodeTokenProtocol(READ_TOKEN)]);
    expect(c.ws.protocol).toBe("vxman");
    expect(c.hello?.type).toBe("hello");
    c.close();
    await c.closed;
  });

  test("the admin token in an Authorization header opens it (non-browser clients)", async () => {
    const c = await LiveClient.connect(s.ws, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(c.snapshot?.seq).toEqual(expect.any(Number));
    c.close();
    await c.closed;
  });

  test("WS_MAX_PER_IP: one socket too many is closed with 1008 and the reason in words", async () => {
    const token = ["vxman", encodeTokenProtocol(READ_TOKEN)];
    const a = await LiveClient.connect(s.ws, token);
    const b = await LiveClient.connect(s.ws, token);
    const extra = await LiveClient.open(s.ws, token);
    const closed = await extra.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain("WS_MAX_PER_IP=2");
    expect(extra.hello).toBeUndefined();
    // A slot freed is a slot available again (polled: the server sees the close a moment later).
    a.close();
    await a.closed;
    let again: LiveClient | undefined;
    for (let i = 0; i < 50 && !again?.snapshot; i++) {
      again = await LiveClient.open(s.ws, token);
      await again.waitFor(() => again!.snapshot !== undefined || again!.closeEvent !== undefined, "snapshot or close", 2000);
      if (!again.snapshot) await Bun.sleep(20);
    }
    expect(again?.snapshot?.seq).toEqual(expect.any(Number));
    for (const c of [b, again!]) c.close();
  });
});
