// Who is asking: from a bearer token (the admin, read or registration token, or a personal API
// token), or from the dashboard's session cookie. Nothing here decides what they may do; the
// access table (access.ts) does, from what this returns.
import { timingSafeEqual } from "node:crypto";
import { ApiError } from "../http/errors.ts";
import { TOKEN_PROTOCOL_PREFIX } from "../live/protocol.ts";
import type { Role } from "./roles.ts";
import { digestOf } from "./secrets.ts";
import type { SessionService, SessionUser } from "./sessions.ts";
import { TOKEN_PREFIX, type TokenService } from "./tokens.ts";

export type Identity =
  | { via: "anonymous"; role: null; actor: string; sessionEnded?: boolean }
  | { via: "admin-token"; role: "admin"; actor: "admin-token" }
  | { via: "read-token"; role: "viewer"; actor: "read-token" }
  | { via: "registration-token"; role: null; actor: "registration-token" }
  | { via: "session"; role: Role; actor: string; user: SessionUser; sessionId: number }
  | { via: "api-token"; role: Role; actor: string; user: SessionUser; tokenId: number };

export const ANONYMOUS: Extract<Identity, { via: "anonymous" }> = { via: "anonymous", role: null, actor: "anonymous" };

/** The three configured tokens, as SHA-256 digests. */
export interface ConfiguredTokens {
  admin: Buffer;
  /** When unset, registration is open (the seeds' default). */
  registration?: Buffer;
  read?: Buffer;
}

export const SESSION_COOKIE = "vxman_session";

export interface RequestFacts {
  method: string;
  headers: Headers;
  /** The server's own origin as the browser sees it (for the session cookie's same-origin rule). */
  ownOrigin: string;
}

export class Identities {
  constructor(
    private readonly tokens: ConfiguredTokens,
    private readonly sessions: SessionService,
    private readonly apiTokens: TokenService,
  ) {}

  async of({ method, headers, ownOrigin }: RequestFacts): Promise<Identity> {
    const bearer = bearerOf(headers);
    if (bearer !== undefined) return this.#fromToken(bearer);
    const secret = cookieValue(headers.get("cookie"), SESSION_COOKIE);
    if (secret === undefined) return ANONYMOUS;
    const session = await this.sessions.resolve(secret);
    if (!session) return { ...ANONYMOUS, sessionEnded: true };
    // A cookie rides along with any request the browser makes, a cross-site one included: it
    // speaks for its user only on requests from vxman's own pages.
    const problem = crossOriginUse(method, headers, ownOrigin);
    if (problem) throw new ApiError(403, "cross_site_request", problem);
    return { via: "session", role: session.user.role, actor: session.user.username, user: session.user, sessionId: session.id };
  }

  async #fromToken(token: string): Promise<Identity> {
    const given = digestOf(token);
    const is = (d: Buffer | undefined) => d !== undefined && timingSafeEqual(given, d);
    if (is(this.tokens.admin)) return { via: "admin-token", role: "admin", actor: "admin-token" };
    if (is(this.tokens.read)) return { via: "read-token", role: "viewer", actor: "read-token" };
    if (is(this.tokens.registration)) return { via: "registration-token", role: null, actor: "registration-token" };
    if (token.startsWith(TOKEN_PREFIX)) {
      const t = await this.apiTokens.resolve(token);
      if (t) return { via: "api-token", role: t.role, actor: `${t.user.username} (token ${t.name})`, user: t.user, tokenId: t.id };
    }
    throw new ApiError(403, "forbidden", "The token sent is not valid here (unknown, revoked or expired).");
  }
}

/** The bearer token of a request: the Authorization header, or on a WebSocket upgrade the
 *  `bearer.<base64url>` subprotocol (a token in the URL would end up in access logs). */
function bearerOf(headers: Headers): string | undefined {
  const header = headers.get("authorization");
  if (header !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Sent, but not a bearer token: nobody, so that a route needing one says 401 and how to send it.
    return m ? m[1] : undefined;
  }
  const offered = (headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const carried = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return carried === undefined ? undefined : Buffer.from(carried.slice(TOKEN_PROTOCOL_PREFIX.length), "base64url").toString("utf8");
}

/** One cookie's value from a Cookie header; undefined when absent. */
export function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * Why a cookie may not speak for this request, or null. Anything that changes state, and a
 * WebSocket (which no CORS rule protects), must come from vxman's own origin: Sec-Fetch-Site
 * says so, or, from a browser that does not send it, Origin does. CORS_ORIGINS plays no part:
 * those pages use bearer tokens.
 */
function crossOriginUse(method: string, headers: Headers, ownOrigin: string): string | null {
  const upgrade = headers.get("upgrade")?.toLowerCase() === "websocket";
  if (!upgrade && (method === "GET" || method === "HEAD" || method === "OPTIONS")) return null;
  const site = headers.get("sec-fetch-site");
  const origin = headers.get("origin");
  if (site !== null) return site === "same-origin" ? null : `The session cookie works only from vxman's own pages (Sec-Fetch-Site: ${site}).`;
  if (origin !== null) return origin === ownOrigin ? null : `The session cookie works only from vxman's own pages, not from ${origin.slice(0, 100)}.`;
  return null; // not a browser page: no cross-site request to guard against
}
