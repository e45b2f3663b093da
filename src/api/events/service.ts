// The audit log, newest first.
import type { Database } from "../../db/index.ts";
import { VIEWER_EVENT_KINDS, type Event, type EventQuery } from "./model.ts";

type EventRow = Omit<Event, "at"> & { at: Date };

export class EventService {
  constructor(private readonly db: Database) {}

  /** Newest first. `everything`: people's changes too (for admins); otherwise machines' and jobs' only. */
  async list(query: EventQuery, everything: boolean): Promise<{ items: Event[]; limit: number }> {
    const limit = query.limit ?? 100;
    const rows = await this.db.query<EventRow>(
      `SELECT id, at, kind, machine_id, host(ip_address) AS ip_address, hostname, details, actor, actor_address FROM events
       WHERE ($1::int IS NULL OR machine_id = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::bigint IS NULL OR id < $3)
         AND ($5::text IS NULL OR actor = $5) AND ($6::text[] IS NULL OR kind = ANY($6))
       ORDER BY id DESC LIMIT $4`,
      [query.machine_id ?? null, query.kind ?? null, query.before ?? null, limit, query.actor ?? null, everything ? null : VIEWER_EVENT_KINDS],
    );
    return { items: rows.map((r) => ({ ...r, at: r.at.toISOString() })), limit };
  }
}
