// Who may do what. Three optional bearer tokens: admin (always on), registration and read.
// Tokens are kept only as SHA-256 digests and compared in constant time.
import { Elysia, t } from "elysia";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { ApiError } from "../http/errors.ts";

/** admin: delete and settings. register: PUT and heartbeat. read: lists, details, WebSocket. */
export type Access = "admin" | "register" | "read";

export interface Credentials {
  admin: Buffer;
  /** When unset, registration is open (the seeds' default). */
  registration?: Buffer;
  /** When unset, reads are open. */
  read?: Buffer;
}

export const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

export function bearerToken(authorization: string | null | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m?.[1];
}

const WHAT: Record<Access, string> = {
  admin: "the admin token (ADMIN_TOKEN)",
  register: "the registration token (REGISTRATION_TOKEN)",
  read: "the read token (READ_TOKEN) or the admin token",
};

/** Null when allowed; otherwise the 401/403 to answer. The admin token opens everything. */
export function accessError(access: Access, authorization: string | null | undefined, creds: Credentials): ApiError | null {
  const required = access === "admin" ? creds.admin : access === "register" ? creds.registration : creds.read;
  if (!required) return null;
  const token = bearerToken(authorization);
  if (token === undefined) {
    return new ApiError(401, "unauthorized", `This needs ${WHAT[access]}: send "Authorization: Bearer <token>".`, undefined, {
      "www-authenticate": 'Bearer realm="vxman"',
    });
  }
  const given = digest(token);
  if (timingSafeEqual(given, required) || timingSafeEqual(given, creds.admin)) return null;
  return new ApiError(403, "forbidden", `The token sent is not ${WHAT[access]}.`);
}

export type Role = "admin" | "reader" | "anonymous";

/**
 * What a request's token opens: "admin", "reader" (the READ_TOKEN), or "anonymous" (no token).
 * A token that is none of them is an error (403), so a login form can say so.
 */
export function roleOf(authorization: string | null | undefined, creds: Credentials): Role | ApiError {
  const token = bearerToken(authorization);
  if (token === undefined) return "anonymous";
  const given = digest(token);
  if (timingSafeEqual(given, creds.admin)) return "admin";
  if (creds.read && timingSafeEqual(given, creds.read)) return "reader";
  return new ApiError(403, "forbidden", "The token sent is neither the admin token nor the read token.");
}

/** The `access` route option: `{ access: "admin" }` guards a route. */
export function accessControl(creds: Credentials) {
  return new Elysia({ name: "access-control" }).macro({
    access: (access: Access) => ({
      // An arrow function, not a method: Elysia reads a hook's source to learn which parts of
      // the request it uses, and a minified method (`beforeHandle({headers:t}){…}`) defeats
      // that, leaving `headers` undefined in the compiled binary.
      beforeHandle: ({ headers }) => {
        const error = accessError(access, headers.authorization, creds);
        if (error) throw error;
      },
    }),
  });
}

/** GET /api/whoami: what the token sent opens — for the dashboard's login; changes nothing. */
export function whoamiApi(creds: Credentials) {
  return new Elysia({ name: "whoami-api", detail: { tags: ["operations"] } }).get(
    "/api/whoami",
    ({ headers }) => {
      const role = roleOf(headers.authorization, creds);
      if (role instanceof ApiError) throw role;
      return { role, reads_need_token: creds.read !== undefined };
    },
    {
      response: t.Object({ role: t.Union([t.Literal("admin"), t.Literal("reader"), t.Literal("anonymous")]), reads_need_token: t.Boolean() }),
      detail: { summary: "What the token sent opens", description: "admin, reader (READ_TOKEN) or anonymous; 403 for any other token." },
    },
  );
}

const ADMIN_TOKEN_KEY = "admin_token_sha256";

/** A new random admin token, stored (as its digest) in place of the old one; returned once. */
export async function resetAdminToken(db: Database): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await db.query(
    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ADMIN_TOKEN_KEY, digest(token).toString("hex")],
  );
  return token;
}

/**
 * The admin token's digest. ADMIN_TOKEN wins when set. Otherwise one is generated on the first
 * start, printed once, and only its digest is stored: a copy of the database does not leak it.
 */
export async function resolveAdminToken(db: Database, configured: string | undefined, log: Logger): Promise<Buffer> {
  if (configured) return digest(configured);
  const [stored] = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [ADMIN_TOKEN_KEY]);
  if (stored) {
    log.info("admin token: using the one generated on first start (set ADMIN_TOKEN to choose your own)");
    return Buffer.from(stored.value, "hex");
  }
  const token = randomBytes(32).toString("base64url");
  const [inserted] = await db.query<{ value: string }>(
    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value",
    [ADMIN_TOKEN_KEY, digest(token).toString("hex")],
  );
  if (!inserted) return resolveAdminToken(db, configured, log); // another instance generated it first
  // The one time this token is ever shown. It is deliberately a plain message, not a field,
  // so the log redaction of fields named "token" does not hide it.
  log.warn(`generated admin token (shown only now, keep it): ${token}`);
  log.warn("to choose your own instead, set ADMIN_TOKEN in the environment (e.g. /etc/vxman/vxman.env) and restart");
  return digest(token);
}
