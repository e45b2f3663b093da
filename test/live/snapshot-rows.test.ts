// While dashboards are open the hub makes each changed machine's snapshot row as it changes, so
// the next dashboard to open finds them made; with none open it makes nothing ahead. The real hub
// and directory on one feed, served by Bun, and a real WebSocket client.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { MachineDirectory } from "../../src/api/machines/directory.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ChangeFeed } from "../../src/changes.ts";
import { COALESCE_WINDOW_MS } from "../../src/live/coalescer.ts";
import { LiveHub } from "../../src/live/hub.ts";
import { SnapshotParts } from "../../src/live/protocol.ts";
import { silentLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/wait.ts";
import { LiveClient } from "./live-client.ts";

let feed: ChangeFeed;
let directory: MachineDirectory;
const serveHub = (h: LiveHub) => h.closeBeforeStop(new Elysia().use(h.routes()));
let server: ReturnType<typeof serveHub>;
let url: string;

const machine = (id: number): Machine => ({
  id, hostname: `node-${id}`, ip_address: `127.5.0.${id}`, mac_address: "52:54:00:00:00:05", status: "active", extra_data: {}, labels: [],
  groups: [], notes: "", recent_checks: "", created_at: "2026-01-01T00:00:00.000Z", updated_at: "2026-01-01T00:00:00.000Z",
  last_seen: "2026-01-01T00:00:00.000Z", consecutive_failures: 0, last_rtt_ms: null, last_checked_at: null, next_check_at: null,
});
const checked = (id: number) => ({
  type: "status_update" as const, machine_id: id, status: "unreachable" as const, is_alive: false, checked: true, response_time: null,
  consecutive_failures: 1, last_seen: "2026-01-01T00:00:00.000Z", last_checked_at: new Date().toISOString(), next_check_at: null,
});

beforeAll(async () => {
  feed = new ChangeFeed();
  directory = await MachineDirectory.start(feed, async () => [], { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 });
  const hub = LiveHub.start({
    feed, machines: () => directory.all(), machine: (id) => directory.get(id), config: { wsMaxPerIp: 10, trustProxy: false },
    log: silentLogger, monitoring: () => ({ monitoring: "off", monitoring_reason: "test" }),
  });
  server = serveHub(hub);
  server.listen({ port: 0, hostname: "127.0.0.1" });
  url = `ws://127.0.0.1:${server.server!.port}/ws/status`;
});

afterAll(async () => {
  await server.stop();
});

test("no dashboard open: a change makes no row ahead", async () => {
  feed.publish({ type: "machine_registered", machine: machine(1) });
  feed.publish(checked(1));
  await Bun.sleep(COALESCE_WINDOW_MS * 3);
  expect(directory.get(1)?.status).toBe("unreachable");
  expect(SnapshotParts.rowKept(directory.get(1)!)).toBe(false);
});

test("a dashboard open: each machine's row is made as it changes, and the next dashboard gets it as it is now", async () => {
  const watching = await LiveClient.connect(url);
  try {
    feed.publish({ type: "machine_registered", machine: machine(2) });
    feed.publish(checked(1));
    await waitFor("both changes sent", () => watching.events.length >= 2);
    for (const id of [1, 2]) expect(SnapshotParts.rowKept(directory.get(id)!)).toBe(true);
    const next = await LiveClient.connect(url);
    try {
      expect(next.snapshot!.machines).toEqual([directory.get(1)!, directory.get(2)!]);
    } finally {
      next.close();
    }
  } finally {
    watching.close();
  }
});

test("nobody watching: a check keeps the machine's record part, an edit does not, and the next dashboard gets each as it is now", async () => {
  feed.publish({ type: "machine_registered", machine: machine(3) });
  feed.publish({ type: "machine_registered", machine: machine(4) });
  await waitFor("both registered", () => directory.get(4) !== undefined);
  const first = await LiveClient.connect(url);
  first.close();
  for (const id of [3, 4]) expect(SnapshotParts.recordKept(directory.get(id)!)).toBe(true);

  feed.publish(checked(3));
  feed.publish({ type: "machine_updated", machine: { ...machine(4), hostname: "renamed-4", updated_at: "2026-01-02T00:00:00.000Z" } });
  await waitFor("both changes applied", () => directory.get(3)?.status === "unreachable" && directory.get(4)?.hostname === "renamed-4");
  expect(SnapshotParts.rowKept(directory.get(3)!)).toBe(false);
  expect(SnapshotParts.recordKept(directory.get(3)!)).toBe(true);
  expect(SnapshotParts.recordKept(directory.get(4)!)).toBe(false);

  const next = await LiveClient.connect(url);
  try {
    const byId = new Map(next.snapshot!.machines.map((m) => [m.id, m]));
    expect(byId.get(3)).toEqual(directory.get(3)!);
    expect(byId.get(3)).toMatchObject({ status: "unreachable", hostname: "node-3" });
    expect(byId.get(4)).toEqual(directory.get(4)!);
    expect(byId.get(4)?.hostname).toBe("renamed-4");
  } finally {
    next.close();
  }
});
