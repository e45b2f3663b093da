// Outage history and uptime, read from the outages table (one row per unreachable → recovered
// period), never from the samples: a page of uptime figures costs one small aggregate query.
import type { Database } from "../db/index.ts";
import { groupsOf, type GroupOptions } from "./groups.ts";
import type { OutageQuery } from "./model.ts";

interface OutageRow {
  id: number;
  machine_id: number;
  hostname: string;
  ip_address: string;
  started_at: Date;
  ended_at: Date | null;
  ended_by: "recovered" | "deleted" | null;
  seconds: number;
  labels: string[] | null;
  extra_data: Record<string, unknown> | null;
}

export class OutageHistory {
  constructor(
    private readonly db: Database,
    private readonly group: GroupOptions,
  ) {}

  /** Newest first; filter by machine, by group (of the machines that still exist), open only. */
  async list(q: OutageQuery) {
    const rows = await this.db.query<OutageRow>(
      `SELECT o.id, o.machine_id, o.hostname, host(o.ip_address) AS ip_address, o.started_at, o.ended_at, o.ended_by,
              extract(epoch FROM coalesce(o.ended_at, now()) - o.started_at)::float8 AS seconds, m.labels, m.extra_data
       FROM outages o LEFT JOIN machines m ON m.id = o.machine_id
       WHERE ($1::int IS NULL OR o.machine_id = $1) AND ($2::boolean IS NULL OR (o.ended_at IS NULL) = $2) AND ($3::bigint IS NULL OR o.id < $3)
       ORDER BY o.id DESC LIMIT $4`,
      [q.machine_id ?? null, q.open ?? null, q.before ?? null, q.group ? 10_000 : (q.limit ?? 100)],
    );
    const items = rows.map((r) => ({
      id: Number(r.id),
      machine_id: r.machine_id,
      hostname: r.hostname,
      ip_address: r.ip_address,
      groups: r.extra_data ? groupsOf({ ip_address: r.ip_address, labels: r.labels ?? [], extra_data: r.extra_data }, this.group) : [],
      started_at: r.started_at.toISOString(),
      ended_at: r.ended_at?.toISOString() ?? null,
      ended_by: r.ended_by,
      duration_seconds: Math.round(r.seconds * 1000) / 1000,
    }));
    return { items: q.group ? items.filter((o) => o.groups.includes(q.group!)).slice(0, q.limit ?? 100) : items };
  }

  /** Per machine: the percentage of the last day, week and 30 days it was not in an outage
   *  (counting only the time since it was registered), and since when it is down. */
  async uptime() {
    const rows = await this.db.query<{ machine_id: number; day: number; week: number; month: number; down_since: Date | null }>(
      `WITH spans AS (
         SELECT id, greatest(now() - interval '1 day', created_at) AS d, greatest(now() - interval '7 days', created_at) AS w,
                greatest(now() - interval '30 days', created_at) AS mo
         FROM machines)
       SELECT s.id AS machine_id,
         ${uptimeOf("s.d")} AS day, ${uptimeOf("s.w")} AS week, ${uptimeOf("s.mo")} AS month,
         max(o.started_at) FILTER (WHERE o.ended_at IS NULL) AS down_since
       FROM spans s LEFT JOIN outages o ON o.machine_id = s.id AND (o.ended_at IS NULL OR o.ended_at > s.mo)
       GROUP BY s.id, s.d, s.w, s.mo ORDER BY s.id`,
    );
    return { items: rows.map((r) => ({ ...r, down_since: r.down_since?.toISOString() ?? null })) };
  }
}

/** Percent of the window from `from` to now not covered by an outage (100 for an empty window). */
function uptimeOf(from: string): string {
  // FILTER: a machine with no outage still has one row from the outer join, with no outage in it.
  const down = `coalesce(sum(extract(epoch FROM greatest(interval '0', coalesce(o.ended_at, now()) - greatest(o.started_at, ${from})))) FILTER (WHERE o.id IS NOT NULL), 0)`;
  const span = `extract(epoch FROM now() - ${from})`;
  return `round((CASE WHEN ${span} <= 0 THEN 100 ELSE greatest(0, 100 * (1 - ${down} / ${span})) END)::numeric, 3)::float8`;
}
