// An in-process vxman app on a real database of either kind, for API tests. Requests go
// through app.handle() (the same Elysia pipeline a socket would feed, minus the socket).
import { ChangeFeed, type Change } from "../../src/changes.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import type { Database } from "../../src/db/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { openPglite } from "../../src/db/pglite.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { silentLogger } from "../../src/log.ts";
import { Cluster, newInstanceIdentity } from "../../src/cluster/index.ts";
import { Monitor } from "../../src/monitor/scheduler.ts";
import { digestOf } from "../../src/people/secrets.ts";
import { createSecretBox } from "../../src/secrets/box.ts";
import { createApp, type App } from "../../src/server.ts";
import { sharedPgCluster } from "./postgres.ts";

export type StorageKind = "postgres" | "pglite";
export const STORAGE_KINDS: StorageKind[] = ["postgres", "pglite"];

export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A migrated, empty database of the given kind. */
export async function testDatabase(kind: StorageKind): Promise<Database> {
  const db = kind === "postgres" ? openPostgres({ url: await (await sharedPgCluster()).createDatabase() }) : await openPglite();
  await migrate(db);
  return db;
}

export interface TestApp {
  app: App;
  db: Database;
  feed: ChangeFeed;
  config: Config;
  /** The app's monitor (no ICMP socket): its writer can be flushed to wait for pending writes. */
  monitor: Monitor;
  /** Every change published since the app was made. */
  changes: Change[];
  request(method: string, path: string, init?: { json?: unknown; body?: BodyInit; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export async function testApp(kind: StorageKind, env: Record<string, string> = {}, db?: Database): Promise<TestApp> {
  // In-process requests have no client address, so they would all share one rate-limit bucket:
  // off unless a test asks for it (the rate-limit tests run on a real listening server).
  const config = loadConfig({ ADMIN_TOKEN, RATE_LIMIT: "0", ...env });
  db ??= await testDatabase(kind);
  const feed = new ChangeFeed((err) => {
    throw err;
  });
  const changes: Change[] = [];
  feed.subscribe((c) => changes.push(c));
  const tokens = {
    admin: digestOf(config.adminToken!),
    registration: config.registrationToken ? digestOf(config.registrationToken) : undefined,
    read: config.readToken ? digestOf(config.readToken) : undefined,
  };
  // A real monitor without an ICMP socket: it tracks heartbeats and reports monitoring "off".
  // The ICMP side is tested in test/monitor/ on a full server.
  const identity = newInstanceIdentity();
  const monitor = Monitor.start({
    db,
    instanceId: identity.id,
    feed,
    log: silentLogger,
    prober: null,
    unavailableReason: "in-process test app: no ICMP socket opened",
    options: { intervalMs: config.pingInterval, timeoutMs: config.pingTimeout, backoffMaxMs: config.backoffMax, failureThreshold: config.failureThreshold },
  });
  const box = await createSecretBox(new Uint8Array(32).fill(7)); // a fixed test key
  const cluster = await Cluster.start({ db, feed, log: silentLogger, identity, leasePeriodMs: config.leasePeriod, worker: monitor, monitoring: false, keyId: box.keyId });
  await cluster.startLeases();
  const app = await createApp({ config, log: silentLogger, db, feed, tokens, monitor, box, cluster });
  return {
    app,
    db,
    feed,
    config,
    monitor,
    changes,
    request(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers["content-type"] ??= "application/json";
      }
      return app.handle(new Request(`http://localhost${path}`, { method, body, headers }));
    },
    async close() {
      await app.notifications.stop();
      await app.fleet.stop();
      if (app.server) await app.stop();
      await cluster.stop();
      await monitor.stop();
      await db!.close();
    },
  };
}

export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export function machineBody(n: number, extra: Record<string, unknown> = {}) {
  const hex = n.toString(16).padStart(6, "0");
  return {
    hostname: `node-${n}`,
    mac_address: `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`,
    ...extra,
  };
}

/** The n-th loopback test address: 127.1.x.y (loopback, so a ping to it is harmless). */
export function loopbackIp(n: number): string {
  return `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}
