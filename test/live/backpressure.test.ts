// A dashboard that stops reading must not make the server hold its updates without bound. The
// real hub on a real Bun server, a WebSocket client that pauses reading (Bun's client can), and
// a healthy client beside it that must keep getting everything.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { MachineDirectory } from "../../src/api/machines/directory.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ChangeFeed } from "../../src/changes.ts";
import { BACKPRESSURE_LIMIT } from "../../src/live/clients.ts";
import { LiveHub } from "../../src/live/hub.ts";
import { silentLogger } from "../../src/log.ts";
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
  expect(maxBuffered).toBeLessThanOrEqual(BACKPRESSURE_LIMIT + hub.snapshot().length + oneMessage);

  // The healthy one missed nothing, in order.
  expect(healthy.events.map((e) => e.seq)).toEqual(healthy.events.map((_, i) => healthy.snapshot!.seq + 1 + i));
  // And a reconnect starts over from a fresh snapshot that has everything.
  const again = await LiveClient.connect(url);
  expect(again.snapshot!.machines).toHaveLength(perRound);
  expect(again.snapshot!.seq).toBe(healthy.events.at(-1)!.seq);
  for (const c of [healthy, again]) c.close();
}, 90_000);
