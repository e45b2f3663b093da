// WS /ws/status: routes only. The upgrade checks access; a socket that opens is counted against
// its IP's cap, sent hello + snapshot, and subscribed to the status topic the hub publishes on
// (LiveHub.follow).
import type { ServerWebSocket } from "bun";
import { Elysia } from "elysia";
import { clientIp } from "../http/client.ts";
import { ApiError } from "../http/errors.ts";
import type { LiveHub } from "./hub.ts";
import { LIVE_PROTOCOL } from "./protocol.ts";

/** The pub/sub topic every dashboard socket subscribes to. */
export const STATUS_TOPIC = "status";

/** Close code for a refused socket (RFC 6455 1008: policy violation), with the reason in words. */
export const CLOSE_POLICY = 1008;

/** The subprotocols a client offered (one may carry a bearer token: `bearer.<base64url>`). */
export function offeredProtocols(headers: Record<string, string | undefined>): string[] {
  return (headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
}

/**
 * The upgrade's subprotocol, for every vxman socket. Who may open one is the access table's
 * business (src/people/access.ts); here, only how. Answers with `vxman`, never with what else was
 * offered: Bun would otherwise echo the first protocol offered, which may be the bearer token.
 */
export function negotiateProtocol(ctx: { headers: Record<string, string | undefined>; set: { headers: Record<string, unknown> } }): void {
  const offered = offeredProtocols(ctx.headers);
  if (offered.length > 0 && !offered.includes(LIVE_PROTOCOL)) {
    throw new ApiError(400, "unsupported_protocol", `Offer the "${LIVE_PROTOCOL}" WebSocket subprotocol (with or without a bearer.<token> one).`);
  }
  if (offered.length > 0) ctx.set.headers["sec-websocket-protocol"] = LIVE_PROTOCOL;
}

export function liveRoutes(hub: LiveHub) {
  const { config } = hub.deps;
  return new Elysia({ name: "live" }).ws("/ws/status", {
    detail: { hide: true },
    // Arrow functions throughout: Elysia reads a hook's source to learn what it uses, and a
    // minified method defeats that (see src/people/access.ts).
    upgrade: (ctx) => {
      negotiateProtocol(ctx);
      hub.attach(ctx.server);
    },
    open: (ws) => {
      const raw = ws.raw as ServerWebSocket<unknown>;
      // The same client address the rate limit counts by (TRUST_PROXY: from X-Forwarded-For).
      const ip = clientIp(raw.remoteAddress, ws.data.headers["x-forwarded-for"], config.trustProxy);
      const refused = hub.sockets.admit(raw, ip, ws.data.headers);
      if (refused) {
        raw.close(CLOSE_POLICY, refused);
        return;
      }
      hub.watchAccess();
      raw.send(hub.hello());
      hub.follow(raw);
    },
    drain: (ws) => {
      hub.sockets.drained(ws.raw as ServerWebSocket<unknown>);
    },
    close: (ws) => {
      hub.sockets.remove(ws.raw as ServerWebSocket<unknown>);
    },
  });
}
