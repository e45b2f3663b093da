// What dashboards start from and follow: a snapshot of every machine, then every change, numbered.
// The machines are the directory's (src/api/machines/directory.ts), which applies each change the
// moment it arrives; the hub keeps no copy of its own (at 100,000 machines a copy is tens of MB).
// Changes are numbered when they are sent, after the coalescing window, so before a snapshot is
// taken whatever waits in the window is sent first: the directory is then exactly "the state
// after seq N", and the next message the new socket receives is N + 1.
import type { ServerWebSocket } from "bun";
import type { MonitoringState } from "../api/health/index.ts";
import type { Machine } from "../api/machines/model.ts";
import type { ChangeFeed } from "../changes.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { BACKPRESSURE_LIMIT, Clients } from "./clients.ts";
import { Coalescer } from "./coalescer.ts";
import { liveRoutes, STATUS_TOPIC } from "./index.ts";
import { SnapshotParts, type BroadcastChange, type LiveEvent, type ServerMessage, type SnapshotOrder } from "./protocol.ts";

/** The part of Bun's server the hub uses: one publish serialises a message once for all sockets. */
interface Publisher {
  publish(topic: string, data: string): unknown;
}

export interface LiveHubDeps {
  feed: ChangeFeed;
  /** Every machine with every change that reached the feed applied (the directory). */
  machines: () => readonly Machine[];
  /** The order machines() gives them in, promised to dashboards in the snapshot; unset: none. */
  order?: SnapshotOrder;
  /** One machine as machines() has it, to make its snapshot row as it changes (see #keepRows). */
  machine?: (id: number) => Machine | undefined;
  config: Pick<Config, "wsMaxPerIp" | "trustProxy">;
  log: Logger;
  monitoring: () => MonitoringState;
  /** Whether the credentials a socket opened with still give the right to read (a session can
   *  end, a token be revoked, a user be disabled). Unset: sockets are never re-checked. */
  stillAllowed?: (headers: Record<string, string | undefined>) => Promise<boolean>;
}

/** Close code for a socket whose session or token no longer allows it (a private-use code). */
export const CLOSE_ACCESS_ENDED = 4001;
/** Open sockets' credentials are checked again this often (ends, expiries, other instances' revocations). */
const RECHECK_MS = 60_000;

export class LiveHub {
  #seq = 0;
  /** The snapshot for the current seq, shared by every socket that opens before the next change
   *  (10,000 machines are ~3 MB of JSON: made once, not once per reconnect). */
  #snapshot: SnapshotParts | undefined;
  #server: Publisher | null = null;
  readonly #coalescer = new Coalescer<BroadcastChange>((changes) => this.#publish(changes));
  readonly #unsubscribe: () => void;
  readonly sockets: Clients;
  #recheck: Timer | undefined;
  #recheckSoon: Timer | undefined;

  private constructor(readonly deps: LiveHubDeps) {
    this.sockets = new Clients(deps.config.wsMaxPerIp);
    this.#unsubscribe = deps.feed.subscribe((change) => {
      if (change.type === "machine_seen") return;
      // With no dashboard open there is nobody to spare frames for: numbered at once, without
      // the coalescing window's timer (10 wake-ups a second while checks flow).
      if (this.sockets.size === 0 && this.#coalescer.pending === 0) this.#publish([change]);
      else this.#coalescer.push(change);
    });
  }

  static start(deps: LiveHubDeps): LiveHub {
    return new LiveHub(deps);
  }

  /** Open dashboard sockets. */
  get clients(): number {
    return this.sockets.size;
  }

  routes() {
    return liveRoutes(this);
  }

  /** The server to publish through; known from the first upgrade (nobody to tell before it). */
  attach(server: Publisher | null): void {
    if (server) this.#server = server;
  }

  hello(): string {
    const msg: ServerMessage = { type: "hello", version: VERSION, ...this.deps.monitoring() };
    return JSON.stringify(msg);
  }

  /** Every machine as of the last change sent (sending what waits in the window first). */
  snapshot(): SnapshotParts {
    this.#coalescer.flush();
    this.#snapshot ??= new SnapshotParts(this.#seq, this.deps.machines(), this.deps.order);
    return this.#snapshot;
  }

  /**
   * Sends an admitted socket the snapshot and subscribes it to every change after it. The first
   * part goes out in the same step as the subscribe, so no change falls in between; the other
   * parts follow, each once the socket has taken the one before, and the changes published
   * meanwhile reach the socket between them (the reader holds those until the last part).
   */
  follow(ws: ServerWebSocket<unknown>): void {
    this.#sendParts(ws, this.snapshot()).catch((err) => {
      this.deps.log.error({ err: String(err) }, "could not send a dashboard its snapshot; closing its socket");
      this.sockets.remove(ws);
      ws.close(1011, "server error while sending the snapshot");
    });
  }

  async #sendParts(ws: ServerWebSocket<unknown>, snapshot: SnapshotParts): Promise<void> {
    for (let i = 0, part = snapshot.part(0); part !== undefined; part = snapshot.part(++i)) {
      // Part i is made while the socket still takes part i - 1.
      if (i > 0) await this.sockets.taken(ws);
      if (!this.sockets.has(ws)) return;
      this.sockets.sendingPart(ws, part.length);
      ws.send(part);
      if (i === 0) ws.subscribe(STATUS_TOPIC);
    }
  }

  #publish(changes: BroadcastChange[]): void {
    this.#snapshot?.release();
    this.#snapshot = undefined;
    if (this.sockets.size === 0 || !this.#server) {
      this.#seq += changes.length; // numbered all the same: nobody is there to be told
      return;
    }
    const events = changes.map((c): LiveEvent => ({ ...c, seq: ++this.#seq }));
    const msg: ServerMessage = events.length === 1 ? events[0]! : { type: "batch", seq: this.#seq, events };
    const dropped = this.sockets.dropLagging();
    if (dropped) {
      this.deps.log.warn({ dropped, backpressure_limit_bytes: BACKPRESSURE_LIMIT }, "dashboard sockets cut: they stopped reading their updates");
    }
    this.#server.publish(STATUS_TOPIC, JSON.stringify(msg));
    this.#keepRows(changes);
  }

  /**
   * While dashboards are open, each changed machine's snapshot row is made as it changes, a few at
   * a time: a dashboard opening next then finds every row made instead of waiting while the
   * server makes them all (at 100,000 machines checked every 60 s: ~0.5 % of a core spread out,
   * instead of ~0.65 s on the server's one thread at the moment someone opens the page). With no
   * dashboard open nothing is made ahead.
   */
  #keepRows(changes: BroadcastChange[]): void {
    const { machine } = this.deps;
    if (!machine) return;
    for (const c of changes) {
      const m = machine("machine" in c ? c.machine.id : c.machine_id);
      if (m) SnapshotParts.keepRow(m);
    }
  }

  /** A socket was admitted: its credentials are re-checked every minute while any is open. */
  watchAccess(): void {
    if (!this.deps.stillAllowed || this.#recheck) return;
    this.#recheck = setInterval(() => void this.recheckAccess(), RECHECK_MS);
  }

  /** Access may have changed (a logout, a revocation, a disabled user): re-check soon. */
  recheckSoon(): void {
    this.#recheckSoon ??= setTimeout(() => {
      this.#recheckSoon = undefined;
      void this.recheckAccess();
    }, 50);
  }

  /** Closes (4001) every socket whose credentials no longer allow reading. */
  async recheckAccess(): Promise<void> {
    const { stillAllowed } = this.deps;
    if (!stillAllowed) return;
    const entries = this.sockets.entries();
    if (entries.length === 0) {
      clearInterval(this.#recheck);
      this.#recheck = undefined;
      return;
    }
    for (const [ws, headers] of entries) {
      if (await stillAllowed(headers).catch(() => true)) continue; // a database hiccup is not a revocation
      this.sockets.remove(ws);
      ws.close(CLOSE_ACCESS_ENDED, "your session or token no longer allows this; log in again");
    }
  }

  /** Close every dashboard socket and stop following the feed (for good: the server is stopping). */
  close(code = 1001, reason = "server shutting down"): void {
    this.#unsubscribe();
    this.#coalescer.close();
    clearInterval(this.#recheck);
    clearTimeout(this.#recheckSoon);
    this.sockets.closeAll(code, reason);
  }

  /**
   * Wraps the app's stop so dashboard sockets are closed (1001) first. Bun's graceful stop waits
   * for open WebSockets, and Elysia runs onStop hooks only after it, so closing them there
   * would never happen and stopping would hang.
   */
  closeBeforeStop<A extends { stop: (closeActiveConnections?: boolean) => Promise<unknown> }>(app: A): A {
    const stop = app.stop.bind(app);
    app.stop = async (closeActiveConnections?: boolean) => {
      this.close();
      return stop(closeActiveConnections);
    };
    return app;
  }
}
