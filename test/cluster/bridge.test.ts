// The bridge's wire format: status updates survive the trip, and however many there are, every
// notification stays under NOTIFY's 8000-byte limit.
import { describe, expect, test } from "bun:test";
import { chunk, fromTuple, MAX_PAYLOAD, toTuple } from "../../src/cluster/bridge.ts";
import type { Change } from "../../src/changes.ts";

type StatusUpdate = Extract<Change, { type: "status_update" }>;

const update = (i: number): StatusUpdate => ({
  type: "status_update",
  machine_id: 1_000_000 + i,
  status: i % 3 ? "active" : "unreachable",
  is_alive: i % 3 !== 0,
  response_time: i % 3 ? 0.123 + i / 1000 : null,
  checked: i % 5 !== 0,
  last_seen: new Date(1_764_480_000_000 + i).toISOString(),
  consecutive_failures: i % 7,
  last_checked_at: i % 11 ? new Date(1_764_480_000_000 + 2 * i).toISOString() : null,
  next_check_at: new Date(1_764_480_060_000 + i).toISOString(),
});

describe("change bridge wire format", () => {
  test("a status update comes back as it was sent", () => {
    for (let i = 0; i < 50; i++) expect(fromTuple(toTuple(update(i)))).toEqual(update(i));
  });

  test("5,000 updates and 2,000 sightings: every payload under the limit, nothing lost, order kept", () => {
    const updates = Array.from({ length: 5000 }, (_, i) => toTuple(update(i)));
    const seen = Array.from({ length: 2000 }, (_, i) => [i, 1_764_480_000_000 + i, i % 2 ? "heartbeat" : "registration"] as [number, number, "heartbeat" | "registration"]);
    const payloads = chunk("vxman host-abc123", updates, seen, true);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD);
    const decoded = payloads.map((p) => JSON.parse(p));
    expect(decoded.flatMap((d) => d.u ?? [])).toEqual(updates);
    expect(decoded.flatMap((d) => d.s ?? [])).toEqual(seen);
    expect(decoded.every((d) => d.o === "vxman host-abc123")).toBe(true);
    expect(decoded.filter((d) => d.a === 1)).toHaveLength(1); // "access changed" said once
  });

  test("nothing to say but an access change: one small payload", () => {
    expect(chunk("me", [], [], true).map((p) => JSON.parse(p))).toEqual([{ o: "me", a: 1 }]);
  });
});
