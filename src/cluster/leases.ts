// Shared monitoring by leases. Machines fall into 256 shards (id mod 256); each live instance
// holds leases on about its share of them (256 ÷ live instances) and checks only their machines.
// Every third of LEASE_PERIOD an instance renews what it holds, in the same statement as its
// heartbeat; then it gives back what it holds past its share (after writing their state, so the
// next holder resumes from it) or takes free and lapsed shards up to its share.
//
// Why it is safe: a lease's expiry is the database's now() + LEASE_PERIOD, taken after the
// renewal was sent; the holder stops checking at its own clock's send time + LEASE_PERIOD, which
// comes first. So when the database says a lease lapsed, its old holder has already stopped, and
// its late writes are refused anyway (the monitor's writes are fenced on the lease, see
// monitor/state-writer.ts). No consensus of our own: PostgreSQL's row locks decide who takes what.
//
// Alone (the embedded database: its folder lock admits one process) there is no one to hand
// shards to or take them from: one round takes them all and holds them until stop, with no timer;
// the heartbeat is written when someone asks who is live (refresh()).
import { isConnectionError, type Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { InstanceRegistry } from "./instances.ts";
import { LIVE } from "./instances.ts";

export const SHARDS = 256;

export const shardOf = (machineId: number): number => machineId % SHARDS;

/** What the keeper moves machines in and out of: the monitor. */
export interface ShardWorker {
  /** Start checking these shards' machines, from the state the database has for them. */
  adopt(shards: number[]): Promise<void>;
  /** Stop checking these shards' machines at once (results in flight are dropped). */
  drop(shards: number[]): void;
  /** Write every pending check result and transition (before leases are handed over). */
  flush(): Promise<void>;
  readonly watching: number;
}

const RENEW = `
WITH beat AS (
  UPDATE instances SET heartbeat_at = now(), leases_held = $2, machines_watched = $3 WHERE id = $1 AND stopped_at IS NULL RETURNING id
), renewed AS (
  UPDATE leases SET expires_at = now() + $4::float8 * interval '1 millisecond'
  WHERE holder = $1 AND expires_at > now() RETURNING shard
)
SELECT (SELECT count(*) FROM beat)::int AS registered,
       (SELECT coalesce(array_agg(shard), '{}') FROM renewed) AS shards,
       (SELECT count(*) FILTER (WHERE monitoring) FROM instances WHERE id = $1 OR ${LIVE})::int AS pinging,
       (SELECT count(*) FROM instances WHERE id = $1 OR ${LIVE})::int AS live`;

// Free shards first in shard order; SKIP LOCKED: two instances taking at once take different ones.
const TAKE = `
UPDATE leases SET holder = $1, expires_at = now() + $2::float8 * interval '1 millisecond', taken_at = now()
WHERE shard IN (
  SELECT shard FROM leases WHERE holder IS NULL OR expires_at <= now() ORDER BY shard LIMIT $3 FOR UPDATE SKIP LOCKED
) RETURNING shard`;

/** Alone, a lease is taken for a century: no one else can take it (the folder lock), and with no
 *  rounds nothing would renew it before the monitor's fenced writes found it lapsed. */
const ALONE_LEASE_MS = 100 * 365.25 * 24 * 3600 * 1000;

const GIVE_BACK = "UPDATE leases SET holder = NULL, expires_at = '-infinity' WHERE holder = $1 AND shard = ANY($2::int[])";

export interface LeaseStats {
  held: number;
  /** Live instances at the last renewal (this one included). */
  liveInstances: number;
}

export class LeaseKeeper {
  readonly #held = new Set<number>();
  #liveInstances = 1;
  /** This instance's own clock: past it, it cannot prove it holds anything. */
  #validUntil = 0;
  #tickTimer: Timer | undefined;
  #expiryTimer: Timer | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;
  #databaseAway = false;

  constructor(
    private readonly db: Database,
    private readonly registry: InstanceRegistry,
    private readonly worker: ShardWorker,
    private readonly log: Logger,
    /** The only instance there can be (the embedded database). */
    readonly alone = false,
  ) {}

  get leasePeriodMs(): number {
    return this.registry.leasePeriodMs;
  }

  get stats(): LeaseStats {
    return { held: this.#held.size, liveInstances: this.#liveInstances };
  }

  holds(machineId: number): boolean {
    return this.#held.has(shardOf(machineId));
  }

  /** The first round at once (so a lone instance checks everything before it serves), then
   *  every third of the lease period (alone: never again). */
  async start(): Promise<void> {
    await this.#round();
    if (this.alone) return;
    this.#tickTimer = setInterval(() => void this.#round(), Math.max(100, Math.floor(this.leasePeriodMs / 3)));
  }

  /** Renew now (the heartbeat and counts are current after it): what an instance alone does
   *  before its instances are listed, instead of rounds all the time. */
  refresh(): Promise<void> {
    return this.#round();
  }

  /** Hand everything over: stop checking, write what is pending, free the leases. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#tickTimer);
    clearTimeout(this.#expiryTimer);
    await this.#running;
    const all = [...this.#held];
    this.#drop(all);
    await this.worker.flush();
    await this.db.query(GIVE_BACK, [this.registry.id, all]).catch((err) => this.log.warn({ err: (err as Error).message }, "could not release leases; they lapse by themselves"));
  }

  /** One round; rounds never overlap (a slow database makes them late, not concurrent). */
  #round(): Promise<void> {
    if (this.#running || this.#stopped) return this.#running ?? Promise.resolve();
    this.#running = this.#renewAndBalance()
      .catch((err) => this.#failed(err))
      .finally(() => (this.#running = null));
    return this.#running;
  }

  /** How long a lease is taken or renewed for. */
  #leaseLengthMs(): number {
    return this.alone ? ALONE_LEASE_MS : this.leasePeriodMs;
  }

  async #renewAndBalance(): Promise<void> {
    const period = this.#leaseLengthMs();
    const sentAt = Date.now();
    const [row] = await this.db.query<{ registered: number; shards: number[]; pinging: number; live: number }>(RENEW, [this.registry.id, this.#held.size, this.worker.watching, period]);
    if (!row!.registered) await this.registry.register(); // forgotten, or marked dead while away
    this.#validUntil = this.alone ? Infinity : sentAt + period;
    this.#armExpiry();
    if (this.#databaseAway) this.log.info({ held: row!.shards.length }, "database back: leases renewed");
    this.#databaseAway = false;
    this.#liveInstances = Math.max(1, row!.live);
    await this.#reconcile(new Set(row!.shards));
    await this.#balance(this.#share(row!.pinging, row!.live));
  }

  /** Instances that can ping share the machines; one that cannot (no CAP_NET_RAW) takes none
   *  while any that can is live, else they share them (to follow heartbeats at least). */
  #share(pinging: number, live: number): number {
    if (this.registry.monitoring) return Math.ceil(SHARDS / Math.max(1, pinging));
    return pinging > 0 ? 0 : Math.ceil(SHARDS / Math.max(1, live));
  }

  /** The database's word on what is held wins: shards it no longer gives us are dropped. */
  async #reconcile(renewed: Set<number>) {
    const lost = [...this.#held].filter((s) => !renewed.has(s));
    if (lost.length) {
      this.log.warn({ shards: lost.length }, "leases lost (lapsed while away, or taken over): no longer checking their machines");
      this.#drop(lost);
    }
    const kept = [...renewed].filter((s) => !this.#held.has(s));
    if (kept.length) await this.#adopt(kept);
  }

  async #balance(share: number) {
    if (this.#stopped) return;
    const held = this.#held.size;
    if (held > share) {
      const extra = [...this.#held].sort((a, b) => b - a).slice(0, held - share);
      this.#drop(extra);
      await this.worker.flush(); // the next holder resumes from what is written now
      await this.db.query(GIVE_BACK, [this.registry.id, extra]);
      this.log.info({ shards: extra.length, share, live_instances: this.#liveInstances }, "gave back leases to balance the work");
    } else if (held < share) {
      const taken = await this.db.query<{ shard: number }>(TAKE, [this.registry.id, this.#leaseLengthMs(), share - held]);
      if (taken.length) {
        await this.#adopt(taken.map((t) => t.shard));
        this.log.info({ shards: taken.length, held: this.#held.size, share, live_instances: this.#liveInstances }, "took leases");
      }
    }
  }

  async #adopt(shards: number[]) {
    for (const s of shards) this.#held.add(s);
    await this.worker.adopt(shards);
  }

  #drop(shards: number[]) {
    for (const s of shards) this.#held.delete(s);
    this.worker.drop(shards);
  }

  /** Past the last renewal's validity, with no newer one: stop checking everything. */
  #armExpiry() {
    clearTimeout(this.#expiryTimer);
    if (this.#validUntil === Infinity) return;
    this.#expiryTimer = setTimeout(() => {
      if (this.#stopped || Date.now() < this.#validUntil || this.#held.size === 0) return;
      this.log.error({ shards: this.#held.size, machines: this.worker.watching }, "cannot renew leases (database away): stopped checking; other instances take over");
      this.#drop([...this.#held]);
    }, Math.max(0, this.#validUntil - Date.now()));
  }

  #failed(err: unknown) {
    if (!isConnectionError(err)) {
      this.log.error({ err }, "lease round failed; will retry");
      return;
    }
    if (!this.#databaseAway) this.log.warn({ err: (err as Error).message, valid_for_ms: Math.max(0, this.#validUntil - Date.now()) }, "database unavailable: cannot renew leases");
    this.#databaseAway = true;
  }
}
