// How vxman logs in to a machine: user, port and credential, from the machine's own settings or
// from label defaults ("every role=db machine: user ops, credential 3").
//
// Per setting (each resolved on its own, as Ansible's host vars override its group vars): the
// machine's own value; else the most specific default that sets it (the most labels, all carried
// by the machine); between equally specific ones, the oldest (lowest id). A default with no
// labels applies to every machine, so it is the fleet-wide fallback. Port 22 if nothing sets it.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { normalizeLabels } from "../outages/groups.ts";
import type { CredentialStore } from "./credentials.ts";
import type { MachineSshPatch, NewSshDefault, SshDefault } from "./model.ts";

export interface OwnSettings {
  user: string | null;
  port: number | null;
  credential_id: number | null;
}

export interface DefaultRule extends OwnSettings {
  id: number;
  labels: string[];
}

export interface EffectiveSettings {
  user: string | null;
  port: number;
  credential_id: number | null;
  from: { user: string | null; port: string | null; credential_id: string | null };
}

const NONE: OwnSettings = { user: null, port: null, credential_id: null };
const DEFAULT_PORT = 22;

/** The settings a machine with these labels and own settings uses (see the rule above). Pure. */
export function effectiveSettings(labels: readonly string[], own: OwnSettings, rules: readonly DefaultRule[]): EffectiveSettings {
  const applying = rules.filter((r) => r.labels.every((l) => labels.includes(l))).sort((a, b) => b.labels.length - a.labels.length || a.id - b.id);
  const pick = <K extends keyof OwnSettings>(key: K): [OwnSettings[K], string | null] => {
    if (own[key] !== null) return [own[key], "machine"];
    const rule = applying.find((r) => r[key] !== null);
    return rule ? [rule[key], `default ${rule.id}`] : [null, null];
  };
  const [user, userFrom] = pick("user");
  const [port, portFrom] = pick("port");
  const [credential_id, credentialFrom] = pick("credential_id");
  return {
    user,
    port: port ?? DEFAULT_PORT,
    credential_id,
    from: { user: userFrom, port: portFrom ?? "built-in", credential_id: credentialFrom },
  };
}

interface DefaultRow {
  id: number;
  labels: string[];
  username: string | null;
  port: number | null;
  credential_id: number | null;
  created_by: string;
  created_at: Date;
}

const toDefault = (r: DefaultRow): SshDefault => ({
  id: r.id,
  labels: r.labels,
  user: r.username,
  port: r.port,
  credential_id: r.credential_id,
  created_by: r.created_by,
  created_at: r.created_at.toISOString(),
});

const unknownCredential = (field: string, id: number) =>
  new ApiError(422, "invalid_request", `Invalid ${field}: there is no credential ${id}.`, [{ field, message: `there is no credential ${id}` }]);

export class SshSettings {
  constructor(
    private readonly db: Database,
    private readonly credentials: CredentialStore,
  ) {}

  async defaults(q: Queryable = this.db): Promise<SshDefault[]> {
    const rows = await q.query<DefaultRow>("SELECT id, labels, username, port, credential_id, created_by, created_at FROM ssh_defaults ORDER BY id");
    return rows.map(toDefault);
  }

  async rules(q: Queryable = this.db): Promise<DefaultRule[]> {
    return (await this.defaults(q)).map(({ id, labels, user, port, credential_id }) => ({ id, labels, user, port, credential_id }));
  }

  async addDefault(body: NewSshDefault, actor: Actor): Promise<SshDefault> {
    if (body.user === undefined && body.port === undefined && body.credential_id === undefined) {
      throw new ApiError(422, "invalid_request", "Invalid request body: a default sets at least one of user, port, credential_id.", [
        { field: "user", message: "set at least one of user, port, credential_id" },
      ]);
    }
    return this.db.transaction(async (tx) => {
      if (body.credential_id !== undefined && !(await this.credentials.exists(body.credential_id, tx))) throw unknownCredential("credential_id", body.credential_id);
      const [row] = await tx.query<DefaultRow>(
        `INSERT INTO ssh_defaults (labels, username, port, credential_id, created_by) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, labels, username, port, credential_id, created_by, created_at`,
        [normalizeLabels(body.labels), body.user ?? null, body.port ?? null, body.credential_id ?? null, actor.name],
      );
      const created = toDefault(row!);
      await recordEvent(tx, { kind: "ssh_defaults_changed", actor, details: { added: created } });
      return created;
    });
  }

  async removeDefault(id: number, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<DefaultRow>("DELETE FROM ssh_defaults WHERE id = $1 RETURNING id, labels, username, port, credential_id, created_by, created_at", [id]);
      if (!row) throw notFound(`SSH default ${id}`);
      await recordEvent(tx, { kind: "ssh_defaults_changed", actor, details: { removed: toDefault(row) } });
    });
  }

  /** The machine's own settings; the label defaults apply to what is not set. */
  async own(machineId: number, q: Queryable = this.db): Promise<OwnSettings> {
    const [row] = await q.query<{ username: string | null; port: number | null; credential_id: number | null }>(
      "SELECT username, port, credential_id FROM machine_ssh WHERE machine_id = $1",
      [machineId],
    );
    return row ? { user: row.username, port: row.port, credential_id: row.credential_id } : NONE;
  }

  /** The own settings of each of these machines that has any. */
  async ownOf(machineIds: readonly number[]): Promise<Map<number, OwnSettings>> {
    const rows = await this.db.query<{ machine_id: number; username: string | null; port: number | null; credential_id: number | null }>(
      "SELECT machine_id, username, port, credential_id FROM machine_ssh WHERE machine_id = ANY($1::int[])",
      [machineIds],
    );
    return new Map(rows.map((r) => [r.machine_id, { user: r.username, port: r.port, credential_id: r.credential_id }]));
  }

  /** PATCH {"ssh": …}: fields given replace the machine's own (null clears one); null clears all. */
  async setOwn(machine: { id: number; ip_address: string; hostname: string }, patch: MachineSshPatch, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const old = await this.own(machine.id, tx);
      const next: OwnSettings = patch === null ? NONE : {
        user: patch.user === undefined ? old.user : patch.user,
        port: patch.port === undefined ? old.port : patch.port,
        credential_id: patch.credential_id === undefined ? old.credential_id : patch.credential_id,
      };
      if (next.credential_id !== null && next.credential_id !== old.credential_id && !(await this.credentials.exists(next.credential_id, tx))) {
        throw unknownCredential("ssh.credential_id", next.credential_id);
      }
      const changed = (Object.keys(next) as (keyof OwnSettings)[]).filter((k) => next[k] !== old[k]);
      if (!changed.length) return;
      await tx.query(
        `INSERT INTO machine_ssh (machine_id, username, port, credential_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (machine_id) DO UPDATE SET username = $2, port = $3, credential_id = $4`,
        [machine.id, next.user, next.port, next.credential_id],
      );
      const details = Object.fromEntries(changed.map((k) => [k, { old: old[k], new: next[k] }]));
      await recordEvent(tx, { kind: "ssh_settings_changed", actor, machine, details });
    });
  }
}
