// GET /health: 200 while the database answers, 503 when it does not. Monitoring being off
// (no ICMP socket) keeps it 200: the API still works, and the body says why monitoring is off.
import { Elysia, t, type Static } from "elysia";
import type { Database } from "../../db/index.ts";
import { BUILD_DATE, COMMIT, VERSION } from "../../version.ts";

export interface MonitoringState {
  monitoring: "on" | "off";
  monitoring_reason?: string;
}

const DB_CHECK_TIMEOUT_MS = 2000;

async function databaseAnswers(db: Database): Promise<boolean> {
  let timer: Timer | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), DB_CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([db.query("SELECT 1").then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

const Health = t.Object({
  status: t.Union([t.Literal("ok"), t.Literal("unavailable")]),
  database: t.Union([t.Literal("ok"), t.Literal("unavailable")]),
  storage: t.Union([t.Literal("postgres"), t.Literal("pglite")]),
  monitoring: t.Union([t.Literal("on"), t.Literal("off")]),
  monitoring_reason: t.Optional(t.String()),
  version: t.String(),
  commit: t.String(),
  build_date: t.String(),
  uptime_s: t.Number(),
  instance: t.Object(
    { id: t.String(), leases_held: t.Integer(), machines_watched: t.Integer(), live_instances: t.Integer() },
    { description: "This instance: its id, the shards (of 256) it holds, the machines it checks, the live instances on this database" },
  ),
});

export function healthApi(db: Database, monitoring: () => MonitoringState, instance: () => Static<typeof Health>["instance"]) {
  const started = performance.now();
  return new Elysia({ name: "health-api", detail: { tags: ["operations"] } }).get(
    "/health",
    async ({ status }) => {
      const dbOk = await databaseAnswers(db);
      const body = {
        status: dbOk ? ("ok" as const) : ("unavailable" as const),
        database: dbOk ? ("ok" as const) : ("unavailable" as const),
        storage: db.kind,
        ...monitoring(),
        version: VERSION,
        commit: COMMIT,
        build_date: BUILD_DATE,
        uptime_s: Math.round((performance.now() - started) / 1000),
        instance: instance(),
      };
      return status(dbOk ? 200 : 503, body);
    },
    { response: { 200: Health, 503: Health }, detail: { summary: "Liveness: database and monitoring state" } },
  );
}
