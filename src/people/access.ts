// Who may call which route: ONE table, checked for every request before anything else runs
// (before the body is validated, so a stranger learns nothing from the answers). A route
// without an entry is refused, and test/security/access.test.ts fails on it.
import { Elysia } from "elysia";
import type { Actor } from "../api/events/record.ts";
import { clientOf } from "../http/client.ts";
import { ApiError } from "../http/errors.ts";
import { ownOrigin } from "../http/guards.ts";
import type { Logger } from "../log.ts";
import { ANONYMOUS, type Identities, type Identity } from "./identity.ts";
import { atLeast, type Role } from "./roles.ts";

/**
 * anyone    no login (the page itself, health, docs, logging in)
 * machine   registration: open, or the registration token when REGISTRATION_TOKEN is set (an
 *           operator or admin may register a machine by hand too)
 * viewer / operator / admin   that role or a higher one (ANONYMOUS_READ opens viewer routes to all)
 * metrics   admin, or anyone with METRICS_PUBLIC
 */
export type Need = "anyone" | "machine" | Role | "metrics";

export const ACCESS: Record<string, Need> = {
  "GET /health": "anyone",
  "GET /docs": "anyone",
  "GET /docs/json": "anyone",
  "GET /register.sh": "anyone",
  "GET /": "anyone",
  "GET /favicon.ico": "anyone",
  "GET /api/session": "anyone",
  "POST /api/session": "anyone",
  "DELETE /api/session": "anyone",

  "PUT /api/machines/:machine": "machine",
  "POST /api/machines/:machine/heartbeat": "machine",

  "GET /api/machines/": "viewer",
  "GET /api/outages": "viewer",
  "GET /api/uptime": "viewer",
  "GET /api/instances": "viewer",
  "GET /api/silences": "viewer",
  "GET /api/machines/:machine": "viewer",
  "GET /api/machines/:machine/samples": "viewer",
  "GET /api/events": "viewer",
  "WS /ws/status": "viewer",
  "PUT /api/session/password": "viewer",
  "GET /api/sessions": "viewer",
  "DELETE /api/sessions/:id": "viewer",
  "GET /api/tokens": "viewer",
  "POST /api/tokens": "viewer",
  "DELETE /api/tokens/:id": "viewer",
  "GET /api/machines/:machine/ssh": "viewer",
  "GET /api/host-keys": "viewer",
  "GET /api/jobs": "viewer",
  "GET /api/jobs/:id": "viewer",
  "GET /api/runs": "viewer",
  "GET /api/runs/:id": "viewer",
  "WS /ws/runs/:id": "viewer",

  "POST /api/machines/:machine/check": "operator",
  "PATCH /api/machines/:machine": "operator",
  "POST /api/silences": "operator",
  "DELETE /api/silences/:id": "operator",
  "GET /api/notifications": "operator",
  "POST /api/jobs/:id/runs": "operator",
  "POST /api/runs/:id/cancel": "operator",

  "DELETE /api/machines/:machine": "admin",
  "GET /api/users": "admin",
  "POST /api/users": "admin",
  "GET /api/users/:user": "admin",
  "PATCH /api/users/:user": "admin",
  "GET /api/channels": "admin",
  "POST /api/channels": "admin",
  "PATCH /api/channels/:id": "admin",
  "DELETE /api/channels/:id": "admin",
  "POST /api/channels/:id/test": "admin",
  "GET /api/credentials": "admin",
  "POST /api/credentials": "admin",
  "DELETE /api/credentials/:id": "admin",
  "GET /api/ssh-defaults": "admin",
  "POST /api/ssh-defaults": "admin",
  "DELETE /api/ssh-defaults/:id": "admin",
  "POST /api/machines/:machine/host-key": "admin",
  "POST /api/jobs": "admin",
  "PATCH /api/jobs/:id": "admin",
  "DELETE /api/jobs/:id": "admin",
  "GET /metrics": "metrics",
};

export interface AccessOptions {
  registrationOpen: boolean;
  anonymousRead: boolean;
  metricsPublic: boolean;
}

const LABEL: Record<Need, string> = {
  anyone: "anyone",
  machine: "the registration token (REGISTRATION_TOKEN)",
  viewer: "a login (viewer or above)",
  operator: "the operator or admin role",
  admin: "the admin role",
  metrics: "the admin role (or METRICS_PUBLIC)",
};

/** Null when `who` may call a route that needs `need`; otherwise the 401/403 to answer. */
export function accessProblem(need: Need, who: Identity, o: AccessOptions): ApiError | null {
  const role = who.role;
  const allowed =
    need === "anyone" ? true
    : need === "machine" ? o.registrationOpen || who.via === "registration-token" || (role !== null && atLeast(role, "operator"))
    : need === "metrics" ? o.metricsPublic || role === "admin"
    : need === "viewer" && o.anonymousRead ? true
    : role !== null && atLeast(role, need);
  if (allowed) return null;
  if (who.via === "anonymous") {
    // A machine has no login: it is told about its token only.
    const how = need === "machine" ? `send "Authorization: Bearer <token>"` : `log in, or send "Authorization: Bearer <token>"`;
    const why = who.sessionEnded ? "Your session has ended (logged out, expired or idle too long); log in again." : `This needs ${LABEL[need]}: ${how}.`;
    return new ApiError(401, "unauthorized", why, undefined, { "www-authenticate": 'Bearer realm="vxman"' });
  }
  return new ApiError(403, "forbidden", `This needs ${LABEL[need]}; you are signed in as ${who.actor}${role ? ` (${role})` : ""}.`);
}

/** The rule for a route as the table names it ("WS /ws/status" for a WebSocket upgrade). */
export function ruleFor(method: string, route: string, upgrade: boolean, publicPaths: ReadonlySet<string>): Need | undefined {
  const key = `${upgrade ? "WS" : method} ${route}`;
  return ACCESS[key] ?? (method === "GET" && publicPaths.has(route) ? "anyone" : undefined);
}

export interface AccessDeps {
  identities: Identities;
  options: AccessOptions;
  trustProxy: boolean;
  /** The dashboard's and docs' files: open to anyone (their paths are known only at start). */
  publicPaths: ReadonlySet<string>;
  log: Logger;
}

/**
 * Adds `identity` and `actor` (for the event log) to every request's context, after checking
 * the table. Runs as a derive: before the body is validated and before any handler.
 */
export function accessControl({ identities, options, trustProxy, publicPaths, log }: AccessDeps) {
  // An arrow function destructuring what it uses, not a method: Elysia reads a hook's source to
  // learn which parts of the request it needs, and a minified method defeats that.
  return new Elysia({ name: "access-control" }).derive({ as: "global" }, async ({ request, route }) => {
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    const need = ruleFor(request.method, route, upgrade, publicPaths);
    if (need === undefined) {
      log.error({ method: request.method, route }, "route missing from the access table: refused");
      throw new ApiError(403, "forbidden", "This route has no access rule, so it is closed (a bug in vxman; it has been logged).");
    }
    // Routes open to anyone do not look at credentials: a stale cookie never blocks the login page.
    const identity = need === "anyone" && !needsIdentity(request.method, route) ? ANONYMOUS : await identities.of({ method: request.method, headers: request.headers, ownOrigin: ownOrigin(request, trustProxy) });
    const problem = accessProblem(need, identity, options);
    if (problem) throw problem;
    const actor: Actor = { name: identity.actor, address: clientOf(request) };
    return { identity, actor };
  });
}

/**
 * Whether the credentials in a request's headers still give `need` now: for connections that
 * outlive their request (a dashboard's WebSocket), checked again when access may have changed.
 */
export function accessStillHeld(identities: Identities, options: AccessOptions, trustProxy: boolean, need: Need = "viewer") {
  return async (headers: Record<string, string | undefined>): Promise<boolean> => {
    const h = new Headers(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
    const request = new Request(`http://${h.get("host") ?? "localhost"}/`, { headers: h });
    try {
      const identity = await identities.of({ method: "GET", headers: h, ownOrigin: ownOrigin(request, trustProxy) });
      return accessProblem(need, identity, options) === null;
    } catch (err) {
      if (err instanceof ApiError) return false; // a token no longer valid, a cookie used cross-site
      throw err;
    }
  };
}

/** Open routes that still care who is asking: who-am-I. */
const needsIdentity = (method: string, route: string) => method === "GET" && route === "/api/session";
