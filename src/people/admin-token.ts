// ADMIN_TOKEN: the break-glass admin bearer token for the API and scripts, always there even
// before any user exists. Set in the environment, or generated on the first start, printed
// once, and kept only as its SHA-256 digest: a copy of the database does not leak it.
import { randomBytes } from "node:crypto";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { digestOf } from "./secrets.ts";

const ADMIN_TOKEN_KEY = "admin_token_sha256";

/** The admin token's digest: ADMIN_TOKEN when set, else the generated one (made now if none). */
export async function resolveAdminToken(db: Database, configured: string | undefined, log: Logger): Promise<Buffer> {
  if (configured) return digestOf(configured);
  const [stored] = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [ADMIN_TOKEN_KEY]);
  if (stored) {
    log.info("admin token: using the one generated on first start (set ADMIN_TOKEN to choose your own)");
    return Buffer.from(stored.value, "hex");
  }
  const token = randomBytes(32).toString("base64url");
  const [inserted] = await db.query<{ value: string }>(
    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value",
    [ADMIN_TOKEN_KEY, digestOf(token).toString("hex")],
  );
  if (!inserted) return resolveAdminToken(db, configured, log); // another instance generated it first
  // The one time this token is ever shown. It is deliberately a plain message, not a field,
  // so the log redaction of fields named "token" does not hide it.
  log.warn(`generated admin token (shown only now, keep it): ${token}`);
  log.warn("to choose your own instead, set ADMIN_TOKEN in the environment (e.g. /etc/vxman/vxman.env) and restart");
  return digestOf(token);
}

/** A new random admin token, stored (as its digest) in place of the old one; returned once. */
export async function resetAdminToken(db: Database): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await db.query(
    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ADMIN_TOKEN_KEY, digestOf(token).toString("hex")],
  );
  return token;
}
