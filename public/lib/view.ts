// Search, filters (status, label, group) and sort over the machine list. Pure functions; the
// per-machine keys are kept with the machine object (replaced whenever it changes), each made
// only when a sort or filter first asks for it: the first render of 100,000 machines sorted by
// status needs their host keys and nothing else.
import type { Machine } from "../../src/api/machines/model.ts";

export type SortKey = "hostname" | "ip_address" | "mac_address" | "status" | "last_rtt_ms" | "last_seen";
export type StatusFilter = "all" | "active" | "unreachable";
export interface ViewOptions {
  query: string;
  status: StatusFilter;
  /** "key=value" for that label, "key" for any value of it; "" for all. */
  label?: string;
  /** A built-in group ("vni 4096", "subnet 198.18.0.0/24"); "" for all. */
  group?: string;
  sort: SortKey;
  descending: boolean;
}

/** The order a dashboard opens with, which the server sends its snapshot in (src/live/dashboard-order.ts). */
export const FIRST_SORT = { sort: "status", descending: false } as const satisfies Pick<ViewOptions, "sort" | "descending">;

export const SORT_LABELS: Record<SortKey, string> = {
  hostname: "Hostname",
  ip_address: "IP address",
  mac_address: "MAC",
  status: "Status",
  last_rtt_ms: "RTT",
  last_seen: "Last seen",
};

/** An IP address as a string that sorts numerically: IPv4 before IPv6, each by value. */
export function ipSortKey(ip: string): string {
  if (!ip.includes(":")) return "4" + ip.split(".").map((o) => o.padStart(3, "0")).join(".");
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return "6" + groups.map((g) => g.padStart(4, "0")).join(":");
}

const ZEROS = "000000000000";

/** A host name as a string that sorts naturally with plain < (node-2 before node-10): lower
 *  case, digit runs zero-padded to 12. Much cheaper than Intl.Collator; a plain loop, because a
 *  replace() with a callback took 270 ms for 100,000 names in a fresh page (this: 30 ms). */
export function hostSortKey(hostname: string): string {
  const s = hostname.toLowerCase();
  let key = "";
  let i = 0;
  while (i < s.length) {
    const start = i;
    const digits = isDigit(s.charCodeAt(i));
    while (i < s.length && isDigit(s.charCodeAt(i)) === digits) i++;
    key += digits ? ZEROS.slice(i - start) + s.slice(start, i) : s.slice(start, i);
  }
  return key;
}

const isDigit = (code: number) => code >= 48 && code <= 57;

/** A machine's sort and search keys, each computed on first use. */
class Keys {
  #search: string | undefined;
  #host: string | undefined;
  #ip: string | undefined;
  #seen: number | undefined;
  constructor(readonly machine: Machine) {}
  get search(): string {
    const m = this.machine;
    return (this.#search ??= `${m.hostname}\n${m.ip_address}\n${m.mac_address}\n${m.labels.join("\n")}`.toLowerCase());
  }
  get host(): string {
    return (this.#host ??= hostSortKey(this.machine.hostname));
  }
  get ip(): string {
    return (this.#ip ??= ipSortKey(this.machine.ip_address));
  }
  get seen(): number {
    return (this.#seen ??= Date.parse(this.machine.last_seen));
  }
}

// Each machine's keys ride on the machine object itself, under a symbol (so JSON and the
// machine's fields never see them); a WeakMap did the same 5–10 times slower at 100,000. Machine
// objects are never changed, only replaced, often by a spread ({ ...m, status }) that copies the
// symbol too: keys made for another object are made again.
const KEYS = Symbol("sort and search keys");
type WithKeys = Machine & { [KEYS]?: Keys };

function keys(m: WithKeys): Keys {
  let k = m[KEYS];
  if (k?.machine !== m) m[KEYS] = k = new Keys(m);
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

/** The order of two rows for `sort`; ties by name, then id, ascending whichever way `sort` goes. */
function order(a: Row, b: Row, sort: SortKey, dir: 1 | -1): number {
  return dir * compare(a, b, sort) || byString(a.k.host, b.k.host) || a.m.id - b.m.id;
}

/** The same order for two machines (negative: `a` first), their keys kept with them as in a sort:
 *  the server keeps its snapshot in the dashboard's first order with it (src/live/dashboard-order.ts). */
export function compareMachines(a: Machine, b: Machine, sort: SortKey, descending: boolean): number {
  return order({ m: a, k: keys(a) }, { m: b, k: keys(b) }, sort, descending ? -1 : 1);
}

/**
 * The ids of every machine in the order of `sort`. Given the previous result, the sort starts
 * from that order: after a live update only a few machines move, and V8's TimSort sorts a nearly
 * sorted array in close to linear time (10,000 comparisons instead of 130,000).
 */
export function sortMachines(machines: Map<number, Machine>, sort: SortKey, descending: boolean, previous: number[] = []): number[] {
  const rows: Row[] = [];
  const placed = new Set<number>();
  for (const id of previous) {
    const m = machines.get(id);
    if (!m || placed.has(id)) continue;
    placed.add(id);
    rows.push({ m, k: keys(m) });
  }
  for (const m of machines.values()) if (!placed.has(m.id)) rows.push({ m, k: keys(m) });
  const dir = descending ? -1 : 1;
  rows.sort((a, b) => order(a, b, sort, dir));
  return rows.map((r) => r.m.id);
}

function hasLabel(m: Machine, label: string): boolean {
  return label.includes("=") ? m.labels.includes(label) : m.labels.some((l) => l.startsWith(`${label}=`));
}

/** The ids (kept in order) of machines that match the search (hostname, IP, MAC or a label, any
 *  case) and the filters. */
export function filterMachines(machines: Map<number, Machine>, sorted: number[], opts: Omit<ViewOptions, "sort" | "descending">): number[] {
  const q = opts.query.trim().toLowerCase();
  const label = opts.label?.trim() ?? "";
  const group = opts.group ?? "";
  const status = opts.status;
  if (!q && status === "all" && !label && !group) return sorted;
  return sorted.filter((id) => {
    const m = machines.get(id);
    return m !== undefined && (status === "all" || m.status === status) && (!q || keys(m).search.includes(q)) &&
      (!label || hasLabel(m, label)) && (!group || m.groups.includes(group));
  });
}

/** The machines a view shows, in order. */
export function visibleMachines(machines: Map<number, Machine>, opts: ViewOptions): Machine[] {
  return filterMachines(machines, sortMachines(machines, opts.sort, opts.descending), opts).map((id) => machines.get(id)!);
}

/** Every label and every group in use, each with how many machines carry it, in natural order:
 *  the choices of the list's filters. */
export function labelsAndGroups(machines: Map<number, Machine>): { labels: [string, number][]; groups: [string, number][] } {
  const labels = new Map<string, number>();
  const groups = new Map<string, number>();
  for (const m of machines.values()) {
    for (const l of m.labels) labels.set(l, (labels.get(l) ?? 0) + 1);
    for (const g of m.groups) groups.set(g, (groups.get(g) ?? 0) + 1);
  }
  const natural = (a: [string, number], b: [string, number]) => byString(hostSortKey(a[0]), hostSortKey(b[0]));
  return { labels: [...labels].sort(natural), groups: [...groups].sort(natural) };
}
