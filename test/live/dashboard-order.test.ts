// The snapshot's order: the directory hands the live hub every machine in the order a dashboard
// opens with (unreachable first, then by name), so the page's first sort finds its input sorted.
import { expect, test } from "bun:test";
import { MachineDirectory } from "../../src/api/machines/directory.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ChangeFeed } from "../../src/changes.ts";
import { FIRST_SORT, sortMachines } from "../../public/lib/view.ts";
import { DashboardOrder } from "../../src/live/dashboard-order.ts";

const GROUPS = { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 };

function machine(id: number, hostname: string, status: Machine["status"] = "active"): Machine {
  const now = new Date().toISOString();
  return {
    id, hostname, ip_address: `127.5.0.${id}`, mac_address: "52:54:00:00:00:01", status,
    extra_data: {}, labels: [], groups: [], notes: "", recent_checks: "",
    created_at: now, updated_at: now, last_seen: now,
    consecutive_failures: 0, last_rtt_ms: null, last_checked_at: null, next_check_at: null,
  };
}

const names = (ms: Machine[]) => ms.map((m) => m.hostname);

test("machines come unreachable first, then by name (node-2 before node-10), and follow changes", async () => {
  const feed = new ChangeFeed();
  // Stored in an order unrelated to their names, as a fleet registered over time is.
  const stored = [machine(1, "node-10"), machine(2, "beta"), machine(3, "node-2", "unreachable"), machine(4, "Alpha"), machine(5, "node-1")];
  const directory = await MachineDirectory.start(feed, async () => stored, GROUPS);
  expect(names(directory.all())).toEqual(["node-10", "beta", "node-2", "Alpha", "node-1"]);
  expect(names(directory.inDashboardOrder())).toEqual(["node-2", "Alpha", "beta", "node-1", "node-10"]);

  // A check that changes no status moves nobody; a status that changes does.
  const check = (id: number, status: Machine["status"]) => feed.publish({
    type: "status_update", machine_id: id, status, is_alive: status === "active", response_time: null, checked: true,
    last_seen: new Date().toISOString(), consecutive_failures: status === "active" ? 0 : 3, last_checked_at: null, next_check_at: null,
  });
  check(5, "active");
  expect(names(directory.inDashboardOrder())).toEqual(["node-2", "Alpha", "beta", "node-1", "node-10"]);
  check(1, "unreachable");
  expect(names(directory.inDashboardOrder())).toEqual(["node-2", "node-10", "Alpha", "beta", "node-1"]);

  // Registered, renamed, deleted.
  feed.publish({ type: "machine_registered", machine: machine(6, "aardvark") });
  feed.publish({ type: "machine_updated", machine: { ...machine(4, "zulu") } });
  feed.publish({ type: "machine_deleted", machine_id: 2 });
  const ordered = directory.inDashboardOrder();
  expect(names(ordered)).toEqual(["node-2", "node-10", "aardvark", "node-1", "zulu"]);
  // The very order the page's own first sort gives, whatever order the page got them in.
  const shuffled = new Map([...ordered].reverse().map((m) => [m.id, m]));
  expect(sortMachines(shuffled, FIRST_SORT.sort, FIRST_SORT.descending)).toEqual(ordered.map((m) => m.id));
});

test("kept in order through 2,000 random registrations, renames, status changes and deletions", async () => {
  const feed = new ChangeFeed();
  const directory = await MachineDirectory.start(feed, async () => [], GROUPS);
  let seed = 42;
  // A 32-bit LCG, its high bits (the low ones of an LCG repeat quickly).
  const random = (n: number) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), (seed >>> 16) % n);
  const names = ["node-", "Node-", "web", "db-", "a", "b10c", "b9c", ""];
  const live = new Map<number, Machine>();
  const seen = { registered: 0, updated: 0, deleted: 0, status: 0 };
  for (let step = 1; step <= 2_000; step++) {
    const id = 1 + random(150);
    const existing = live.get(id);
    const kind = random(4);
    if (!existing || kind === 0) {
      const m = machine(id, `${names[random(names.length)]}${random(40)}`, random(3) === 0 ? "unreachable" : "active");
      feed.publish({ type: existing ? "machine_updated" : "machine_registered", machine: m });
      seen[existing ? "updated" : "registered"]++;
      live.set(id, m);
    } else if (kind === 1) {
      feed.publish({ type: "machine_deleted", machine_id: id });
      seen.deleted++;
      live.delete(id);
    } else {
      const status = existing.status === "active" ? "unreachable" : "active";
      feed.publish({
        type: "status_update", machine_id: id, status, is_alive: status === "active", response_time: null, checked: true,
        last_seen: existing.last_seen, consecutive_failures: 0, last_checked_at: null, next_check_at: null,
      });
      live.set(id, { ...existing, status });
      seen.status++;
    }
    if (step % 100 === 0) {
      const ordered = directory.inDashboardOrder().map((m) => m.id);
      expect(ordered).toEqual(sortMachines(live, FIRST_SORT.sort, FIRST_SORT.descending));
    }
  }
  // Every kind of change happened, many times.
  for (const n of Object.values(seen)) expect(n).toBeGreaterThan(100);
});

test("an order that missed a change is made afresh, never sent with a machine missing or twice", () => {
  const machines = new Map([1, 2, 3].map((id) => [id, machine(id, `node-${4 - id}`)]));
  const order = new DashboardOrder(machines);
  expect(names(order.all())).toEqual(["node-1", "node-2", "node-3"]);
  // Changed behind the order's back: one gone, one come.
  machines.delete(3);
  machines.set(4, machine(4, "node-0", "unreachable"));
  expect(names(order.all())).toEqual(["node-0", "node-2", "node-3"]);
  machines.delete(4);
  expect(names(order.all())).toEqual(["node-2", "node-3"]);
});
