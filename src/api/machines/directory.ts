// Every machine as the API shows it, held in memory and kept current from the change feed, so
// the list — up to all 10,000 machines at once — is answered without a database round trip and
// still answered while the database is away. Writes go to the database first and are published
// only once committed, so a list never shows what was not stored; the monitor's status updates
// arrive here at once and reach the database in its next batch (MONITOR_WRITE_INTERVAL).
import type { ChangeFeed } from "../../changes.ts";
import { applyEvent, SnapshotParts, type BroadcastChange } from "../../live/protocol.ts";
import { DashboardOrder } from "../../live/dashboard-order.ts";
import { groupsOf, type GroupOptions } from "../../outages/groups.ts";
import type { ListQuery, Machine } from "./model.ts";

export class MachineDirectory {
  readonly #byId = new Map<number, Machine>();
  /** Each machine's JSON, made when first listed after a change: a list of 10,000 machines is
   *  then a join of strings, not 10,000 objects serialised again for every request. */
  readonly #json = new Map<number, string>();
  readonly #dashboardOrder = new DashboardOrder(this.#byId);

  private constructor(private readonly groups: GroupOptions) {}

  /** Follow the feed from now on, then load what the database has (changes that arrive during
   *  the load are applied over it, so none falls in between). */
  static async start(feed: ChangeFeed, loadAll: () => Promise<Machine[]>, groups: GroupOptions): Promise<MachineDirectory> {
    const directory = new MachineDirectory(groups);
    let duringLoad: BroadcastChange[] | null = [];
    feed.subscribe((change) => {
      if (change.type === "machine_seen") return;
      if (duringLoad) duringLoad.push(change);
      else directory.#apply(change);
    });
    for (const m of await loadAll()) directory.#byId.set(m.id, m);
    for (const change of duringLoad) directory.#apply(change);
    duringLoad = null;
    return directory;
  }

  #apply(change: BroadcastChange) {
    const id = "machine" in change ? change.machine.id : change.machine_id;
    const before = this.#byId.get(id);
    // Most changes are checks that move nobody in the dashboard's order (status, then name).
    const moves = change.type !== "status_update" || before?.status !== change.status;
    if (moves && before) this.#dashboardOrder.remove(before);
    applyEvent(this.#byId, change);
    const after = this.#byId.get(id);
    if (change.type === "status_update" && before && after) SnapshotParts.carryRecordPart(before, after);
    if (moves && after) this.#dashboardOrder.insert(after);
    this.#json.delete(id);
  }

  get(id: number): Machine | undefined {
    return this.#byId.get(id);
  }

  /** Oldest first (the map keeps insertion order, and ids only grow). */
  all(): Machine[] {
    return [...this.#byId.values()];
  }

  /** Every machine in the order a dashboard opens with, for its snapshot (live/dashboard-order.ts). */
  inDashboardOrder(): Machine[] {
    return this.#dashboardOrder.all();
  }

  /** The whole fleet by status (the metrics). */
  countByStatus(): { active: number; unreachable: number } {
    const counts = { active: 0, unreachable: 0 };
    for (const m of this.#byId.values()) counts[m.status]++;
    return counts;
  }

  /** A page as JSON text, ready to send: {"items": [...], "total", "limit", "offset"}. Filter by
   *  status, label and group, search hostname/IP/MAC/labels (substring, any case), in id order. */
  listJson(query: ListQuery): string {
    const { items, total, limit, offset } = this.#select(query);
    const json = items.map((id) => this.#jsonOf(id)).join(",");
    return `{"items":[${json}],"total":${total},"limit":${limit},"offset":${offset}}`;
  }

  /** The ids on the requested page, and how many machines match in all. */
  #select(query: ListQuery): { items: number[]; total: number; limit: number; offset: number } {
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const needle = query.q?.toLowerCase();
    const items: number[] = [];
    let total = 0;
    for (const m of this.#byId.values()) {
      if (query.status && m.status !== query.status) continue;
      if (query.label && !m.labels.includes(query.label)) continue;
      if (query.group && !groupsOf(m, this.groups).includes(query.group)) continue;
      if (needle && !matches(m, needle)) continue;
      if (total >= offset && items.length < limit) items.push(m.id);
      total++;
    }
    return { items, total, limit, offset };
  }

  #jsonOf(id: number): string {
    let json = this.#json.get(id);
    if (json === undefined) this.#json.set(id, (json = JSON.stringify(this.#byId.get(id))));
    return json;
  }
}

/** Whether a search (lower-case) finds the machine: its hostname, IP, MAC or a label. Job targets' `q` too. */
export function matches(m: Pick<Machine, "hostname" | "ip_address" | "mac_address" | "labels">, needle: string): boolean {
  return (
    m.hostname.toLowerCase().includes(needle) || m.ip_address.includes(needle) || m.mac_address.includes(needle) ||
    m.labels.some((l) => l.toLowerCase().includes(needle))
  );
}
