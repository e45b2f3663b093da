// The dashboard's pure helpers (public/lib, public/ui/window.ts): sorting, searching, time and RTT
// wording, backoff, the windowed list's rows and their recycled elements.
import { describe, expect, test } from "bun:test";
import type { Machine } from "../../src/api/machines/model.ts";
import { formatRtt, relativeTime } from "../../public/lib/format.ts";
import { backoffDelay } from "../../public/lib/live.ts";
import { MachineStore } from "../../public/lib/store.ts";
import { FIRST_SORT, hostSortKey, ipSortKey, labelsAndGroups, sortMachines, visibleMachines, type ViewOptions } from "../../public/lib/view.ts";
import { assignSlots, redrawAfterScrolling, SCROLL_HOLD_MAX_MS, SCROLL_QUIET_MS, windowRange } from "../../public/ui/window.ts";

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

  test("a host's sort key: lower case, every digit run padded to 12, longer runs kept whole", () => {
    expect(hostSortKey("DB01.Rack-7")).toBe("db000000000001.rack-000000000007");
    expect(hostSortKey("42")).toBe("000000000042");
    expect(hostSortKey("x1234567890123456y")).toBe("x1234567890123456y");
    expect(hostSortKey("")).toBe("");
    expect(["rack-10-node-2", "rack-9-node-10", "rack-10-node-1"].sort((a, b) => (hostSortKey(a) < hostSortKey(b) ? -1 : 1))).toEqual(["rack-9-node-10", "rack-10-node-1", "rack-10-node-2"]);
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

  test("ties go by name, then id, ascending whichever way the chosen key goes", () => {
    const tied = new Map(
      [m(1, "b", "127.1.0.1"), m(2, "a", "127.1.0.2"), m(3, "c", "127.1.0.3", { status: "unreachable", last_rtt_ms: null }), m(4, "a", "127.1.0.4", { last_rtt_ms: null })]
        .map((x) => [x.id, x]),
    );
    expect(sortMachines(tied, "status", true)).toEqual([2, 4, 1, 3]);
    expect(sortMachines(tied, "status", false)).toEqual([3, 2, 4, 1]);
    expect(sortMachines(tied, "last_rtt_ms", false)).toEqual([1, 2, 4, 3]); // two unknown: by name
    expect(sortMachines(tied, "hostname", true)).toEqual([3, 1, 2, 4]);
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

  test("groups are the ones the server gave each machine (its subnet sizes, not the default /24)", () => {
    const grouped = new Map(all);
    grouped.set(1, { ...all.get(1)!, groups: ["subnet 127.1.0.0/16"] });
    grouped.set(4, { ...all.get(4)!, groups: ["subnet 127.1.0.0/16", "vni 7"] });
    expect(names(visibleMachines(grouped, view({ group: "subnet 127.1.0.0/16" })))).toEqual(["node-1", "node-10"]);
    expect(names(visibleMachines(grouped, view({ group: "subnet 127.1.0.0/24" })))).toEqual([]);
    expect(labelsAndGroups(grouped).groups).toEqual([["subnet 127.1.0.0/16", 2], ["vni 7", 1]]);
  });

  test("a machine replaced by a change is sorted and searched by its new values", () => {
    const changed = new Map(all);
    sortMachines(changed, "last_seen", false); // keys made for the old objects
    visibleMachines(changed, view({ query: "node" }));
    changed.set(3, { ...all.get(3)!, hostname: "node-0", last_seen: "2026-01-01T00:00:00.000Z" });
    expect(names(visibleMachines(changed, view({ query: "node-0" })))).toEqual(["node-0"]);
    expect(sortMachines(changed, "last_seen", false)[0]).toBe(3);
    expect(sortMachines(changed, "hostname", false)[0]).toBe(3);
  });
});

describe("the snapshot's order in the store", () => {
  // The list takes the store's machines as they are while store.order is its sort
  // (public/ui/machines.ts), so the order must be dropped by every change that can move one.
  const inOrder = () => sortMachines(all, FIRST_SORT.sort, FIRST_SORT.descending).map((id) => all.get(id)!);
  const loaded = () => {
    const store = new MachineStore();
    store.replaceAll(inOrder(), FIRST_SORT);
    return store;
  };
  const check = (id: number, status: Machine["status"]) => ({
    type: "status_update" as const, seq: 1, machine_id: id, status, is_alive: status === "active", checked: true, response_time: null,
    consecutive_failures: 0, last_seen: "2026-01-02T00:00:00.000Z", last_checked_at: null, next_check_at: null,
  });

  test("a snapshot that promises its order is kept in it, through checks that change no status", () => {
    const store = loaded();
    expect(store.order).toEqual(FIRST_SORT);
    expect([...store.machines.keys()]).toEqual(inOrder().map((x) => x.id));
    store.apply([check(1, "active"), check(2, "unreachable")]);
    expect(store.order).toEqual(FIRST_SORT);
    expect([...store.machines.keys()]).toEqual(inOrder().map((x) => x.id));
  });

  test("a new status, a registration, a rename, a deletion, a put or a remove drops it; a REST list has none", () => {
    const changes: ((s: MachineStore) => void)[] = [
      (s) => s.apply([check(1, "unreachable")]),
      (s) => s.apply([{ type: "machine_registered", seq: 1, machine: m(9, "aaa", "127.1.0.99") }]),
      (s) => s.apply([{ type: "machine_updated", seq: 1, machine: { ...all.get(1)!, hostname: "aaa" } }]),
      (s) => s.apply([{ type: "machine_deleted", seq: 1, machine_id: 1 }]),
      (s) => s.put({ ...all.get(1)!, hostname: "aaa" }),
      (s) => s.remove(1),
      (s) => s.replaceAll(inOrder()),
    ];
    for (const change of changes) {
      const store = loaded();
      change(store);
      expect(store.order).toBeNull();
    }
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

describe("windowed list", () => {
  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const slotsOf = (m: Map<number, number>) => [...m.values()];

  test("a jump hands every element over in place: same slots, same order, none new", () => {
    const before = assignSlots(new Map(), ids(0, 20));
    expect(slotsOf(before)).toEqual(ids(0, 20));
    const after = assignSlots(before, ids(5000, 5020));
    expect(slotsOf(after)).toEqual(slotsOf(before));
  });

  test("a short scroll keeps the machines still in view where they are and recycles the rest", () => {
    const before = assignSlots(new Map(), ids(0, 20));
    const after = assignSlots(before, ids(3, 23));
    for (const id of ids(3, 20)) expect(after.get(id)).toBe(before.get(id)!);
    expect([20, 21, 22].map((id) => after.get(id))).toEqual([0, 1, 2]);
    expect(new Set(after.values()).size).toBe(20);
  });

  test("the element holding the focus never shows another machine; a taller window gets new slots", () => {
    const before = assignSlots(new Map(), ids(0, 4));
    const after = assignSlots(before, ids(100, 106), 2);
    expect(slotsOf(after)).toEqual([0, 1, 3, 4, 5, 6]);
    expect(new Set(after.values()).size).toBe(6);
  });

  test("the rows in view plus a margin; after a jump only those in view, the margin later", () => {
    const all = { start: 0, end: 100_000 };
    // 44 px rows, a 800 px viewport, the list's top 1,000 px above the viewport's.
    expect(windowRange(-1000, 800, 44, 100_000, 6, all)).toEqual({ start: 16, end: 47, margin: true });
    expect(windowRange(-1000, 800, 44, 100_000, 6, { start: 10, end: 40 })).toEqual({ start: 16, end: 47, margin: true });
    expect(windowRange(-1_000_000, 800, 44, 100_000, 6, { start: 10, end: 40 })).toEqual({ start: 22727, end: 22746, margin: false });
    // Near the end and at the top: clamped to the list.
    expect(windowRange(-44 * 100_000 + 400, 800, 44, 100_000, 6, all)).toEqual({ start: 99984, end: 100_000, margin: true });
    expect(windowRange(300, 800, 44, 3, 6, all)).toEqual({ start: 0, end: 3, margin: true });
  });

  describe("live redraws held while the page scrolls", () => {
    // The clock the helper reads is this test's; its timers are real, so each wait below is a
    // bounded poll for a timer that is due by the test's clock.
    let now = 0;
    const scroll = () => dispatchEvent(new Event("scroll"));
    const held = () => {
      let redraws = 0;
      const r = redrawAfterScrolling(() => redraws++, () => now);
      return { ...r, redraws: () => redraws };
    };
    /** `body` with a held redraw, stopped afterwards whatever happens. */
    const withHeld = async (body: (r: ReturnType<typeof held>) => unknown) => {
      const r = held();
      try {
        await body(r);
      } finally {
        r.stop();
      }
    };
    const settle = async (ms = 2 * SCROLL_QUIET_MS) => Bun.sleep(ms);
    const waitFor = async (what: () => boolean) => {
      for (let i = 0; i < 100 && !what(); i++) await Bun.sleep(20);
      return what();
    };

    test("with no scrolling, a change redraws at once", () => withHeld(async (r) => {
      r.changed();
      r.changed();
      expect(r.redraws()).toBe(2);
    }));

    test("while scrolling, changes wait for a pause, then redraw once", () => withHeld(async (r) => {
      scroll();
      r.changed();
      r.changed();
      await settle(); // real time passes, the test's clock does not: still scrolling
      expect(r.redraws()).toBe(0);
      now += SCROLL_QUIET_MS;
      expect(await waitFor(() => r.redraws() === 1)).toBe(true);
      await settle();
      expect(r.redraws()).toBe(1);
      r.changed(); // no scroll since: at once again
      expect(r.redraws()).toBe(2);
    }));

    test("scrolling without a pause holds a redraw no longer than the limit", () => withHeld(async (r) => {
      scroll();
      r.changed();
      for (let t = 0; t < SCROLL_HOLD_MAX_MS - SCROLL_QUIET_MS; t += SCROLL_QUIET_MS / 2) {
        now += SCROLL_QUIET_MS / 2;
        scroll();
      }
      await settle();
      expect(r.redraws()).toBe(0);
      now += SCROLL_QUIET_MS; // the limit reached, and the page still scrolling
      scroll();
      expect(await waitFor(() => r.redraws() === 1)).toBe(true);
    }));

    test("stop() drops a held redraw and stops listening", async () => {
      const r = held();
      scroll();
      r.changed();
      r.stop();
      now += SCROLL_HOLD_MAX_MS;
      await settle();
      expect(r.redraws()).toBe(0);
    });
  });
});
