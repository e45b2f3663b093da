// What the API suites run against: the app in-process (on PGlite and on PostgreSQL) and the
// compiled binary over real HTTP (on PostgreSQL, so the test can look at what it stored). One
// suite, parametrised, not a copy per target: what passes in-process must pass on the artefact
// users run (issue 9: the binary once skipped query validation that `bun src/main.ts` did).
//
//   for (const name of TARGETS) describe(`… (${name})`, () => {
//     let t: Target;
//     beforeAll(async () => (t = await openTarget(name, { MAX_MACHINES: "60" })));
//     afterAll(() => t.close());
//     test("…", async () => { const res = await t.request("GET", "/api/machines"); … });
//   });
//
// VXMAN_TEST_TARGETS=app/pglite,binary/postgres narrows the list (e.g. while debugging).
import type { Change, ChangeFeed } from "../../src/changes.ts";
import type { Database } from "../../src/db/index.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import type { App } from "../../src/server.ts";
import { ADMIN_TOKEN, testApp } from "./app.ts";
import { serveBinary } from "./binary.ts";
import { sharedPgCluster } from "./postgres.ts";
import { waitFor } from "./wait.ts";

export type TargetName = "app/pglite" | "app/postgres" | "binary/postgres";

const ALL: TargetName[] = ["app/pglite", "app/postgres", "binary/postgres"];
export const TARGETS: TargetName[] = process.env.VXMAN_TEST_TARGETS
  ? ALL.filter((t) => process.env.VXMAN_TEST_TARGETS!.split(",").includes(t))
  : ALL;

export interface Target {
  readonly name: TargetName;
  readonly binary: boolean;
  /** A real listening server: http://127.0.0.1:PORT */
  readonly base: string;
  readonly port: number;
  /** In-process: through app.handle() (no socket); binary: over HTTP to `base`. */
  request(method: string, path: string, init?: { json?: unknown; body?: BodyInit; headers?: Record<string, string> }): Promise<Response>;
  /** The database the server uses, to look at what it stored. */
  readonly db: Database;
  /** Wait until the server's monitor has written everything it holds. */
  settle(): Promise<void>;
  /** In-process only: the app (its route list), its change feed and every change published. */
  readonly app?: App;
  readonly feed?: ChangeFeed;
  readonly changes?: Change[];
  /** What the server logged (the binary's output; "" in-process, whose logger is silent). */
  output(): string;
  close(): Promise<void>;
}

/** Tests get the admin token, no rate limit (many requests from one address) unless they set one,
 *  and on the binary a monitor that checks each machine once, then not for a day, so pings do
 *  not change the database under a test that compares it. */
export async function openTarget(name: TargetName, env: Record<string, string> = {}): Promise<Target> {
  return name === "binary/postgres" ? openBinary(env) : openInProcess(name === "app/pglite" ? "pglite" : "postgres", env);
}

async function openInProcess(kind: "pglite" | "postgres", env: Record<string, string>): Promise<Target> {
  const t = await testApp(kind, env);
  t.app.listen({ hostname: "127.0.0.1", port: 0 });
  const port = t.app.server!.port!;
  return {
    name: `app/${kind}`,
    binary: false,
    base: `http://127.0.0.1:${port}`,
    port,
    request: t.request,
    db: t.db,
    settle: () => t.monitor.writer.flush(),
    app: t.app,
    feed: t.feed,
    changes: t.changes,
    output: () => "",
    close: () => t.close(),
  };
}

async function openBinary(env: Record<string, string>): Promise<Target> {
  const url = await (await sharedPgCluster()).createDatabase();
  const adminToken = env.ADMIN_TOKEN ?? ADMIN_TOKEN;
  const served = await serveBinary({ DATABASE_URL: url, ADMIN_TOKEN: adminToken, RATE_LIMIT: "0", PING_INTERVAL: "1d", MONITOR_WRITE_INTERVAL: "200ms", ...env });
  const db = openPostgres({ url, max: 2 });
  // With PING_INTERVAL=1d the monitor writes only after a machine is registered or touched (its
  // first check); settle() waits only then, for a write that MONITOR_WRITE_INTERVAL keeps short.
  let monitorBusy = false;
  const request: Target["request"] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${served.base}${path}`, { method, body, headers, signal: AbortSignal.timeout(15_000) });
    if (method !== "GET" && res.status < 300) monitorBusy = true;
    return res;
  };
  return {
    name: "binary/postgres",
    binary: true,
    base: served.base,
    port: Number(new URL(served.base).port),
    request,
    db,
    async settle() {
      if (!monitorBusy) return;
      await monitorSettled(served.base, adminToken);
      monitorBusy = false;
    },
    output: served.output,
    async close() {
      await db.close();
      await served.stop();
    },
  };
}

/** Polls /metrics until no probe is out and no monitor write is pending, twice 200 ms apart (a
 *  probe for a machine registered a moment ago may not have gone out yet). Bounded: 15 s. */
async function monitorSettled(base: string, adminToken: string): Promise<void> {
  const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  let quietSince: number | null = null;
  await waitFor(
    "the binary's monitor to write what it holds",
    async () => {
      if (!(await quiet())) return (quietSince = null), false;
      quietSince ??= Date.now();
      return Date.now() - quietSince >= 200;
    },
    15_000,
    50,
  );
  async function quiet(): Promise<boolean> {
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    const done = ["vxman_ping_replies_total", "vxman_ping_timeouts_total", "vxman_ping_unreachable_total", "vxman_ping_send_errors_total"];
    const outstanding = metric(text, "vxman_pings_sent_total") - done.reduce((sum, n) => sum + metric(text, n), 0);
    return outstanding === 0 && metric(text, "vxman_monitor_pending_writes") === 0;
  }
}
