// The instances table: every running vxman says it is alive every third of LEASE_PERIOD; one
// that has not said so for a whole LEASE_PERIOD is dead, and its leases lapse with it.
import type { Database, Queryable } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { InstanceIdentity } from "./identity.ts";

export type InstanceState = "live" | "dead" | "stopped";

export interface InstanceRow {
  id: string;
  host: string;
  pid: number;
  version: string;
  url: string | null;
  started_at: Date;
  heartbeat_at: Date;
  stopped_at: Date | null;
  leases_held: number;
  machines_watched: number;
  monitoring: boolean;
  state: InstanceState;
}

/** SQL for "this instance row is live": a recent heartbeat by its own lease period, not stopped. */
export const LIVE = "stopped_at IS NULL AND heartbeat_at > now() - lease_period_ms * interval '1 millisecond'";
/** Rows of instances gone longer than this are deleted (the list shows the recently gone). */
const FORGET_AFTER = "1 day";

export class InstanceRegistry {
  constructor(
    private readonly db: Database,
    readonly identity: InstanceIdentity,
    readonly leasePeriodMs: number,
    /** Whether this instance can ping (an ICMP socket): only those share the machines. */
    readonly monitoring: boolean,
    /** The id of its sealing key (secrets/box.ts): every instance must have the same. */
    readonly keyId: string,
    private readonly log: Logger,
  ) {}

  get id(): string {
    return this.identity.id;
  }

  /** Say this instance is running (again, after its row was forgotten). */
  async register(q: Queryable = this.db, url: string | null = null): Promise<void> {
    const i = this.identity;
    await q.query(
      `INSERT INTO instances (id, host, pid, boot_id, pid_namespace, version, url, lease_period_ms, monitoring, key_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL, url = coalesce(excluded.url, instances.url)`,
      [i.id, i.host, i.pid, i.bootId, i.pidNamespace, i.version, url, this.leasePeriodMs, this.monitoring, this.keyId],
    );
  }

  async setUrl(url: string): Promise<void> {
    await this.db.query("UPDATE instances SET url = $2 WHERE id = $1", [this.id, url]);
  }

  /**
   * Instances that crashed on this very host (same kernel, same pid namespace, pid gone): their
   * leases are freed now rather than after they lapse, so a vxman restarted after kill -9
   * resumes at once. Returns the ids reclaimed.
   */
  async reclaimCrashedPeers(): Promise<string[]> {
    const { bootId, pidNamespace } = this.identity;
    if (!bootId || !pidNamespace) return [];
    const peers = await this.db.query<{ id: string; pid: number }>(
      "SELECT id, pid FROM instances WHERE stopped_at IS NULL AND id <> $1 AND boot_id = $2 AND pid_namespace = $3",
      [this.id, bootId, pidNamespace],
    );
    const crashed = peers.filter((p) => !processAlive(p.pid));
    if (crashed.length === 0) return [];
    const ids = crashed.map((p) => p.id);
    await this.db.transaction(async (tx) => {
      await tx.query("UPDATE leases SET holder = NULL, expires_at = '-infinity' WHERE holder = ANY($1::text[])", [ids]);
      await tx.query("UPDATE instances SET stopped_at = now() WHERE id = ANY($1::text[])", [ids]);
    });
    this.log.info({ instances: ids }, "reclaimed the leases of vxman instances that died on this host");
    return ids;
  }

  /**
   * Secrets sealed by one instance must open on every other: a live instance with another key,
   * or a channel sealed under another key, is said loudly at start (the rest works meanwhile).
   * Returns the other key ids found.
   */
  async checkSameKey(): Promise<string[]> {
    const rows = await this.db.query<{ key_id: string; instances: string[] }>(
      `SELECT key_id, array_agg(id) AS instances FROM instances WHERE ${LIVE} AND key_id <> $1 AND key_id <> '' GROUP BY key_id`,
      [this.keyId],
    );
    const sealed = await this.db.query<{ key_id: string }>(
      "SELECT DISTINCT split_part(secrets, '.', 2) AS key_id FROM channels WHERE secrets IS NOT NULL AND split_part(secrets, '.', 2) <> $1",
      [this.keyId],
    );
    const others = [...new Set([...rows.map((r) => r.key_id), ...sealed.map((r) => r.key_id)])];
    if (others.length) {
      this.log.error(
        { key_id: this.keyId, other_key_ids: others, instances_with_another_key: rows.flatMap((r) => r.instances) },
        "secrets in this database were sealed with another key than this instance's: give every instance the same SECRET_KEY (see docs/cluster.md); until then channels sealed with another key cannot send from here",
      );
    }
    return others;
  }

  /** A graceful stop: gone from the live list at once (its leases are released by the keeper). */
  async markStopped(): Promise<void> {
    await this.db.query("UPDATE instances SET stopped_at = now(), leases_held = 0, machines_watched = 0 WHERE id = $1", [this.id]);
  }

  /** Every instance seen within the last day, live ones first. */
  async list(): Promise<InstanceRow[]> {
    await this.db.query(`DELETE FROM instances WHERE NOT (${LIVE}) AND heartbeat_at < now() - interval '${FORGET_AFTER}'`);
    return this.db.query<InstanceRow>(
      `SELECT id, host, pid, version, url, started_at, heartbeat_at, stopped_at, leases_held, machines_watched, monitoring,
              CASE WHEN ${LIVE} THEN 'live' WHEN stopped_at IS NOT NULL THEN 'stopped' ELSE 'dead' END AS state
       FROM instances ORDER BY (${LIVE}) DESC, started_at`,
    );
  }
}

/** The ids of the instances alive now (for work that must not be taken from a live instance). */
export async function liveInstanceIds(q: Queryable): Promise<string[]> {
  const rows = await q.query<{ id: string }>(`SELECT id FROM instances WHERE ${LIVE}`);
  return rows.map((r) => r.id);
}

/** Whether a pid on this host is alive (EPERM: alive, someone else's). A reused pid reads as
 *  alive: then the crashed instance's leases simply lapse, the safe way round. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
