// Personal API tokens, for scripts: `Authorization: Bearer vxm_…`. Shown once when created,
// stored as a digest; each has a role of its own, at most its owner's, and never opens more than
// the owner may do now (a demoted or disabled owner takes the token down with them).
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { ApiToken, NewApiToken } from "./model.ts";
import { atLeast, lowerOf, type Role } from "./roles.ts";
import { digestOf, newSecret } from "./secrets.ts";
import type { SessionUser } from "./sessions.ts";

export const TOKEN_PREFIX = "vxm_";
/** How much of a token is kept in the clear to tell tokens apart in a list. */
const SHOWN = TOKEN_PREFIX.length + 6;
const TOUCH_EVERY_MS = 60_000;

interface TokenRow {
  id: number;
  user_id: number;
  username: string;
  name: string;
  role: Role;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = "t.id, t.user_id, u.username, t.name, t.role, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

function toToken(r: TokenRow): ApiToken {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return { ...r, created_at: r.created_at.toISOString(), expires_at: iso(r.expires_at), last_used_at: iso(r.last_used_at), revoked_at: iso(r.revoked_at) };
}

export class TokenService {
  constructor(private readonly db: Database) {}

  async create(owner: SessionUser, body: NewApiToken, actor: Actor): Promise<ApiToken & { token: string }> {
    const role = body.role ?? owner.role;
    if (!atLeast(owner.role, role)) {
      throw new ApiError(403, "forbidden", `A token cannot open more than its owner: you are ${owner.role}, so ${role} is not yours to give.`);
    }
    const token = newSecret(TOKEN_PREFIX);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<TokenRow>(
        `WITH t AS (
           INSERT INTO api_tokens (secret_hash, user_id, name, role, prefix, expires_at)
           VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::int IS NULL THEN NULL ELSE now() + $6 * interval '1 day' END)
           RETURNING *
         ) SELECT ${COLUMNS} FROM t JOIN users u ON u.id = t.user_id`,
        [digestOf(token), owner.id, body.name, role, token.slice(0, SHOWN), body.expires_in_days ?? null],
      );
      await recordEvent(tx, { kind: "token_created", actor, details: { token_id: row!.id, name: body.name, role, owner: owner.username, expires_at: row!.expires_at?.toISOString() ?? null } });
      return { ...toToken(row!), token };
    });
  }

  /** The owner and effective role of a live token, or null (unknown, revoked, expired, owner disabled). */
  async resolve(token: string): Promise<{ id: number; name: string; role: Role; user: SessionUser } | null> {
    const [row] = await this.db.query<{ id: number; name: string; role: Role; user_id: number; username: string; user_role: Role; stale: boolean }>(
      `SELECT t.id, t.name, t.role, t.user_id, u.username, u.role AS user_role,
              t.last_used_at IS NULL OR t.last_used_at < now() - $2 * interval '1 millisecond' AS stale
       FROM api_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled`,
      [digestOf(token), TOUCH_EVERY_MS],
    );
    if (!row) return null;
    if (row.stale) await this.db.query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", [row.id]);
    return { id: row.id, name: row.name, role: lowerOf(row.role, row.user_role), user: { id: row.user_id, username: row.username, role: row.user_role } };
  }

  /** Tokens, newest first: one user's, or everyone's (null). Revoked ones stay listed, marked. */
  async list(userId: number | null): Promise<ApiToken[]> {
    const rows = await this.db.query<TokenRow>(
      `SELECT ${COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1::int IS NULL OR t.user_id = $1) ORDER BY t.id DESC`,
      [userId],
    );
    return rows.map(toToken);
  }

  /** Revokes a token; `ownerId` limits it to that user's (null: any, for admins). */
  async revoke(id: number, ownerId: number | null, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ name: string; username: string }>(
        `UPDATE api_tokens t SET revoked_at = coalesce(t.revoked_at, now()) FROM users u
         WHERE t.id = $1 AND u.id = t.user_id AND ($2::int IS NULL OR t.user_id = $2) RETURNING t.name, u.username`,
        [id, ownerId],
      );
      if (!row) throw notFound(`Token ${id}`);
      await recordEvent(tx, { kind: "token_revoked", actor, details: { token_id: id, name: row.name, owner: row.username } });
    });
  }
}
