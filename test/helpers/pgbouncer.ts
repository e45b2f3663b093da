// A real PgBouncer in front of the test PostgreSQL, in the pool mode a test asks for: what an
// operator's DATABASE_URL may point at. Runs as the same unprivileged user as the test cluster
// (PgBouncer refuses to run as root); stopped by PID.
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type RunningProcess } from "./binary.ts";
import { freePort, runAsUser, type PgCluster } from "./postgres.ts";
import { waitFor } from "./wait.ts";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

export interface PgBouncer {
  /** DATABASE_URL through the bouncer, for the database `url` names. */
  urlFor(url: string): string;
  stop(): Promise<void>;
}

export async function startPgBouncer(pg: PgCluster, poolMode: "session" | "transaction"): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), "vxman-pgbouncer-"));
  const port = await freePort();
  const user = new URL(pg.url).username;
  writeFileSync(join(dir, "users.txt"), `"${user}" ""\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]", `* = host=127.0.0.1 port=${pg.port}`,
      "[pgbouncer]", "listen_addr = 127.0.0.1", `listen_port = ${port}`, "unix_socket_dir =",
      "auth_type = trust", `auth_file = ${join(dir, "users.txt")}`, `pool_mode = ${poolMode}`, "max_client_conn = 200", "default_pool_size = 20",
      `logfile = ${join(dir, "pgbouncer.log")}`, "",
    ].join("\n"),
  );
  const as = runAsUser();
  if (as) chownSync(dir, as.uid, as.gid);
  const cmd = as ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", PGBOUNCER, join(dir, "pgbouncer.ini")] : [PGBOUNCER, join(dir, "pgbouncer.ini")];
  const proc: RunningProcess = startProcess(cmd);
  await waitFor("PgBouncer listening", async () => {
    const r = Bun.spawnSync(["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
    return r.exitCode === 0;
  }, 10_000, 100).catch((err) => {
    proc.kill("SIGKILL");
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return {
    urlFor: (url) => url.replace(`:${pg.port}/`, `:${port}/`),
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
