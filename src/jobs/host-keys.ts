// Host keys, trusted on first use, per machine: the key a machine presents the first time vxman
// logs in is recorded; a different one later is refused by runScript, kept here as the offered
// key (with a host_key_changed event, once per new key) and shown until an admin accepts it.
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import { ApiError } from "../http/errors.ts";
import type { MachineSsh } from "./model.ts";
import type { HostKey } from "./ssh.ts";

interface Machine {
  id: number;
  ip_address: string;
  hostname: string;
}

interface KeyRow {
  machine_id: number;
  host_key: HostKey | null;
  host_key_recorded_at: Date | null;
  offered_host_key: HostKey | null;
  offered_at: Date | null;
}

export type HostKeyView = Pick<MachineSsh, "host_key" | "offered_host_key">;

function viewOf(r: KeyRow | undefined): HostKeyView {
  return {
    host_key: r?.host_key ? { algorithm: r.host_key.algorithm, fingerprint: r.host_key.fingerprint, recorded_at: r.host_key_recorded_at!.toISOString() } : null,
    offered_host_key: r?.offered_host_key
      ? { algorithm: r.offered_host_key.algorithm, fingerprint: r.offered_host_key.fingerprint, seen_at: r.offered_at!.toISOString() }
      : null,
  };
}

const KEY_COLUMNS = "machine_id, host_key, host_key_recorded_at, offered_host_key, offered_at";

export class HostKeys {
  constructor(private readonly db: Database) {}

  /** The trusted key of each machine that has one. */
  async known(machineIds: readonly number[]): Promise<Map<number, HostKey>> {
    const rows = await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM machine_ssh WHERE machine_id = ANY($1::int[]) AND host_key IS NOT NULL`, [machineIds]);
    return new Map(rows.map((r) => [r.machine_id, r.host_key!]));
  }

  async view(machineId: number): Promise<HostKeyView> {
    const [row] = await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM machine_ssh WHERE machine_id = $1`, [machineId]);
    return viewOf(row);
  }

  /** Every machine with a recorded or offered key; `changedOnly`: those waiting for an admin. */
  async list(changedOnly: boolean): Promise<(HostKeyView & { machine_id: number; hostname: string; ip_address: string })[]> {
    const rows = await this.db.query<KeyRow & { hostname: string; ip_address: string }>(
      `SELECT s.machine_id, s.host_key, s.host_key_recorded_at, s.offered_host_key, s.offered_at, m.hostname, host(m.ip_address) AS ip_address
       FROM machine_ssh s JOIN machines m ON m.id = s.machine_id
       WHERE (s.host_key IS NOT NULL OR s.offered_host_key IS NOT NULL) AND (NOT $1 OR s.offered_host_key IS NOT NULL)
       ORDER BY s.machine_id`,
      [changedOnly],
    );
    return rows.map((r) => ({ machine_id: r.machine_id, hostname: r.hostname, ip_address: r.ip_address, ...viewOf(r) }));
  }

  /**
   * A login went through with no key known: that key is trusted from now on. If another run
   * recorded a different key in the meantime, the one seen here is treated as a change.
   */
  async recordFirstUse(machine: Machine, seen: HostKey): Promise<void> {
    const [row] = await this.db.query<{ host_key: HostKey }>(
      `INSERT INTO machine_ssh (machine_id, host_key, host_key_recorded_at) VALUES ($1, $2::text::jsonb, now())
       ON CONFLICT (machine_id) DO UPDATE SET host_key = coalesce(machine_ssh.host_key, excluded.host_key),
         host_key_recorded_at = coalesce(machine_ssh.host_key_recorded_at, excluded.host_key_recorded_at)
       RETURNING host_key`,
      [machine.id, JSON.stringify(seen)],
    );
    if (row && row.host_key.key !== seen.key) await this.recordChanged(machine, row.host_key, seen);
  }

  /** The machine presented another key than the trusted one: kept for an admin, told once per key. */
  async recordChanged(machine: Machine, known: HostKey, seen: HostKey): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM machine_ssh WHERE machine_id = $1 FOR UPDATE`, [machine.id]);
      if (row?.offered_host_key?.key === seen.key) return; // already told about this key
      await tx.query("UPDATE machine_ssh SET offered_host_key = $2::text::jsonb, offered_at = now() WHERE machine_id = $1", [machine.id, JSON.stringify(seen)]);
      await recordEvent(tx, {
        kind: "host_key_changed",
        actor: { name: "jobs", address: null },
        machine,
        details: { known: { algorithm: known.algorithm, fingerprint: known.fingerprint }, offered: { algorithm: seen.algorithm, fingerprint: seen.fingerprint } },
      });
    });
  }

  /** An admin checked the new key (by its fingerprint) and trusts it from now on. */
  async accept(machine: Machine, fingerprint: string, actor: Actor): Promise<HostKeyView> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM machine_ssh WHERE machine_id = $1 FOR UPDATE`, [machine.id]);
      const offered = row?.offered_host_key;
      if (!offered) throw new ApiError(409, "no_offered_key", `Machine ${machine.id} has presented no new host key: there is nothing to accept.`);
      if (offered.fingerprint !== fingerprint) {
        throw new ApiError(409, "fingerprint_mismatch", `The new host key of machine ${machine.id} is ${offered.fingerprint}, not ${fingerprint}: check it again.`);
      }
      const [updated] = await tx.query<KeyRow>(
        `UPDATE machine_ssh SET host_key = offered_host_key, host_key_recorded_at = now(), offered_host_key = NULL, offered_at = NULL
         WHERE machine_id = $1 RETURNING ${KEY_COLUMNS}`,
        [machine.id],
      );
      await recordEvent(tx, {
        kind: "host_key_accepted",
        actor,
        machine,
        details: { old: row.host_key ? { algorithm: row.host_key.algorithm, fingerprint: row.host_key.fingerprint } : null, new: { algorithm: offered.algorithm, fingerprint } },
      });
      return viewOf(updated);
    });
  }
}
