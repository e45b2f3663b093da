// Users: create, list, change (role, display name, disabled, password), and check a login.
// Every change is written to the event log with who made it, in the same transaction.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { NewUser, User, UserPatch } from "./model.ts";
import { hashPassword, passwordProblem, verifyPassword } from "./passwords.ts";


const USER_COLUMNS = "id, username, display_name, role, disabled, created_at, updated_at, last_login_at";

interface UserRow extends Omit<User, "created_at" | "updated_at" | "last_login_at"> {
  created_at: Date;
  updated_at: Date;
  last_login_at: Date | null;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    display_name: row.display_name,
    role: row.role,
    disabled: row.disabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    last_login_at: row.last_login_at?.toISOString() ?? null,
  };
}

const invalid = (field: string, message: string) => new ApiError(422, "invalid_request", `Invalid ${field}: ${message}.`, [{ field, message }]);

function checkPassword(password: string, username: string, field = "password") {
  const problem = passwordProblem(password, username);
  if (problem) throw invalid(field, problem);
}

export class UserService {
  constructor(private readonly db: Database) {}

  async count(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
    return row?.n ?? 0;
  }

  async list(): Promise<User[]> {
    return (await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY lower(username)`)).map(toUser);
  }

  async get(id: number): Promise<User | null> {
    const [row] = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return row ? toUser(row) : null;
  }

  async byName(username: string): Promise<User | null> {
    const [row] = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
    return row ? toUser(row) : null;
  }

  async create(body: NewUser, actor: Actor): Promise<User> {
    checkPassword(body.password, body.username);
    const hash = await hashPassword(body.password);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<UserRow>(
        `INSERT INTO users (username, display_name, role, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (lower(username)) DO NOTHING RETURNING ${USER_COLUMNS}`,
        [body.username, body.display_name ?? "", body.role, hash],
      );
      if (!row) throw new ApiError(409, "conflict", `A user named "${body.username}" exists already (user names are not case-sensitive).`);
      await recordEvent(tx, { kind: "user_created", actor, details: { user_id: row.id, username: row.username, role: row.role } });
      return toUser(row);
    });
  }

  /**
   * An admin's change to a user. A new password (a reset) or disabling ends the user's
   * sessions; nobody changes their own role or disables themselves (another admin, or the
   * CLI, can), so an admin cannot lock the last admin out by a slip.
   */
  async update(id: number, patch: UserPatch, actor: Actor, byUserId: number | null): Promise<{ user: User; sessionsEnded: boolean }> {
    if (byUserId === id && (patch.role !== undefined || patch.disabled === true)) {
      throw new ApiError(409, "own_account", "You cannot change your own role or disable yourself; ask another admin (or use `vxman user` on the server).");
    }
    const current = await this.get(id);
    if (!current) throw notFound(`User ${id}`);
    if (patch.password !== undefined) checkPassword(patch.password, current.username);
    const hash = patch.password === undefined ? null : await hashPassword(patch.password);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<UserRow>(
        `UPDATE users SET display_name = coalesce($2, display_name), role = coalesce($3, role), disabled = coalesce($4, disabled),
           password_hash = coalesce($5, password_hash), updated_at = now()
         WHERE id = $1 RETURNING ${USER_COLUMNS}`,
        [id, patch.display_name ?? null, patch.role ?? null, patch.disabled ?? null, hash],
      );
      if (!row) throw notFound(`User ${id}`);
      const changed = changedFields(current, toUser(row), patch.password !== undefined);
      if (Object.keys(changed).length) {
        await recordEvent(tx, { kind: patch.password !== undefined ? "password_changed" : "user_changed", actor, details: { user_id: id, username: row.username, ...changed } });
      }
      const sessionsEnded = patch.password !== undefined || patch.disabled === true;
      if (sessionsEnded) await tx.query("DELETE FROM sessions WHERE user_id = $1", [id]);
      return { user: toUser(row), sessionsEnded };
    });
  }

  /** A user's own change of password: the current one first; their other sessions end. */
  async changeOwnPassword(id: number, current: string, next: string, actor: Actor, keepSessionId: number | null): Promise<void> {
    const [row] = await this.db.query<{ username: string; password_hash: string }>("SELECT username, password_hash FROM users WHERE id = $1", [id]);
    if (!row) throw notFound(`User ${id}`);
    if (!(await verifyPassword(current, row.password_hash))) throw invalid("current_password", "is not your current password");
    checkPassword(next, row.username, "new_password");
    const hash = await hashPassword(next);
    await this.db.transaction(async (tx) => {
      await tx.query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", [id, hash]);
      await tx.query("DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2", [id, keepSessionId]);
      await recordEvent(tx, { kind: "password_changed", actor, details: { user_id: id, username: row.username, other_sessions_ended: true } });
    });
  }

  /**
   * The user a name and password belong to, or null: an unknown name, a wrong password and a
   * disabled user all give null after the same work (no telling which). `reason` is for the log.
   */
  async authenticate(username: string, password: string): Promise<{ user: User | null; reason: "ok" | "unknown_user" | "wrong_password" | "disabled" }> {
    const [row] = await this.db.query<UserRow & { password_hash: string }>(
      `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)`,
      [username],
    );
    const ok = await verifyPassword(password, row?.password_hash ?? null);
    if (!row) return { user: null, reason: "unknown_user" };
    if (!ok) return { user: null, reason: "wrong_password" };
    if (row.disabled) return { user: null, reason: "disabled" };
    await this.db.query("UPDATE users SET last_login_at = now() WHERE id = $1", [row.id]);
    return { user: toUser({ ...row, last_login_at: new Date() }), reason: "ok" };
  }

  /** For the CLI: by name, whatever the case. */
  async idOf(username: string, q: Queryable = this.db): Promise<number | null> {
    const [row] = await q.query<{ id: number }>("SELECT id FROM users WHERE lower(username) = lower($1)", [username]);
    return row?.id ?? null;
  }
}

/** Old and new values of what an update changed (never the password itself). */
function changedFields(before: User, after: User, passwordReset: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["display_name", "role", "disabled"] as const) {
    if (before[key] !== after[key]) out[key] = { old: before[key], new: after[key] };
  }
  if (passwordReset) out.password = "reset by an admin";
  return out;
}

