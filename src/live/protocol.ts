// The /ws/status protocol: what a dashboard receives, and the rule both ends share for how an
// event changes the machine list. The browser bundle imports this file too, so it must stay
// free of server-only imports (types only).
import type { MonitoringState } from "../api/health/index.ts";
import type { Machine } from "../api/machines/model.ts";
import type { Change } from "../changes.ts";

/** The changes dashboards are told about (`machine_seen` is internal to the server). */
export type BroadcastChange = Exclude<Change, { type: "machine_seen" }>;

/** A change as sent: `seq` increases by exactly one per event, so a client can see a gap. */
export type LiveEvent = BroadcastChange & { seq: number };

export type StatusUpdate = Extract<LiveEvent, { type: "status_update" }>;

export type ServerMessage =
  | ({ type: "hello"; version: string } & MonitoringState)
  /** Every machine as of `seq`; the next event a client receives has seq + 1. */
  | { type: "snapshot"; seq: number; machines: Machine[] }
  | LiveEvent
  /** Events that arrived within one coalescing window; `seq` is that of the last one. */
  | { type: "batch"; seq: number; events: LiveEvent[] };

/** The subprotocol a client offers (and the server echoes) to speak this protocol. */
export const LIVE_PROTOCOL = "vxman";
/** A token offered as a subprotocol: `bearer.` + base64url(token). Browsers cannot set headers on
 *  a WebSocket, and a token in the URL would end up in access logs. */
export const TOKEN_PROTOCOL_PREFIX = "bearer.";

/** How many of the last checks a machine carries (its strip of green and red marks). */
export const RECENT_CHECKS = 30;

/** Apply one event to a machine list keyed by id. Unknown machines' status updates are ignored. */
export function applyEvent(machines: Map<number, Machine>, event: BroadcastChange): void {
  switch (event.type) {
    case "machine_registered":
    case "machine_updated":
      machines.set(event.machine.id, event.machine);
      return;
    case "machine_deleted":
      machines.delete(event.machine_id);
      return;
    case "status_update": {
      const m = machines.get(event.machine_id);
      if (!m) return;
      machines.set(m.id, {
        ...m,
        status: event.status,
        last_seen: event.last_seen,
        consecutive_failures: event.consecutive_failures,
        last_checked_at: event.last_checked_at,
        next_check_at: event.next_check_at,
        // last_rtt_ms is the RTT of the last *successful* check: a failure keeps the old one.
        last_rtt_ms: event.response_time ?? m.last_rtt_ms,
        recent_checks: event.checked ? (m.recent_checks + (event.is_alive ? "1" : "0")).slice(-RECENT_CHECKS) : m.recent_checks,
      });
    }
  }
}

/** base64url without padding (RFC 4648 §5), for tokens carried as a subprotocol. */
export function encodeTokenProtocol(token: string): string {
  const bytes = new TextEncoder().encode(token);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return TOKEN_PROTOCOL_PREFIX + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
