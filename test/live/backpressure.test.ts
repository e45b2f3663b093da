// A dashboard that stops reading must not make the server hold its updates without bound, and a
// big snapshot goes out a part at a time, as the socket takes them. The real hub on a real Bun
// server, WebSocket clients that pause reading (Bun's client can), and a healthy client beside
// them that must keep getting everything.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { MachineDirectory } from "../../src/api/machines/directory.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ChangeFeed } from "../../src/changes.ts";
import { BACKPRESSURE_LIMIT } from "../../src/live/clients.ts";
import { COALESCE_WINDOW_MS } from "../../src/live/coalescer.ts";
import { LiveHub } from "../../src/live/hub.ts";
import { applyEvent, SNAPSHOT_PART_BYTES } from "../../src/live/protocol.ts";
import { silentLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/wait.ts";
import { LiveClient } from "./live-client.ts";

const serveHub = (h: LiveHub) => h.closeBeforeStop(new Elysia().use(h.routes()));
let hub: LiveHub;
let server: ReturnType<typeof serveHub>;
let feed: ChangeFeed;
let url: string;

function bigMachine(id: number, round: number): Machine {
  const now = new Date().toISOString();
  return {
    id,
    hostname: `node-${id}`,
    ip_address: `127.4.${id >> 8}.${id & 255}`,
    mac_address: "52:54:00:00:00:01",
    status: "active",
    // About 8 KiB, the largest extra_data a machine may send.
    extra_data: { round, blob: "x".repeat(8000) },
    labels: [],
    groups: [],
    notes: "",
    recent_checks: "",
    created_at: now,
    updated_at: now,
    last_seen: now,
    consecutive_failures: 0,
    last_rtt_ms: null,
    last_checked_at: null,
    next_check_at: null,
  };
}

beforeAll(async () => {
  feed = new ChangeFeed();
  // The machines as the server keeps them: the directory, following the same feed.
  const directory = await MachineDirectory.start(feed, async () => [], { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 });
  hub = LiveHub.start({
    feed,
    machines: () => directory.all(),
    config: { wsMaxPerIp: 10, trustProxy: false },
    log: silentLogger,
    monitoring: () => ({ monitoring: "off", monitoring_reason: "test" }),
  });
  server = serveHub(hub);
  server.listen({ port: 0, hostname: "127.0.0.1" });
  url = `ws://127.0.0.1:${server.server!.port}/ws/status`;
});

afterAll(async () => {
  await server.stop();
});

test("a client that never reads is cut past the limit; memory stays bounded; others get everything", async () => {
  const healthy = await LiveClient.connect(url);
  const stuck = await LiveClient.connect(url);
  // Bun's client can stop reading (the DOM typings do not know it): kernel buffers fill, then the server's.
  const reading = stuck.ws as unknown as { pause(): boolean; resume(): boolean };
  reading.pause();
  expect(hub.clients).toBe(2);

  const perRound = 50; // ~400 KiB per message
  let maxBuffered = 0;
  let sent = 0;
  const deadline = Date.now() + 60_000;
  for (let round = 0; round < 500 && hub.clients === 2 && Date.now() < deadline; round++) {
    for (let i = 0; i < perRound; i++) feed.publish({ type: "machine_updated", machine: bigMachine(i + 1, round) });
    sent += perRound;
    await healthy.waitFor(() => healthy.events.length >= sent, `round ${round}`);
    maxBuffered = Math.max(maxBuffered, hub.sockets.bufferedBytes());
  }

  // Cut: the stuck client is gone from the hub, and learns it when it reads again.
  expect(hub.clients).toBe(1);
  reading.resume();
  const closed = await stuck.closed;
  expect(closed.code).not.toBe(1000);
  expect(stuck.events.length).toBeLessThan(sent);

  // Bounded: never more than the limit, the snapshot and one message in flight.
  const oneMessage = JSON.stringify({ type: "batch", events: Array.from({ length: perRound }, (_, i) => bigMachine(i, 0)) }).length;
  expect(maxBuffered).toBeGreaterThan(0);
  expect(maxBuffered).toBeLessThanOrEqual(BACKPRESSURE_LIMIT + hub.snapshot().part(0)!.length + oneMessage);

  // The healthy one missed nothing, in order.
  expect(healthy.events.map((e) => e.seq)).toEqual(healthy.events.map((_, i) => healthy.snapshot!.seq + 1 + i));
  // And a reconnect starts over from a fresh snapshot that has everything.
  const again = await LiveClient.connect(url);
  expect(again.snapshot!.machines).toHaveLength(perRound);
  expect(again.snapshot!.seq).toBe(healthy.events.at(-1)!.seq);
  for (const c of [healthy, again]) c.close();
}, 90_000);

test("a big snapshot goes a part at a time, each once the socket took the last; changes in between are held, then applied", async () => {
  // 8 KiB each: 5,000 machines are ~40 MB, some 40 parts, far more than the kernel's socket buffers.
  for (let i = 0; i < 5000; i++) feed.publish({ type: "machine_registered", machine: bigMachine(10_000 + i, 0) });
  const snapshot = hub.snapshot();

  const c = await LiveClient.open(url);
  const reading = c.ws as unknown as { pause(): boolean; resume(): boolean };
  reading.pause();
  await waitFor("parts waiting in the server", () => hub.sockets.bufferedBytes() > 0, 30_000);
  // What waits for the socket is one part at most, not the whole snapshot.
  let maxBuffered = 0;
  for (let i = 0; i < 20; i++, await Bun.sleep(10)) maxBuffered = Math.max(maxBuffered, hub.sockets.bufferedBytes());
  expect(maxBuffered).toBeLessThanOrEqual(SNAPSHOT_PART_BYTES + 20_000);
  const now = new Date().toISOString();
  feed.publish({
    type: "status_update", machine_id: 10_000, status: "unreachable", is_alive: false, response_time: null, checked: true,
    last_seen: now, consecutive_failures: 3, last_checked_at: now, next_check_at: now,
  });
  await Bun.sleep(COALESCE_WINDOW_MS * 3); // published: it queues behind the part waiting
  expect(hub.clients).toBe(1);
  // A newer snapshot exists now: the one still being sent keeps no parts (one at a time is made).
  expect(snapshot.keptChars).toBe(0);
  reading.resume();
  await c.waitFor(() => c.snapshot !== undefined, "the whole snapshot", 60_000);

  // The change came between two parts (more parts were still to come when it was published).
  const types = c.frames.map((f) => f.type);
  expect(types.slice(0, 2)).toEqual(["hello", "snapshot"]);
  expect(types.indexOf("status_update")).toBeGreaterThan(1);
  expect(types.indexOf("status_update")).toBeLessThan(types.lastIndexOf("snapshot_rows"));
  expect(c.strayPart).toBe(false);
  expect(c.snapshot!.parts).toBe(types.filter((t) => t.startsWith("snapshot")).length);
  expect(c.snapshot!.seq).toBe(snapshot.seq);
  expect(c.snapshot!.machines.map((m) => m.id)).toEqual(hub.deps.machines().map((m) => m.id));
  // It counts after the snapshot, and applies to it.
  expect(c.events.map((e) => e.seq)).toEqual([snapshot.seq + 1]);
  const machines = new Map(c.snapshot!.machines.map((m) => [m.id, m]));
  for (const e of c.events) applyEvent(machines, e);
  expect(machines.get(10_000)!.status).toBe("unreachable");
  c.close();
}, 90_000);
