// SSH credentials as admins manage them: a private key (checked, its public fingerprint shown)
// or a password, sealed at rest with AES-256-GCM bound to the row ("credential:<id>"), opened
// only to log in. Nothing here ever puts a secret in a response, an event, a log or an error.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { SecretBox } from "../secrets/box.ts";
import type { Credential, NewCredential } from "./model.ts";
import { describePrivateKey, PrivateKeyError, type SshAuth } from "./ssh.ts";

interface CredentialRow {
  id: number;
  name: string;
  kind: "ssh-key" | "password";
  algorithm: string | null;
  fingerprint: string | null;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
}

type Secret = { private_key: string; passphrase?: string } | { password: string };

const COLUMNS = "id, name, kind, algorithm, fingerprint, created_by, created_at, last_used_at";
export const credentialAad = (id: number) => `credential:${id}`;

const invalid = (field: string, message: string) => new ApiError(422, "invalid_request", `Invalid ${field}: ${message}.`, [{ field, message }]);

function toCredential(r: CredentialRow): Credential {
  return { ...r, created_at: r.created_at.toISOString(), last_used_at: r.last_used_at?.toISOString() ?? null };
}

/** The secret a request carries, checked: the fields its kind needs and no other, a key that opens. */
function secretOf(body: NewCredential): { secret: Secret; algorithm: string | null; fingerprint: string | null } {
  if (body.kind === "password") {
    if (body.private_key !== undefined) throw invalid("private_key", 'is for kind "ssh-key"; a password credential takes password');
    if (body.passphrase !== undefined) throw invalid("passphrase", 'is for kind "ssh-key"');
    if (body.password === undefined) throw invalid("password", "is required for a password credential");
    return { secret: { password: body.password }, algorithm: null, fingerprint: null };
  }
  if (body.password !== undefined) throw invalid("password", 'is for kind "password"; an ssh-key credential takes private_key');
  if (body.private_key === undefined) throw invalid("private_key", "is required for an ssh-key credential");
  try {
    const { algorithm, fingerprint } = describePrivateKey(body.private_key, body.passphrase);
    const secret = body.passphrase ? { private_key: body.private_key, passphrase: body.passphrase } : { private_key: body.private_key };
    return { secret, algorithm, fingerprint };
  } catch (err) {
    if (!(err instanceof PrivateKeyError)) throw err;
    // The parser's words name what is wrong, never the key or passphrase (ssh-keys.ts).
    throw invalid(/passphrase/.test(err.message) ? "passphrase" : "private_key", err.message);
  }
}

export class CredentialStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
  ) {}

  async list(): Promise<Credential[]> {
    return (await this.db.query<CredentialRow>(`SELECT ${COLUMNS} FROM credentials ORDER BY lower(name)`)).map(toCredential);
  }

  async create(body: NewCredential, actor: Actor): Promise<Credential> {
    const { secret, algorithm, fingerprint } = secretOf(body);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<CredentialRow>(
        `INSERT INTO credentials (name, kind, algorithm, fingerprint, created_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
        [body.name, body.kind, algorithm, fingerprint, actor.name],
      );
      if (!row) throw new ApiError(409, "conflict", `A credential named "${body.name}" exists already.`);
      await tx.query("UPDATE credentials SET sealed = $2 WHERE id = $1", [row.id, await this.box.seal(JSON.stringify(secret), credentialAad(row.id))]);
      await recordEvent(tx, { kind: "credential_created", actor, details: { credential_id: row.id, name: row.name, kind: row.kind, fingerprint } });
      return toCredential(row);
    });
  }

  /** Refused (409) while a machine or a label default uses it: runs would fail without saying why. */
  async remove(id: number, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const users = await tx.query<{ what: string }>(
        `SELECT 'machine ' || machine_id AS what FROM machine_ssh WHERE credential_id = $1
         UNION ALL SELECT 'ssh default ' || id FROM ssh_defaults WHERE credential_id = $1 LIMIT 5`,
        [id],
      );
      if (users.length) throw new ApiError(409, "in_use", `Credential ${id} is in use (${users.map((u) => u.what).join(", ")}): point those elsewhere first.`);
      const [row] = await tx.query<{ name: string }>("DELETE FROM credentials WHERE id = $1 RETURNING name", [id]).catch((err) => {
        // Put to use by a request that committed meanwhile (the foreign keys hold it).
        if ((err as { code?: string }).code === "23503") throw new ApiError(409, "in_use", `Credential ${id} was just put to use: try again.`);
        throw err;
      });
      if (!row) throw notFound(`Credential ${id}`);
      await recordEvent(tx, { kind: "credential_deleted", actor, details: { credential_id: id, name: row.name } });
    });
  }

  async exists(id: number, q: Queryable = this.db): Promise<boolean> {
    return (await q.query("SELECT 1 FROM credentials WHERE id = $1", [id])).length > 0;
  }

  /** The secret, opened, to log in with; null when the credential is gone. Marks it used. */
  async openForLogin(id: number): Promise<SshAuth | null> {
    const [row] = await this.db.query<{ kind: string; sealed: string | null }>(
      "UPDATE credentials SET last_used_at = now() WHERE id = $1 RETURNING kind, sealed",
      [id],
    );
    if (!row?.sealed) return null;
    const secret = JSON.parse(await this.box.open(row.sealed, credentialAad(id))) as Secret;
    return "password" in secret ? { kind: "password", password: secret.password } : { kind: "ssh-key", privateKey: secret.private_key, passphrase: secret.passphrase };
  }
}
