// Writing to the event log (the audit trail): what happened, to what, by whom, from where. Every
// change anyone makes goes through here, in the same transaction as the change itself.
import type { Queryable } from "../../db/index.ts";

/** Who did something: a user ("alice"), a token ("alice (token ci)"), "admin-token",
 *  "monitor", "registration"; and the client address it came from, when there was one. */
export interface Actor {
  name: string;
  address: string | null;
}

export const MONITOR: Actor = { name: "monitor", address: null };
export const SYSTEM: Actor = { name: "system", address: null };

export interface EventInput {
  kind: string;
  actor: Actor;
  details?: Record<string, unknown>;
  machine?: { id: number; ip_address: string; hostname: string };
}

export async function recordEvent(q: Queryable, e: EventInput): Promise<void> {
  await q.query(
    `INSERT INTO events (kind, machine_id, ip_address, hostname, details, actor, actor_address)
     VALUES ($1, $2, $3::inet, $4, $5::text::jsonb, $6, $7)`,
    [e.kind, e.machine?.id ?? null, e.machine?.ip_address ?? null, e.machine?.hostname ?? null, JSON.stringify(e.details ?? {}), e.actor.name, e.actor.address],
  );
}
