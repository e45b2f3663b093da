// Dashboard sessions: an opaque random id in an HttpOnly cookie, stored as a digest, valid
// until it has been idle for SESSION_IDLE_TIMEOUT or lived for SESSION_LIFETIME, whichever
// comes first. Stored in the database, so every instance sharing it accepts the cookie and a
// revocation holds everywhere at once.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import type { Session } from "./model.ts";
import type { Role } from "./roles.ts";
import { digestOf, newSecret } from "./secrets.ts";

export interface SessionUser {
  id: number;
  username: string;
  role: Role;
}

interface SessionRow {
  id: number;
  user_id: number;
  username: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  address: string | null;
  user_agent: string | null;
}

/** last_used_at is written at most this often per session (the idle timeout is hours). */
const TOUCH_EVERY_MS = 60_000;

export class SessionService {
  constructor(
    private readonly db: Database,
    private readonly limits: { idleMs: number; lifetimeMs: number },
  ) {}

  /** A new session for a user who just proved who they are. The secret goes in the cookie. */
  async create(userId: number, client: { address: string | null; userAgent: string | null }): Promise<{ secret: string; id: number; expiresAt: Date }> {
    // Ended sessions are refused either way; they are cleared out here, at logins, rather than
    // by a timer that would wake an idle server.
    await this.prune();
    const secret = newSecret();
    const [row] = await this.db.query<{ id: number; expires_at: Date }>(
      `INSERT INTO sessions (secret_hash, user_id, expires_at, address, user_agent)
       VALUES ($1, $2, now() + $3 * interval '1 millisecond', $4, $5) RETURNING id, expires_at`,
      [digestOf(secret), userId, this.limits.lifetimeMs, client.address, client.userAgent?.slice(0, 300) ?? null],
    );
    return { secret, id: row!.id, expiresAt: row!.expires_at };
  }

  /** The live session a cookie names, or null (unknown, expired, idle too long, user disabled). */
  async resolve(secret: string): Promise<{ id: number; user: SessionUser } | null> {
    const [row] = await this.db.query<{ id: number; user_id: number; username: string; role: Role; stale: boolean }>(
      `SELECT s.id, s.user_id, u.username, u.role, s.last_used_at < now() - $3 * interval '1 millisecond' AS stale
       FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.secret_hash = $1 AND s.expires_at > now() AND NOT u.disabled
         AND s.last_used_at > now() - $2 * interval '1 millisecond'`,
      [digestOf(secret), this.limits.idleMs, TOUCH_EVERY_MS],
    );
    if (!row) return null;
    if (row.stale) await this.db.query("UPDATE sessions SET last_used_at = now() WHERE id = $1", [row.id]);
    return { id: row.id, user: { id: row.user_id, username: row.username, role: row.role } };
  }

  /** Sessions still valid, newest first: one user's, or everyone's. */
  async list(userId: number | null, currentId: number | null): Promise<Session[]> {
    const rows = await this.db.query<SessionRow>(
      `SELECT s.id, s.user_id, u.username, s.created_at, s.last_used_at, s.expires_at, s.address, s.user_agent
       FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE ($1::int IS NULL OR s.user_id = $1) AND s.expires_at > now()
         AND s.last_used_at > now() - $2 * interval '1 millisecond'
       ORDER BY s.id DESC`,
      [userId, this.limits.idleMs],
    );
    return rows.map((r) => ({
      id: r.id,
      user_id: r.user_id,
      username: r.username,
      created_at: r.created_at.toISOString(),
      last_used_at: r.last_used_at.toISOString(),
      expires_at: r.expires_at.toISOString(),
      address: r.address,
      user_agent: r.user_agent,
      current: r.id === currentId,
    }));
  }

  /** Ends one session; `ownerId` limits it to that user's (null: any, for admins). */
  async revoke(id: number, ownerId: number | null, actor: Actor): Promise<{ user_id: number; username: string } | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ user_id: number; username: string }>(
        `DELETE FROM sessions s USING users u WHERE s.id = $1 AND u.id = s.user_id AND ($2::int IS NULL OR s.user_id = $2)
         RETURNING s.user_id, u.username`,
        [id, ownerId],
      );
      if (row) await recordEvent(tx, { kind: "sessions_revoked", actor, details: { session_id: id, user_id: row.user_id, username: row.username } });
      return row ?? null;
    });
  }

  /** Logging out: the session a cookie names ends (nothing when it is already gone). */
  async end(secret: string): Promise<void> {
    await this.db.query("DELETE FROM sessions WHERE secret_hash = $1", [digestOf(secret)]);
  }

  /** Expired and idle sessions are deleted now and then (they are refused either way). */
  async prune(): Promise<number> {
    const rows = await this.db.query(
      "DELETE FROM sessions WHERE expires_at < now() OR last_used_at < now() - $1 * interval '1 millisecond' RETURNING 1",
      [this.limits.idleMs],
    );
    return rows.length;
  }
}
