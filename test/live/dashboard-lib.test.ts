// The dashboard's pure helpers (public/lib): sorting, searching, time and RTT wording, backoff.
import { describe, expect, test } from "bun:test";
import type { Machine } from "../../src/api/machines/model.ts";
import { formatRtt, relativeTime } from "../../public/lib/format.ts";
import { backoffDelay } from "../../public/lib/live.ts";
import { hostSortKey, ipSortKey, sortMachines, visibleMachines, type ViewOptions } from "../../public/lib/view.ts";

const m = (id: number, hostname: string, ip: string, extra: Partial<Machine> = {}): Machine => ({
  id,
  hostname,
  ip_address: ip,
  mac_address: `52:54:00:00:00:${id.toString(16).padStart(2, "0")}`,
  status: "active",
  extra_data: {},
  labels: [],
  groups: [],
  notes: "",
  recent_checks: "",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  last_seen: `2026-01-01T00:00:${String(id).padStart(2, "0")}.000Z`,
  consecutive_failures: 0,
  last_rtt_ms: id / 10,
  last_checked_at: null,
  next_check_at: null,
  ...extra,
});

const all = new Map(
  [
    m(1, "node-10", "127.1.0.10"),
    m(2, "node-2", "127.1.0.2", { status: "unreachable", last_rtt_ms: null }),
    m(3, "Alpha", "::1"),
    m(4, "node-1", "127.1.0.9"),
  ].map((x) => [x.id, x]),
);
const view = (o: Partial<ViewOptions>): ViewOptions => ({ query: "", status: "all", sort: "hostname", descending: false, ...o });
const names = (ms: Machine[]) => ms.map((x) => x.hostname);

describe("machine list view", () => {
  test("host names sort naturally, case-insensitively", () => {
    expect(names(visibleMachines(all, view({})))).toEqual(["Alpha", "node-1", "node-2", "node-10"]);
    expect(names(visibleMachines(all, view({ descending: true })))).toEqual(["node-10", "node-2", "node-1", "Alpha"]);
    expect(hostSortKey("node-2") < hostSortKey("node-10")).toBe(true);
  });

  test("IP addresses sort by value, IPv4 before IPv6", () => {
    expect(names(visibleMachines(all, view({ sort: "ip_address" })))).toEqual(["node-2", "node-1", "node-10", "Alpha"]);
    expect(ipSortKey("127.1.0.9") < ipSortKey("127.1.0.10")).toBe(true);
    expect(ipSortKey("::1") < ipSortKey("::2")).toBe(true);
    expect(ipSortKey("fe80::1") > ipSortKey("::ffff")).toBe(true);
  });

  test("status sorts unreachable first; unknown RTT sorts last; last seen by time", () => {
    expect(names(visibleMachines(all, view({ sort: "status" })))[0]).toBe("node-2");
    expect(names(visibleMachines(all, view({ sort: "last_rtt_ms" }))).at(-1)).toBe("node-2");
    expect(names(visibleMachines(all, view({ sort: "last_seen", descending: true })))).toEqual(["node-1", "Alpha", "node-2", "node-10"]);
  });

  test("sorting from a previous order gives the same result, with changes and deletions", () => {
    const before = sortMachines(all, "status", false);
    const next = new Map(all);
    next.set(1, { ...all.get(1)!, status: "unreachable" });
    next.delete(3);
    next.set(5, m(5, "new", "127.1.0.5"));
    expect(sortMachines(next, "status", false, before)).toEqual(sortMachines(next, "status", false));
    expect(sortMachines(next, "status", false, before)).toEqual([2, 1, 5, 4]);
  });

  test("search matches hostname, IP or MAC, any case; the status filter narrows", () => {
    expect(names(visibleMachines(all, view({ query: "ALPHA" })))).toEqual(["Alpha"]);
    expect(names(visibleMachines(all, view({ query: "127.1.0.1" })))).toEqual(["node-10"]);
    expect(names(visibleMachines(all, view({ query: "00:00:04" })))).toEqual(["node-1"]);
    expect(names(visibleMachines(all, view({ status: "unreachable" })))).toEqual(["node-2"]);
    expect(names(visibleMachines(all, view({ status: "active", query: "node" })))).toEqual(["node-1", "node-10"]);
  });
});

describe("wording", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  test("relative times", () => {
    expect(relativeTime(null, now)).toBe("never");
    expect(relativeTime("2026-01-01T12:00:02Z", now)).toBe("just now");
    expect(relativeTime("2026-01-01T11:59:18Z", now)).toBe("42 s ago");
    expect(relativeTime("2026-01-01T11:58:00Z", now)).toBe("2 min ago");
    expect(relativeTime("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(relativeTime("2025-12-27T12:00:00Z", now)).toBe("5 d ago");
    expect(relativeTime("2026-01-01T12:01:00Z", now)).toBe("in 1 min");
  });

  test("RTT", () => {
    expect(formatRtt(null)).toBe("—");
    expect(formatRtt(0.042)).toBe("0.04 ms");
    expect(formatRtt(3.14159)).toBe("3.1 ms");
    expect(formatRtt(123.4)).toBe("123 ms");
  });

  test("reconnect backoff doubles from 1 s to at most 30 s, with jitter", () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const base = Math.min(30_000, 1000 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const d = backoffDelay(attempt);
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });
});
