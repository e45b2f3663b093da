// Builds the Elysia app from the feature modules and runs the server: open the database,
// migrate, resolve the admin token, listen; and stop it all cleanly.
import { Elysia } from "elysia";
import { digest, resolveAdminToken, type Credentials } from "./api/auth.ts";
import { errorHandling } from "./api/errors.ts";
import { eventsApi } from "./api/events/index.ts";
import { EventService } from "./api/events/service.ts";
import { healthApi, type MonitoringState } from "./api/health/index.ts";
import { httpGuards, MAX_BODY_BYTES } from "./api/http-guards.ts";
import { machinesApi } from "./api/machines/index.ts";
import { MachineService } from "./api/machines/service.ts";
import { ChangeFeed } from "./changes.ts";
import type { Config } from "./config.ts";
import { describeStorage, openDatabase, type Database } from "./db/index.ts";
import { migrate } from "./db/migrate.ts";
import { LiveHub } from "./live/hub.ts";
import type { Logger } from "./log.ts";
import { apiDocs, webUi } from "./web/index.ts";

export interface AppDeps {
  config: Config;
  log: Logger;
  db: Database;
  feed: ChangeFeed;
  creds: Credentials;
  monitoring: () => MonitoringState;
}

export async function createApp({ config, log, db, feed, creds, monitoring }: AppDeps) {
  const machines = new MachineService(db, feed, log, config.maxMachines);
  const events = new EventService(db);
  const live = await LiveHub.start({ feed, loadMachines: () => machines.all(), creds, config, log, monitoring });
  // normalize: false — unknown fields in a body are an error to report, not something to drop
  // silently (the schemas say additionalProperties: false where that matters).
  return new Elysia({ normalize: false, serve: { maxRequestBodySize: MAX_BODY_BYTES + 1024 } })
    .use(errorHandling(log))
    .use(httpGuards())
    .use(apiDocs())
    .use(healthApi(db, monitoring))
    .use(machinesApi(machines, creds))
    .use(eventsApi(events, creds))
    .use(live.routes())
    .use(await webUi())
    .onStop(() => live.close());
}

export type App = Awaited<ReturnType<typeof createApp>>;

export interface RunningServer {
  url: URL;
  app: App;
  db: Database;
  feed: ChangeFeed;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  log.info({ storage: describeStorage(config) }, "opening database");
  const db = await openDatabase(config);
  try {
    const { applied, current } = await migrate(db);
    log.info({ applied, schema_version: current }, applied.length ? "migrations applied" : "schema up to date");
    const creds: Credentials = {
      admin: await resolveAdminToken(db, config.adminToken, log),
      registration: config.registrationToken ? digest(config.registrationToken) : undefined,
      read: config.readToken ? digest(config.readToken) : undefined,
    };
    const feed = new ChangeFeed((err) => log.error({ err }, "change listener failed"));
    const monitoring = (): MonitoringState => ({ monitoring: "off", monitoring_reason: "the ICMP monitor is not started" });
    const app = await createApp({ config, log, db, feed, creds, monitoring });
    app.listen({ hostname: config.host, port: config.port });
    const { hostname = config.host, port } = app.server!;
    const url = new URL(`http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`);
    log.info({ url: url.href, storage: db.kind }, "vxman is serving");
    return {
      url,
      app,
      db,
      feed,
      async stop() {
        await app.stop();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

