// Search, status filter and sort over the machine list. Pure functions; the per-machine keys are
// cached on the machine object (replaced whenever it changes), so 10,000 rows filter and sort
// in a few milliseconds.
import type { Machine } from "../../src/api/machines/model.ts";

export type SortKey = "hostname" | "ip_address" | "mac_address" | "status" | "last_rtt_ms" | "last_seen";
export type StatusFilter = "all" | "active" | "unreachable";
export interface ViewOptions {
  query: string;
  status: StatusFilter;
  sort: SortKey;
  descending: boolean;
}

export const SORT_LABELS: Record<SortKey, string> = {
  hostname: "Hostname",
  ip_address: "IP address",
  mac_address: "MAC",
  status: "Status",
  last_rtt_ms: "RTT",
  last_seen: "Last seen",
};

interface Keys {
  search: string;
  host: string;
  ip: string;
  seen: number;
}
const keyCache = new WeakMap<Machine, Keys>();

/** An IP address as a string that sorts numerically: IPv4 before IPv6, each by value. */
export function ipSortKey(ip: string): string {
  if (!ip.includes(":")) return "4" + ip.split(".").map((o) => o.padStart(3, "0")).join(".");
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return "6" + groups.map((g) => g.padStart(4, "0")).join(":");
}

/** A host name as a string that sorts naturally with plain < (node-2 before node-10): lower
 *  case, digit runs zero-padded. Much cheaper than Intl.Collator at 10,000 rows. */
export function hostSortKey(hostname: string): string {
  return hostname.toLowerCase().replace(/\d+/g, (d) => d.padStart(12, "0"));
}

function keys(m: Machine): Keys {
  let k = keyCache.get(m);
  if (!k) {
    k = {
      search: `${m.hostname}\n${m.ip_address}\n${m.mac_address}`.toLowerCase(),
      host: hostSortKey(m.hostname),
      ip: ipSortKey(m.ip_address),
      seen: Date.parse(m.last_seen),
    };
    keyCache.set(m, k);
  }
  return k;
}

const byString = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

interface Row {
  m: Machine;
  k: Keys;
}

function compare(a: Row, b: Row, key: SortKey): number {
  switch (key) {
    case "hostname":
      return byString(a.k.host, b.k.host);
    case "ip_address":
      return byString(a.k.ip, b.k.ip);
    case "mac_address":
      return byString(a.m.mac_address, b.m.mac_address);
    case "status":
      // Unreachable first: what needs attention.
      return (a.m.status === "unreachable" ? 0 : 1) - (b.m.status === "unreachable" ? 0 : 1);
    case "last_rtt_ms":
      // Unknown RTTs last.
      return (a.m.last_rtt_ms ?? Infinity) - (b.m.last_rtt_ms ?? Infinity) || 0;
    case "last_seen":
      return a.k.seen - b.k.seen;
  }
}

export function visibleMachines(all: Iterable<Machine>, opts: ViewOptions): Machine[] {
  const q = opts.query.trim().toLowerCase();
  const rows: Row[] = [];
  for (const m of all) {
    if (opts.status !== "all" && m.status !== opts.status) continue;
    const k = keys(m);
    if (q && !k.search.includes(q)) continue;
    rows.push({ m, k });
  }
  const dir = opts.descending ? -1 : 1;
  rows.sort((a, b) => dir * compare(a, b, opts.sort) || byString(a.k.host, b.k.host) || a.m.id - b.m.id);
  return rows.map((r) => r.m);
}
