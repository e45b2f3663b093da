// The change bridge: every instance's change feed sees every instance's changes, so each one
// serves the whole fleet (its list, counts, search) and every dashboard sees every change.
//
// One LISTEN channel on PostgreSQL, vxman_changes, carries two kinds of message:
//  - events ({"e": …}): sent by a trigger on the event log in the transaction that makes a
//    change (sql/004_cluster.sql), so they say exactly what committed. A receiver reads the
//    machines named and publishes them (registered, updated, deleted) on its own feed; changes
//    to people make it re-check its dashboards' credentials.
//  - live ({"u": …, "s": …}): the monitor's status updates and the machines' heartbeats, sent by
//    the instance that saw them, batched every 50 ms. Losing one is harmless (the next check
//    sends another, and a transition is also an event); writing each to the database would not
//    be.
// A payload stays well under NOTIFY's 8000 bytes. After a reconnect of the listening connection
// the instance may have missed changes: it reloads every machine and publishes the differences.
import type { Machine } from "../api/machines/model.ts";
import type { Change, ChangeFeed } from "../changes.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";

/** The channel; the events trigger in sql/004_cluster.sql names it too. */
export const CHANGES_CHANNEL = "vxman_changes";
const SEND_EVERY_MS = 50;
/** Bytes of one payload, at most (NOTIFY refuses 8000 and more). */
export const MAX_PAYLOAD = 7500;
const PROBE_TIMEOUT_MS = 5000;
const RESYNC_RETRY_MS = 2000;
const ACCESS_KINDS = new Set(["user_created", "user_changed", "password_changed", "token_created", "token_revoked", "sessions_revoked"]);

type StatusUpdate = Extract<Change, { type: "status_update" }>;
type Seen = Extract<Change, { type: "machine_seen" }>;

/** A status update on the wire: [id, status, alive, rtt, checked, last_seen, failures, last_checked, next_check] (times in epoch ms). */
type StatusTuple = [number, "active" | "unreachable", 0 | 1, number | null, 0 | 1, number, number, number | null, number | null];
type SeenTuple = [number, number, Seen["via"]];
/** One notification. `o`: the sender's application_name (an instance skips its own). */
interface Message {
  o: string;
  /** Events that committed: [event id, kind, machine id]. */
  e?: [number, string, number | null][];
  u?: StatusTuple[];
  s?: SeenTuple[];
  /** Someone's access changed (a logout, a revoked token): re-check dashboards' credentials. */
  a?: 1;
  /** The start-up probe: LISTEN/NOTIFY round trip. */
  probe?: string;
}

export interface BridgeDeps {
  db: Database;
  feed: ChangeFeed;
  log: Logger;
  /** This instance's application_name: what the events trigger names it by. */
  me: string;
  /** Whether any other instance is live: status updates are sent only then (a lone instance
   *  would only be talking to itself; one that joins loads the state from the database). */
  othersLive: () => boolean;
}

/** What the bridge needs from the app, known once it is built (attach). */
export interface BridgeViews {
  /** Machines as they are in the database now (by id; all). */
  load: { byIds(ids: number[]): Promise<Machine[]>; all(): Promise<Machine[]> };
  /** What this instance shows now (the directory), to compare with after a reconnect. */
  shown: () => Machine[];
  onAccessChanged: () => void;
}

/** LISTEN/NOTIFY does not work through this connection (a transaction-mode pooler). */
export class ListenUnavailableError extends Error {}

export class ChangeBridge {
  #applyingRemote = false;
  #outbox: { u: StatusTuple[]; s: SeenTuple[]; a: boolean } = { u: [], s: [], a: false };
  #sendTimer: Timer | undefined;
  #sending: Promise<void> = Promise.resolve();
  /** Event notifications waiting to be read and published, in arrival order. */
  #incoming: [string, number][] = [];
  #draining: Promise<void> | null = null;
  #listening = false;
  #resyncRetry: Timer | undefined;
  #probe: { token: string; arrived: () => void } | null = null;
  #unlisten: (() => Promise<void>)[] = [];
  #unsubscribe: () => void = () => {};
  #sendFailing = false;
  /** Until the app is attached, changes of machines wait in #incoming. */
  #views: BridgeViews | null = null;

  private constructor(private readonly deps: BridgeDeps) {}

  /** Listen, prove a notification comes back (else throw ListenUnavailableError), then relay. */
  static async start(deps: BridgeDeps): Promise<ChangeBridge> {
    const bridge = new ChangeBridge(deps);
    await bridge.#listen();
    await bridge.#proveRoundTrip();
    bridge.#unsubscribe = deps.feed.subscribe((change) => bridge.#relay(change));
    return bridge;
  }

  /** The app is built (its directory follows the feed): from now on changes are read and published. */
  attach(views: BridgeViews): void {
    this.#views = views;
    this.#drainSoon();
  }

  /** Tell the others someone's access changed (they re-check their dashboards' sockets). */
  accessChanged(): void {
    this.#outbox.a = true;
    this.#sendSoon();
  }

  async stop(): Promise<void> {
    this.#unsubscribe();
    clearTimeout(this.#sendTimer);
    clearTimeout(this.#resyncRetry);
    await this.#send();
    await this.#draining;
    for (const unlisten of this.#unlisten) await unlisten().catch(() => {});
  }

  async #listen() {
    const { db } = this.deps;
    if (!db.listen) throw new ListenUnavailableError("this database cannot LISTEN");
    // onListen runs again after every reconnect: what was sent meanwhile is lost, so re-sync.
    const onListen = () => {
      if (this.#listening) void this.#resync();
      this.#listening = true;
    };
    const { unlisten } = await db.listen(CHANGES_CHANNEL, (payload) => this.#guard(() => this.#receive(payload)), onListen);
    this.#unlisten.push(unlisten);
  }

  /** A PgBouncer in transaction mode accepts LISTEN and never delivers: find out at start. */
  async #proveRoundTrip() {
    const token = crypto.randomUUID();
    const arrived = new Promise<boolean>((resolve) => {
      this.#probe = { token, arrived: () => resolve(true) };
      setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    await this.deps.db.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, JSON.stringify({ o: this.deps.me, probe: token })]);
    const ok = await arrived;
    this.#probe = null;
    if (!ok) {
      throw new ListenUnavailableError(
        `a notification sent through DATABASE_URL did not come back within ${PROBE_TIMEOUT_MS / 1000} s: LISTEN/NOTIFY needs a direct ` +
          "connection to PostgreSQL or a session-pooled one (PgBouncer pool_mode=session), not PgBouncer's transaction mode",
      );
    }
  }

  #guard(fn: () => void) {
    try {
      fn();
    } catch (err) {
      this.deps.log.error({ err }, "a change from another instance could not be applied");
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Local status updates and sightings go out; changes that came from others do not go back. */
  #relay(change: Change) {
    if (this.#applyingRemote || !this.deps.othersLive()) return;
    if (change.type === "status_update") this.#outbox.u.push(toTuple(change));
    else if (change.type === "machine_seen") this.#outbox.s.push([change.machine_id, change.at.getTime(), change.via]);
    else return;
    this.#sendSoon();
  }

  #sendSoon() {
    this.#sendTimer ??= setTimeout(() => {
      this.#sendTimer = undefined;
      this.#sending = this.#sending.then(() => this.#send());
    }, SEND_EVERY_MS);
  }

  async #send() {
    const { u, s, a } = this.#outbox;
    if (!u.length && !s.length && !a) return;
    this.#outbox = { u: [], s: [], a: false };
    const payloads = chunk(this.deps.me, u, s, a);
    try {
      await this.deps.db.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [CHANGES_CHANNEL, payloads]);
      if (this.#sendFailing) this.deps.log.info("database back: status updates reach the other instances again");
      this.#sendFailing = false;
    } catch (err) {
      // Dropped, not retried: they are stale by the time the database is back, and the others
      // re-sync when their own connection comes back.
      if (!this.#sendFailing) this.deps.log.warn({ err: (err as Error).message }, "status updates could not be sent to the other instances");
      this.#sendFailing = true;
    }
  }

  // ---- receiving -----------------------------------------------------------------------------

  #receive(payload: string) {
    const msg = JSON.parse(payload) as Message;
    if (msg.probe !== undefined) {
      if (msg.probe === this.#probe?.token) this.#probe.arrived();
      return;
    }
    if (msg.o === this.deps.me) return;
    let access = msg.a === 1;
    this.#applyRemote(() => {
      for (const t of msg.u ?? []) this.deps.feed.publish(fromTuple(t));
      for (const [id, at, via] of msg.s ?? []) this.deps.feed.publish({ type: "machine_seen", machine_id: id, at: new Date(at), via });
    });
    for (const [, kind, machineId] of msg.e ?? []) {
      if (machineId !== null) this.#incoming.push([kind, machineId]);
      else if (ACCESS_KINDS.has(kind)) access = true;
    }
    if (access) this.#views?.onAccessChanged();
    this.#drainSoon();
  }

  #drainSoon() {
    if (this.#views && this.#incoming.length) this.#draining ??= this.#drain().finally(() => (this.#draining = null));
  }

  /** Read the machines named and publish them, in the order their events committed. What is
   *  read is at least as new as every event taken, so the last word per machine is right. */
  async #drain() {
    while (this.#incoming.length) {
      const batch = this.#incoming;
      this.#incoming = [];
      const toRead = [...new Set(batch.filter(([kind]) => kind !== "deleted").map(([, id]) => id))];
      const read = toRead.length ? await this.#read(toRead) : [];
      const rows = new Map((read ?? []).map((m) => [m.id, m]));
      this.#applyRemote(() => {
        for (const [kind, id] of batch) {
          const machine = rows.get(id);
          if (kind === "deleted" || (read && !machine)) this.deps.feed.publish({ type: "machine_deleted", machine_id: id }); // or deleted since
          else if (machine) this.deps.feed.publish({ type: kind === "registered" ? "machine_registered" : "machine_updated", machine });
          // else: the read failed; the re-sync it scheduled brings the machine up to date
        }
      });
    }
  }

  async #read(ids: number[]): Promise<Machine[] | null> {
    try {
      return await this.#views!.load.byIds(ids);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, machines: ids.length }, "could not read machines changed by another instance; will re-sync");
      this.#resyncLater();
      return null;
    }
  }

  /** After a reconnect: publish every difference between the database and what is shown. */
  async #resync() {
    const views = this.#views;
    if (!views) return; // not serving yet: the directory's own load is still to come
    try {
      const fresh = await views.load.all();
      const shown = new Map(views.shown().map((m) => [m.id, JSON.stringify(m)]));
      const ids = new Set(fresh.map((m) => m.id));
      let changed = 0;
      this.#applyRemote(() => {
        for (const m of fresh) {
          const before = shown.get(m.id);
          if (before === JSON.stringify(m)) continue;
          changed++;
          this.deps.feed.publish({ type: before === undefined ? "machine_registered" : "machine_updated", machine: m });
        }
        for (const id of shown.keys()) {
          if (ids.has(id)) continue;
          changed++;
          this.deps.feed.publish({ type: "machine_deleted", machine_id: id });
        }
      });
      views.onAccessChanged();
      this.deps.log.info({ machines: fresh.length, changed }, "re-synced with the database");
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "re-sync failed; will retry");
      this.#resyncLater();
    }
  }

  #resyncLater() {
    clearTimeout(this.#resyncRetry);
    this.#resyncRetry = setTimeout(() => void this.#resync(), RESYNC_RETRY_MS);
  }

  #applyRemote(fn: () => void) {
    this.#applyingRemote = true;
    try {
      fn();
    } finally {
      this.#applyingRemote = false;
    }
  }
}

export function toTuple(c: StatusUpdate): StatusTuple {
  return [
    c.machine_id, c.status, c.is_alive ? 1 : 0, c.response_time, c.checked ? 1 : 0, Date.parse(c.last_seen), c.consecutive_failures,
    c.last_checked_at === null ? null : Date.parse(c.last_checked_at), c.next_check_at === null ? null : Date.parse(c.next_check_at),
  ];
}

export function fromTuple([id, status, alive, rtt, checked, seen, failures, lastChecked, nextCheck]: StatusTuple): StatusUpdate {
  return {
    type: "status_update", machine_id: id, status, is_alive: alive === 1, response_time: rtt, checked: checked === 1,
    last_seen: new Date(seen).toISOString(), consecutive_failures: failures,
    last_checked_at: lastChecked === null ? null : new Date(lastChecked).toISOString(),
    next_check_at: nextCheck === null ? null : new Date(nextCheck).toISOString(),
  };
}

/** The outbox as payloads under MAX_PAYLOAD bytes each (tuples are ASCII: length is bytes). */
export function chunk(me: string, u: StatusTuple[], s: SeenTuple[], a: boolean): string[] {
  const payloads: string[] = [];
  let current: Message = { o: me, ...(a ? { a: 1 as const } : {}) };
  let size = JSON.stringify(current).length + 16;
  const add = (key: "u" | "s", item: StatusTuple | SeenTuple) => {
    const length = JSON.stringify(item).length + 1;
    if (size + length > MAX_PAYLOAD) {
      payloads.push(JSON.stringify(current));
      current = { o: me };
      size = JSON.stringify(current).length + 16;
    }
    ((current[key] ??= []) as (StatusTuple | SeenTuple)[]).push(item);
    size += length;
  };
  for (const t of u) add("u", t);
  for (const t of s) add("s", t);
  payloads.push(JSON.stringify(current));
  return payloads;
}
