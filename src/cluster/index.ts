// Several vxman instances on one PostgreSQL: the instances table (instances.ts), the leases that
// divide the machines among them (leases.ts) and the bridge that makes every instance's changes
// every instance's (bridge.ts), started and stopped together; and GET /api/instances. The
// embedded PGlite is one process by construction (its folder is locked): there the same leases
// simply all go to the one instance, and no bridge is needed.
import { Elysia } from "elysia";
import type { ChangeFeed } from "../changes.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { accessControl } from "../people/access.ts";
import { ChangeBridge, type BridgeViews } from "./bridge.ts";
import type { InstanceIdentity } from "./identity.ts";
import { InstanceRegistry, type InstanceRow } from "./instances.ts";
import { LeaseKeeper, type ShardWorker } from "./leases.ts";
import { InstanceList, type Instance } from "./model.ts";

export { newInstanceIdentity, applicationName, type InstanceIdentity } from "./identity.ts";

export interface ClusterDeps {
  db: Database;
  feed: ChangeFeed;
  log: Logger;
  identity: InstanceIdentity;
  leasePeriodMs: number;
  /** The monitor: checks the machines of the shards this instance holds. */
  worker: ShardWorker;
  /** Whether this instance can ping (an ICMP socket). */
  monitoring: boolean;
  /** The id of the key that seals secrets here. */
  keyId: string;
}


export interface InstanceInfo {
  id: string;
  leases_held: number;
  machines_watched: number;
  live_instances: number;
}

export class Cluster {
  private constructor(
    readonly registry: InstanceRegistry,
    readonly leases: LeaseKeeper,
    private readonly bridge: ChangeBridge | null,
    private readonly worker: ShardWorker,
  ) {}

  /** Register, reclaim what crashed here, start relaying changes (PostgreSQL), take a share. */
  static async start(deps: ClusterDeps): Promise<Cluster> {
    const { db, log, identity } = deps;
    const registry = new InstanceRegistry(db, identity, deps.leasePeriodMs, deps.monitoring, deps.keyId, log);
    await registry.register();
    await registry.checkSameKey();
    if (db.kind === "pglite") await db.query("UPDATE leases SET holder = NULL, expires_at = '-infinity' WHERE holder IS DISTINCT FROM $1", [identity.id]); // the folder lock: no one else is alive
    else await registry.reclaimCrashedPeers();
    const leases = new LeaseKeeper(db, registry, deps.worker, log, db.kind === "pglite");
    const othersLive = () => leases.stats.liveInstances > 1;
    const bridge = db.kind === "postgres" ? await ChangeBridge.start({ db, feed: deps.feed, log, me: await connectionName(db), othersLive }) : null;
    return new Cluster(registry, leases, bridge, deps.worker);
  }

  /** The app is built: changes from other instances can be read and shown from now on. */
  attach(views: BridgeViews): void {
    this.bridge?.attach(views);
  }

  /** Take this instance's share of the machines (the first round is awaited). */
  startLeases(): Promise<void> {
    return this.leases.start();
  }

  /** Every instance on the database, this one's row current. */
  async list(): Promise<InstanceRow[]> {
    if (this.leases.alone) await this.leases.refresh();
    return this.registry.list();
  }

  /** Tell the other instances that someone's access changed. */
  accessChanged(): void {
    this.bridge?.accessChanged();
  }

  get info(): InstanceInfo {
    const { held, liveInstances } = this.leases.stats;
    return { id: this.registry.id, leases_held: held, machines_watched: this.worker.watching, live_instances: liveInstances };
  }

  /** Hand the machines over, stop relaying, leave the live list. */
  async stop(): Promise<void> {
    await this.leases.stop();
    await this.bridge?.stop();
    await this.registry.markStopped().catch(() => {}); // the database may be gone: then the heartbeat lapses
  }
}

/** The application_name the events trigger will see for this instance's writes (normally
 *  applicationName(identity), but a database opened elsewhere may have another). */
async function connectionName(db: Database): Promise<string> {
  const [row] = await db.query<{ name: string }>("SELECT current_setting('application_name') AS name");
  return row!.name;
}

export function clusterApi(access: ReturnType<typeof accessControl>, cluster: Cluster) {
  return new Elysia({ name: "cluster-api", detail: { tags: ["operations"] } })
    .use(access)
    .get("/api/instances", async () => ({ items: (await cluster.list()).map((row) => toInstance(row, cluster.registry.id)) }), {
      response: InstanceList,
      detail: { summary: "The vxman instances on this database: live, dead (no heartbeat for LEASE_PERIOD) and stopped in the last day" },
    });
}

function toInstance(row: InstanceRow, me: string): Instance {
  return {
    id: row.id, host: row.host, pid: row.pid, version: row.version, url: row.url, state: row.state, monitoring: row.monitoring,
    started_at: row.started_at.toISOString(), heartbeat_at: row.heartbeat_at.toISOString(), stopped_at: row.stopped_at?.toISOString() ?? null,
    leases_held: row.leases_held, machines_watched: row.machines_watched, this_instance: row.id === me,
  };
}
