// LISTEN/NOTIFY through a connection pooler: PgBouncer's session mode works, its transaction mode
// cannot deliver notifications, and vxman says so at start instead of running half-blind.
import { afterAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { isolatedBinary, startProcess } from "../helpers/binary.ts";
import { call, startInstance, stopInstances, type Instance } from "../helpers/instances.ts";
import { startPgBouncer, type PgBouncer } from "../helpers/pgbouncer.ts";
import { freePort, sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";

describe.skipIf(!needs("root", "pgbouncer"))("through PgBouncer (compiled binary)", () => {
  const bouncers: PgBouncer[] = [];
  let running: Instance[] = [];
  afterAll(async () => {
    await stopInstances(running);
    for (const b of bouncers) await b.stop();
  });

  test("pool_mode = session: it starts and works", async () => {
    const pg = await sharedPgCluster();
    const bouncer = await startPgBouncer(pg, "session");
    bouncers.push(bouncer);
    const instance = await startInstance(bouncer.urlFor(await pg.createDatabase()));
    running.push(instance);
    expect((await call(instance.base, "PUT", "/api/machines/127.3.9.1", { hostname: "via-bouncer", mac_address: "52:54:00:09:09:01" })).status).toBe(201);
  }, 60_000);

  test("pool_mode = transaction: it refuses to start, and says why and what to do", async () => {
    const pg = await sharedPgCluster();
    const bouncer = await startPgBouncer(pg, "transaction");
    bouncers.push(bouncer);
    const { dir, bin, cleanup } = isolatedBinary();
    try {
      const proc = startProcess([bin, "serve"], {
        cwd: dir,
        env: { DATABASE_URL: bouncer.urlFor(await pg.createDatabase()), ADMIN_TOKEN, PORT: String(await freePort()), HOST: "127.0.0.1", LOG_FORMAT: "json" },
      });
      const code = await Promise.race([proc.exited, Bun.sleep(60_000).then(() => "still running")]);
      if (code === "still running") proc.kill("SIGKILL");
      expect(code).not.toBe(0);
      expect(code).not.toBe("still running");
      expect(proc.output()).toContain("not PgBouncer's transaction mode");
    } finally {
      cleanup();
    }
  }, 90_000);
});
