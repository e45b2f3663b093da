// Builds the Elysia app from the feature modules and runs the server: open the database,
// migrate, resolve the admin token, listen; and stop it all cleanly.
import { Elysia } from "elysia";
import { createServer as createNetServer } from "node:net";
import { enrolApi } from "./api/enrol/index.ts";
import { eventsApi } from "./api/events/index.ts";
import { EventService } from "./api/events/service.ts";
import { healthApi } from "./api/health/index.ts";
import { machinesApi } from "./api/machines/index.ts";
import { MachineDirectory } from "./api/machines/directory.ts";
import { MachineService } from "./api/machines/service.ts";
import { httpMetrics, metricsApi } from "./api/metrics/index.ts";
import { ChangeFeed } from "./changes.ts";
import type { Config } from "./config.ts";
import { describeStorage, openDatabase, type Database } from "./db/index.ts";
import { corsPolicy } from "./http/cors.ts";
import { errorHandling } from "./http/errors.ts";
import { httpGuards, MAX_SOCKET_BODY_BYTES, securityHeaders } from "./http/guards.ts";
import { jsonBodies } from "./http/json-body.ts";
import { rateLimiting } from "./http/rate-limit.ts";
import { migrate } from "./db/migrate.ts";
import { DASHBOARD_ORDER } from "./live/dashboard-order.ts";
import { LiveHub } from "./live/hub.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { IcmpUnavailableError, Pinger } from "./monitor/pinger.ts";
import { startSamplePruning } from "./monitor/retention.ts";
import { Monitor, type Prober } from "./monitor/scheduler.ts";
import { defaultWriteInterval } from "./monitor/state-writer.ts";
import { accessControl, accessStillHeld } from "./people/access.ts";
import { resolveAdminToken } from "./people/admin-token.ts";
import { Identities, type ConfiguredTokens } from "./people/identity.ts";
import { peopleApi } from "./people/index.ts";
import { digestOf } from "./people/secrets.ts";
import { SessionService } from "./people/sessions.ts";
import { LoginThrottle } from "./people/throttle.ts";
import { TokenService } from "./people/tokens.ts";
import { UserService } from "./people/users.ts";
import { FleetJobs } from "./jobs/fleet.ts";
import { jobsApi } from "./jobs/index.ts";
import { outagesApi } from "./outages/index.ts";
import { groupOptions, NotificationPipeline } from "./outages/pipeline.ts";
import type { SecretBox } from "./secrets/box.ts";
import { loadKeyring } from "./secrets/keyring.ts";
import { apiDocs, webUi } from "./web/index.ts";
import { applicationName, Cluster, clusterApi, newInstanceIdentity } from "./cluster/index.ts";

export interface AppDeps {
  config: Config;
  log: Logger;
  db: Database;
  feed: ChangeFeed;
  tokens: ConfiguredTokens;
  /** Started by the caller; with no ICMP socket it still tracks heartbeats and reports "off". */
  monitor: Monitor;
  /** Seals secrets at rest (channel settings, SSH credentials). */
  box: SecretBox;
  /** This instance among the others on the same database (cluster/). */
  cluster: Cluster;
}

export async function createApp({ config, log, db, feed, tokens, monitor, box, cluster }: AppDeps) {
  // The service answers an unchanged re-registration from the directory, which loads through it.
  let directory: MachineDirectory | undefined;
  const machines = new MachineService(db, feed, log, config.maxMachines, groupOptions(config), (id) => directory?.get(id));
  const events = new EventService(db);
  const users = new UserService(db);
  const sessions = new SessionService(db, { idleMs: config.sessionIdleTimeout, lifetimeMs: config.sessionLifetime });
  const apiTokens = new TokenService(db);
  const monitoring = () => monitor.state;
  directory = await MachineDirectory.start(feed, () => machines.all(), groupOptions(config));
  const identities = new Identities(tokens, sessions, apiTokens);
  const accessOptions = { registrationOpen: tokens.registration === undefined, anonymousRead: config.anonymousRead, metricsPublic: config.metricsPublic };
  const live = LiveHub.start({
    feed, machines: () => directory.inDashboardOrder(), order: DASHBOARD_ORDER, machine: (id) => directory.get(id), config, log, monitoring,
    stillAllowed: accessStillHeld(identities, accessOptions, config.trustProxy),
  });
  const onAccessChanged = () => {
    live.recheckSoon();
    cluster.accessChanged();
  };
  cluster.attach({ load: machines, shown: () => directory.all(), onAccessChanged: () => live.recheckSoon() });
  const metrics = new Metrics({
    machinesByStatus: () => directory.countByStatus(),
    instance: () => cluster.info,
    pingStats: () => monitor.pingStats,
    writerStats: () => ({ ...monitor.writer.stats, pending: monitor.writer.pending }),
    wsClients: () => live.clients,
  });
  monitor.onRtt = (ms) => metrics.rtt.observe(ms / 1000);
  const notifications = new NotificationPipeline(db, box, config, log, metrics);
  const fleet = new FleetJobs(db, box, { ...config, instanceId: cluster.info.id }, log, () => notifications.poke());
  monitor.writer.onTransitionsWritten = () => notifications.poke();
  const web = await webUi();
  const access = accessControl({
    identities,
    options: accessOptions,
    trustProxy: config.trustProxy,
    publicPaths: new Set(web.routes.map((r) => r.path)),
    log,
  });
  // normalize: false — unknown fields in a body are an error to report, not something to drop
  // silently (the schemas say additionalProperties: false where that matters).
  // development: false — never Bun's development error page (HTML with source lines), whatever
  // NODE_ENV says; errors.ts answers every failure with JSON.
  // websocket.maxPayloadLength — dashboards send nothing; a big message closes the socket (1009)
  // instead of being buffered (20 sockets of 15 MiB messages once grew memory by 584 MiB).
  // closeBeforeStop: dashboards' sockets must close before Bun's graceful stop, which waits for them.
  const serve = { maxRequestBodySize: MAX_SOCKET_BODY_BYTES, development: false };
  const app = live.closeBeforeStop(new Elysia({ normalize: false, serve, websocket: { maxPayloadLength: MAX_WS_MESSAGE_BYTES } })
    .use(errorHandling(log, metrics))
    .use(httpMetrics(metrics))
    .use(securityHeaders())
    // Counted before the guards, so every request counts, whatever they think of it.
    .use(rateLimiting(config.rateLimit, config.trustProxy))
    .use(httpGuards({ allowedHosts: config.allowedHosts, corsOrigins: config.corsOrigins, trustProxy: config.trustProxy }))
    .use(jsonBodies())
    .use(corsPolicy(config.corsOrigins))
    // Who is asking, and may they: before any route below runs (the table is in people/access.ts).
    .use(access)
    .use(apiDocs())
    .use(healthApi(db, monitoring, () => cluster.info))
    .use(machinesApi({ access, service: machines, directory, monitor, ssh: fleet.settings }))
    .use(enrolApi({ trustProxy: config.trustProxy }))
    .use(eventsApi(access, events))
    .use(peopleApi({
      access, users, sessions, tokens: apiTokens, throttle: new LoginThrottle(), log, metrics, onAccessChanged,
      settings: { anonymousRead: config.anonymousRead, sessionLifetimeMs: config.sessionLifetime, trustProxy: config.trustProxy },
    }))
    .use(outagesApi({ access, db, channels: notifications.channels, silences: notifications.silences, history: notifications.history, publicUrl: config.publicUrl ?? null }))
    .use(clusterApi(access, cluster))
    .use(jobsApi({ access, fleet, machines, live, trustProxy: config.trustProxy, log }))
    .use(metricsApi(metrics))
    .use(live.routes())
    .use(web));
  // The notification workers and the jobs' schedules run from now on; whoever stops the app stops them first.
  notifications.start(feed);
  await fleet.start();
  return Object.assign(app, { notifications, fleet });
}

export type App = Awaited<ReturnType<typeof createApp>>;

/** The largest WebSocket message a client may send (the dashboard sends none). */
export const MAX_WS_MESSAGE_BYTES = 4096;

export interface RunningServer {
  url: URL;
  app: App;
  db: Database;
  feed: ChangeFeed;
  monitor: Monitor;
  stop(): Promise<void>;
}

/** How often the monitor writes healthy machines' results: MONITOR_WRITE_INTERVAL, or by default
 *  a share of the check interval (defaultWriteInterval). */
const writeInterval = (config: Config): number => config.monitorWriteInterval ?? defaultWriteInterval(config.pingInterval);

/** The ICMP engine, or why there is none: without it vxman still serves, with monitoring off. */
async function openProber(config: Config, log: Logger): Promise<{ prober: Prober | null; reason?: string }> {
  try {
    const pinger = await Pinger.open({ maxInFlight: config.maxParallelPings });
    log.info({ socket: pinger.mode, max_parallel_pings: config.maxParallelPings, check_interval_ms: config.pingInterval, write_interval_ms: writeInterval(config) }, "ICMP monitoring on");
    return { prober: pinger };
  } catch (err) {
    if (!(err instanceof IcmpUnavailableError)) throw err;
    log.error({ reason: err.message, fix: err.howToFix }, "ICMP monitoring OFF: no ICMP socket could be opened; vxman keeps serving");
    return { prober: null, reason: `${err.message}. ${err.howToFix}` };
  }
}

/** Fails at once, before anything is written, when the port is taken (another vxman?): a start
 *  that migrated and generated an admin token before failing to listen would lose that token. */
async function ensurePortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === "EADDRINUSE" ? `port ${port} on ${host} is already in use (another vxman?): stop that process or set PORT` : `cannot listen on ${host}:${port}: ${err.message}`)),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A URL a person can open: the wildcard addresses are not addresses to browse to. */
export function browsableUrl(host: string, port: number): string {
  const name = host === "0.0.0.0" || host === "::" || host === "" ? "localhost" : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}/`;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  await ensurePortFree(config.host, config.port);
  const identity = newInstanceIdentity();
  log.info({ storage: describeStorage(config), instance: identity.id }, "opening database");
  const db = await openDatabase(config, applicationName(identity));
  // Undone in reverse order if the start fails half-way, and by stop().
  const undo: (() => unknown)[] = [() => db.close()];
  const unwind = async () => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch((err) => log.error({ err }, "shutdown step failed"));
  };
  try {
    const { applied, current } = await migrate(db);
    log.info({ applied, schema_version: current }, applied.length ? "migrations applied" : "schema up to date");
    const tokens: ConfiguredTokens = {
      admin: await resolveAdminToken(db, config.adminToken, log),
      registration: config.registrationToken ? digestOf(config.registrationToken) : undefined,
      read: config.readToken ? digestOf(config.readToken) : undefined,
    };
    const feed = new ChangeFeed((err) => log.error({ err }, "change listener failed"));
    const { prober, reason } = await openProber(config, log);
    const monitor = Monitor.start({
      db,
      instanceId: identity.id,
      feed,
      log,
      prober,
      unavailableReason: reason,
      options: {
        intervalMs: config.pingInterval,
        timeoutMs: config.pingTimeout,
        backoffMaxMs: config.backoffMax,
        writeIntervalMs: writeInterval(config),
        failureThreshold: config.failureThreshold,
        segments: groupOptions(config),
      },
    });
    undo.push(() => monitor.stop()); // flushes pending state, closes the ICMP sockets
    const box = await loadKeyring({ secretKey: config.secretKey, dataDir: config.dataDir, log });
    const cluster = await Cluster.start({ db, feed, log, identity, leasePeriodMs: config.leasePeriod, worker: monitor, monitoring: prober !== null, keyId: box.keyId });
    undo.push(() => cluster.stop()); // hands the machines over (before the monitor stops)
    await cluster.startLeases();
    undo.push(startSamplePruning(db, config.sampleRetention, log));
    const app = await createApp({ config, log, db, feed, tokens, monitor, box, cluster });
    undo.push(() => app.notifications.stop());
    undo.push(() => app.fleet.stop()); // runs in progress: stopped (TERM over SSH), recorded as interrupted
    // reusePort off: a second vxman on the same port must fail to start, not share it silently.
    app.listen({ hostname: config.host, port: config.port, reusePort: false });
    undo.push(() => app.stop()); // stops accepting, closes dashboards' WebSockets with 1001
    const { hostname = config.host, port = config.port } = app.server!;
    const url = new URL(browsableUrl(hostname, port));
    await cluster.registry.setUrl(url.href).catch(() => {});
    log.info({ url: url.href, listening_on: `${hostname}:${port}`, storage: db.kind, monitoring: monitor.state.monitoring, ...cluster.info }, "vxman is serving");
    return { url, app, db, feed, monitor, stop: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
