// The live hub's pure parts: coalescing, applying events, who may connect, and the asset
// server's header logic.
import { describe, expect, test } from "bun:test";
import type { Machine } from "../../src/api/machines/model.ts";
import { offeredProtocols } from "../../src/live/index.ts";
import { Coalescer } from "../../src/live/coalescer.ts";
import {
  applyEvent, CHECK_COLUMNS, encodeTokenProtocol, SNAPSHOT_COLUMNS, SNAPSHOT_PART_BYTES, SnapshotParts, SnapshotReader, snapshotMachines, type LiveEvent, type Snapshot, type SnapshotRows,
} from "../../src/live/protocol.ts";
import { matchesEtag } from "../../src/web/pages.ts";

const machine = (id: number, extra: Partial<Machine> = {}): Machine => ({
  id,
  hostname: `node-${id}`,
  ip_address: `127.1.0.${id}`,
  mac_address: "52:54:00:00:00:01",
  status: "active",
  extra_data: {},
  labels: [],
  groups: [],
  notes: "",
  recent_checks: "",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  last_seen: "2026-01-01T00:00:00.000Z",
  consecutive_failures: 0,
  last_rtt_ms: 0.5,
  last_checked_at: null,
  next_check_at: null,
  ...extra,
});

describe("Coalescer", () => {
  test("what is pushed in one tick goes out together; what follows during the window, as one more", async () => {
    const sent: number[][] = [];
    const c = new Coalescer<number>((items) => sent.push(items), 30);
    c.push(1);
    c.push(2);
    await Promise.resolve(); // the end of this tick
    expect(sent).toEqual([[1, 2]]);
    c.push(3);
    c.push(4);
    await Promise.resolve();
    expect(sent).toEqual([[1, 2]]); // held: a window is open
    for (let i = 0; i < 100 && sent.length < 2; i++) await Bun.sleep(10);
    expect(sent).toEqual([[1, 2], [3, 4]]);
    c.close();
  });

  test("after a quiet window, the next change is sent at once again", async () => {
    const sent: string[][] = [];
    const c = new Coalescer<string>((items) => sent.push(items), 20);
    c.push("a");
    await Promise.resolve();
    for (let i = 0; i < 100 && sent.length < 1; i++) await Bun.sleep(5);
    await Bun.sleep(60); // the window closes with nothing in it: idle
    c.push("b");
    await Promise.resolve();
    expect(sent).toEqual([["a"], ["b"]]);
    c.close();
  });

  test("close drops what is pending and sends nothing more", async () => {
    const sent: number[][] = [];
    const c = new Coalescer<number>((items) => sent.push(items), 10);
    c.push(1);
    c.close();
    c.push(2);
    await Bun.sleep(40);
    expect(sent).toEqual([]);
  });
});

describe("applyEvent", () => {
  test("registered/updated set, deleted removes, status merges and keeps the last good RTT", () => {
    const map = new Map<number, Machine>();
    applyEvent(map, { type: "machine_registered", machine: machine(1) });
    applyEvent(map, { type: "machine_updated", machine: machine(1, { hostname: "renamed" }) });
    expect(map.get(1)?.hostname).toBe("renamed");
    const status = {
      type: "status_update" as const,
      machine_id: 1,
      status: "unreachable" as const,
      is_alive: false,
      response_time: null,
      checked: true,
      last_seen: "2026-01-01T00:01:00.000Z",
      consecutive_failures: 3,
      last_checked_at: "2026-01-01T00:02:00.000Z",
      next_check_at: "2026-01-01T00:04:00.000Z",
    };
    applyEvent(map, status);
    expect(map.get(1)).toMatchObject({ status: "unreachable", last_rtt_ms: 0.5, consecutive_failures: 3, next_check_at: status.next_check_at });
    applyEvent(map, { ...status, status: "active", is_alive: true, response_time: 0.2, consecutive_failures: 0 });
    expect(map.get(1)).toMatchObject({ status: "active", last_rtt_ms: 0.2 });
    applyEvent(map, { ...status, machine_id: 99 }); // unknown: ignored, not invented
    expect(map.has(99)).toBe(false);
    applyEvent(map, { type: "machine_deleted", machine_id: 1 });
    expect(map.size).toBe(0);
  });
});

describe("the snapshot as a table", () => {
  test("machines go out as rows under their field names and come back equal", () => {
    const machines = [machine(1, { labels: ["rack=a"], extra_data: { vni: 7 }, groups: ["vni 7"] }), machine(2, { last_rtt_ms: null, notes: "spare" })];
    const parts = new SnapshotParts(41, machines);
    const wire = JSON.parse(parts.part(0)!) as Snapshot;
    expect(parts.part(1)).toBeUndefined();
    expect(wire).toMatchObject({ type: "snapshot", seq: 41, total: 2 });
    expect(wire.rows).toHaveLength(2);
    expect(wire.rows[0]).toHaveLength(Object.keys(machines[0]!).length);
    expect(snapshotMachines(wire)).toEqual(machines);
  });

  test("a status update changes only the check columns, so a row's record part stays true across it", () => {
    const byId = new Map([[1, machine(1, { labels: ["rack=a"], extra_data: { vni: 7 }, groups: ["vni 7"], notes: "n" })]]);
    const before = byId.get(1)!;
    applyEvent(byId, {
      type: "status_update", machine_id: 1, status: "unreachable", is_alive: false, checked: true, response_time: 0.7, consecutive_failures: 3,
      last_seen: "2026-03-01T00:00:00.000Z", last_checked_at: "2026-03-02T00:00:00.000Z", next_check_at: "2026-03-02T00:01:00.000Z",
    });
    const after = byId.get(1)!;
    const changed = SNAPSHOT_COLUMNS.filter((c) => !Object.is(before[c], after[c]));
    expect(changed.sort()).toEqual([...CHECK_COLUMNS].sort());
  });

  test("a machine that changed goes out as it is now, the others as before (rows are kept per machine object)", () => {
    const byId = new Map([1, 2, 3].map((id) => [id, machine(id)] as const));
    const rowsOf = () => (JSON.parse(new SnapshotParts(1, [...byId.values()]).part(0)!) as Snapshot).rows;
    const before = rowsOf();
    applyEvent(byId, {
      type: "status_update", machine_id: 2, status: "unreachable", is_alive: false, checked: true, response_time: null, consecutive_failures: 3,
      last_seen: "2026-01-01T00:00:00.000Z", last_checked_at: "2026-01-02T00:00:00.000Z", next_check_at: "2026-01-02T00:01:00.000Z",
    });
    const after = rowsOf();
    expect(after[0]).toEqual(before[0]!);
    expect(after[2]).toEqual(before[2]!);
    expect(snapshotMachines({ columns: (JSON.parse(new SnapshotParts(1, []).part(0)!) as Snapshot).columns, rows: [after[1]!] })[0]).toMatchObject({
      id: 2, status: "unreachable", consecutive_failures: 3, last_checked_at: "2026-01-02T00:00:00.000Z", recent_checks: "0",
    });
  });

  test("the first part states the rows' order when the hub promises one, and the reader passes it on", () => {
    const order = { sort: "status", descending: false };
    const first = JSON.parse(new SnapshotParts(1, [machine(1)], order).part(0)!) as Snapshot;
    expect(first.order).toEqual(order);
    expect(new SnapshotReader(first).order).toEqual(order);
    const unordered = JSON.parse(new SnapshotParts(1, [machine(1)]).part(0)!) as Snapshot;
    expect("order" in unordered).toBe(false);
    expect(new SnapshotReader(unordered).order).toBeUndefined();
  });

  test("no machines: one part, empty, complete at once", () => {
    const parts = new SnapshotParts(0, []);
    const wire = JSON.parse(parts.part(0)!) as Snapshot;
    expect(parts.part(1)).toBeUndefined();
    expect(wire).toMatchObject({ type: "snapshot", seq: 0, total: 0, rows: [] });
    expect(new SnapshotReader(wire).complete).toBe(true);
  });

  test("a big fleet goes in parts of about SNAPSHOT_PART_BYTES; the reader puts them together and holds the events that came between", () => {
    const machines = Array.from({ length: 12_000 }, (_, i) => machine(i + 1, i % 100 === 0 ? { extra_data: { blob: "x".repeat(8000) } } : {}));
    const snapshot = new SnapshotParts(7, machines);
    const texts: string[] = [];
    for (let i = 0; snapshot.part(i) !== undefined; i++) texts.push(snapshot.part(i)!);
    expect(texts.length).toBeGreaterThanOrEqual(3);
    // Kept for other sockets while shared; once released (a newer snapshot exists) none is kept,
    // and a socket still sending it gets the very same parts made again.
    expect(snapshot.keptChars).toBe(texts.reduce((sum, t) => sum + t.length, 0));
    snapshot.release();
    expect(snapshot.keptChars).toBe(0);
    for (let i = 0; i < texts.length; i++) expect(snapshot.part(i)).toBe(texts[i]!);
    expect(snapshot.part(texts.length)).toBeUndefined();
    expect(snapshot.keptChars).toBe(0);
    expect(() => new SnapshotParts(1, machines).part(2)).toThrow(RangeError); // asked for out of order
    const longestRow = 9000;
    for (const text of texts) expect(text.length).toBeLessThan(SNAPSHOT_PART_BYTES + longestRow + 1000);
    const [first, ...rest] = texts.map((t) => JSON.parse(t));
    expect(first).toMatchObject({ type: "snapshot", seq: 7, total: machines.length });
    for (const part of rest) expect(part).toMatchObject({ type: "snapshot_rows", seq: 7 });

    const reader = new SnapshotReader(first as Snapshot);
    const between: LiveEvent = { type: "machine_deleted", machine_id: 1, seq: 8 };
    reader.heldEvents.push(between);
    const last = rest.pop() as SnapshotRows;
    for (const part of rest) expect(reader.add(part)).toBe(true);
    expect(reader.complete).toBe(false);
    expect(reader.add({ ...last, seq: 6 })).toBe(false); // another snapshot's part
    expect(reader.add(last)).toBe(true);
    expect(reader.complete).toBe(true);
    expect(reader.machines).toEqual(machines);
    expect(reader.heldEvents).toEqual([between]);
    expect(reader.add(last)).toBe(false); // more rows than the snapshot has
  });

  test("a reader goes by the column names: reordered columns land in the right fields, one it does not know is left out", () => {
    const wire = { columns: ["hostname", "future_field", "id"], rows: [["node-9", true, 9]] };
    const [read] = snapshotMachines(wire);
    expect(read).toMatchObject({ hostname: "node-9", id: 9 });
    expect("future_field" in read!).toBe(false);
    const columns = [...SNAPSHOT_COLUMNS].reverse();
    const m = machine(4, { labels: ["a=b"], last_rtt_ms: null });
    expect(snapshotMachines({ columns, rows: [columns.map((c) => m[c])] })).toEqual([m]);
  });
});

describe("a token as a WebSocket subprotocol", () => {
  test("travels as bearer.<base64url>, any printable characters included, and decodes back", () => {
    const token = "a/b+c=d:e,f;g\"h";
    const headers = { "sec-websocket-protocol": `vxman, ${encodeTokenProtocol(token)}` };
    const offered = offeredProtocols(headers);
    expect(offered).toEqual(["vxman", expect.stringMatching(/^bearer\.[A-Za-z0-9_-]+$/)]);
    expect(Buffer.from(offered[1]!.slice("bearer.".length), "base64url").toString("utf8")).toBe(token);
  });
});

describe("HTML page headers", () => {
  test("If-None-Match: a list, weak tags and * match", () => {
    expect(matchesEtag('"abc"', '"abc"')).toBe(true);
    expect(matchesEtag('W/"abc"', '"abc"')).toBe(true);
    expect(matchesEtag('"x", "abc"', '"abc"')).toBe(true);
    expect(matchesEtag("*", '"abc"')).toBe(true);
    expect(matchesEtag('"abc-gz"', '"abc"')).toBe(false);
    expect(matchesEtag(undefined, '"abc"')).toBe(false);
  });
});
