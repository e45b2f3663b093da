// The compiled binary, copied alone into an empty folder (no node_modules, no sources), on both
// storage modes, over real HTTP.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isolatedBinary, serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";

const cleanups: (() => unknown)[] = [];
afterAll(() => Promise.all(cleanups.map((c) => c())));

async function startBinary(env: Record<string, string>): Promise<ServedBinary> {
  const served = await serveBinary(env);
  cleanups.push(() => served.stop());
  return served;
}

const put = (base: string, ip: string, body: object, headers: Record<string, string> = {}) =>
  fetch(`${base}/api/machines/${ip}`, { method: "PUT", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

/** KiB resident in the executable's writable file mapping, which holds Bun's embedded files. */
function residentEmbeddedKiB(pid: number): number {
  const mappings = readFileSync(`/proc/${pid}/smaps`, "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const embedded = mappings.filter((m) => / rw-p [0-9a-f]+ \S+ \d+ +\/\S+vxman\n/.test(m));
  expect(embedded.length).toBeGreaterThan(0);
  return embedded.reduce((sum, m) => sum + Number(/^Rss: +(\d+) kB/m.exec(m)![1]), 0);
}

/** The embedded PGlite's files (WASM, file bundle, seed cluster), in KiB. */
function pgliteFilesKiB(): number {
  const root = join(import.meta.dir, "../..");
  const files = ["node_modules/@electric-sql/pglite/dist/pglite.wasm", "node_modules/@electric-sql/pglite/dist/pglite.data", "dist/assets/pglite-seed.tar.gz"];
  return files.reduce((sum, f) => sum + statSync(join(root, f)).size, 0) / 1024;
}

describe("compiled binary", () => {
  test("CLI: version, help, unknown command and bad flag exit 2, invalid config names the variable", () => {
    const { bin, dir, cleanup } = isolatedBinary();
    cleanups.push(cleanup);
    const run = (args: string[], env: Record<string, string> = {}) => Bun.spawnSync([bin, ...args], { cwd: dir, env: { PATH: "/usr/bin:/bin", ...env } });
    const version = run(["version"]);
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString()).toMatch(/^vxman \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}/);
    for (const help of [["--help"], ["help"]]) {
      const r = run(help);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toContain("vxman migrate");
    }
    const unknown = run(["frobnicate"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.toString()).toContain('unknown command "frobnicate"');
    expect(unknown.stderr.toString()).toContain("Usage:");
    expect(run(["serve", "--bogus"]).exitCode).toBe(2);
    // A configuration error is said the way the logs are: JSON lines (the default off a terminal,
    // as under systemd), or text for people.
    const badConfig = run(["serve"], { PORT: "http", LOG_FORMAT: "json" });
    expect(badConfig.exitCode).toBe(2);
    expect(JSON.parse(badConfig.stderr.toString())).toMatchObject({
      level: "fatal",
      setting: "PORT",
      msg: 'PORT="http" is invalid: PORT accepts a whole number from 0 to 65535',
    });
    const forPeople = run(["serve"], { PORT: "http", LOG_FORMAT: "pretty" });
    expect(forPeople.stderr.toString().trim()).toBe('vxman: PORT="http" is invalid: PORT accepts a whole number from 0 to 65535');
    const config = run(["help", "config"]).stdout.toString();
    expect(config).toContain("DATABASE_URL  (default: unset: embedded PGlite)");
    expect(config).not.toContain("((");
    expect(config).toContain("ALLOWED_HOSTS");
  });

  test("a port already in use: fails at once, before writing anything (no database, no admin token printed)", async () => {
    const { bin, dir, cleanup } = isolatedBinary();
    cleanups.push(cleanup);
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = Bun.spawnSync([bin, "serve"], { cwd: dir, env: { PATH: "/usr/bin:/bin", HOST: "127.0.0.1", PORT: String(taken.port), LOG_FORMAT: "json" }, timeout: 30_000 });
      expect(r.exitCode).toBe(1);
      const out = r.stdout.toString() + r.stderr.toString();
      expect(out).toContain(`port ${taken.port} on 127.0.0.1 is already in use`);
      expect(out).not.toContain("admin token");
      expect(existsSync(join(dir, "vxman-data"))).toBe(false);
    } finally {
      taken.stop(true);
    }
  });

  test("the startup log names a URL a person can open, and a lost generated admin token can be replaced", async () => {
    const served = await startBinary({ HOST: "0.0.0.0" });
    const port = new URL(served.base).port;
    const serving = served.output().split("\n").find((l) => l.includes('"msg":"vxman is serving"'))!;
    expect(JSON.parse(serving)).toMatchObject({ url: `http://localhost:${port}/`, listening_on: `0.0.0.0:${port}` });
    const lost = /generated admin token \(shown only now, keep it\): (\S+)"/.exec(served.output())![1]!;

    expect(await served.halt()).toBe(0);
    const reset = served.run(["admin-token", "reset"]);
    expect(reset.code).toBe(0);
    const fresh = reset.stdout.trim();
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(fresh).not.toBe(lost);
    await served.start();
    const metrics = (token: string) => fetch(`${served.base}/metrics`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await metrics(fresh)).toBe(200);
    expect(await metrics(lost)).toBe(403);
    expect(served.output()).not.toContain(fresh); // printed by the command, never logged by the server
  });

  test("the monitor writes healthy machines' results at half the check interval (5–30 s) unless MONITOR_WRITE_INTERVAL says otherwise", async () => {
    const writeInterval = async (env: Record<string, string>) => {
      const served = await startBinary({ DATABASE_URL: await (await sharedPgCluster()).createDatabase(), ...env });
      const on = served.output().split("\n").find((l) => l.includes('"msg":"ICMP monitoring on"'));
      expect(on).toBeDefined();
      await served.stop();
      const { check_interval_ms, write_interval_ms } = JSON.parse(on!);
      return [check_interval_ms, write_interval_ms];
    };
    expect(await writeInterval({})).toEqual([60_000, 30_000]); // the seed's default interval
    expect(await writeInterval({ PING_INTERVAL: "20s" })).toEqual([20_000, 10_000]);
    expect(await writeInterval({ PING_INTERVAL: "2s" })).toEqual([2_000, 5_000]);
    expect(await writeInterval({ PING_INTERVAL: "10m" })).toEqual([600_000, 30_000]);
    expect(await writeInterval({ MONITOR_WRITE_INTERVAL: "2s" })).toEqual([60_000, 2_000]);
  });

  test("embedded PGlite: serves from an empty folder, prints a generated admin token once, register/list/delete", async () => {
    const served = await startBinary({});
    const { base, dir } = served;
    expect(existsSync(join(dir, "vxman-data", "pgdata", "PG_VERSION"))).toBe(true);
    const token = /generated admin token \(shown only now, keep it\): (\S+)"/.exec(served.output())?.[1];
    expect(token).toBeString();
    expect(served.output()).toContain("set ADMIN_TOKEN");

    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ status: "ok", database: "ok", storage: "pglite" });
    // Once serving, the pages of the files embedded in the executable that startup read (PGlite's
    // WASM, file bundle and seed) are given back: Bun does that when the entry module finishes
    // evaluating, which main.ts lets happen once the server is up (~20 MiB of RSS).
    expect(residentEmbeddedKiB(served.pid())).toBeLessThan(pgliteFilesKiB());

    const created = await put(base, "127.5.0.1", { hostname: "bin-1", mac_address: "52:54:00:05:00:01" });
    expect(created.status).toBe(201);
    const m = await created.json();
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${base}/api/machines`)).status).toBe(401); // reads need a login or a token
    const list = await (await fetch(`${base}/api/machines`, { headers: auth })).json();
    expect(list.items.map((x: { id: number }) => x.id)).toEqual([m.id]);
    expect((await fetch(`${base}/api/machines/${m.id}`, { method: "DELETE" })).status).toBe(401);
    const del = await fetch(`${base}/api/machines/${m.id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(204);
    expect((await (await fetch(`${base}/api/machines`, { headers: auth })).json()).total).toBe(0);

    // The dashboard and the offline docs are inside the binary.
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const docs = await (await fetch(`${base}/docs`)).text();
    expect(docs).toContain("/docs/swagger-ui-bundle.js");
    expect(docs).not.toMatch(/https?:\/\//); // nothing from a CDN
    expect((await fetch(`${base}/docs/swagger-ui-bundle.js`)).status).toBe(200);
    const spec = await (await fetch(`${base}/docs/json`)).json();
    expect(Object.keys(spec.paths)).toContain("/api/machines/{machine}");

    // SIGTERM stops it cleanly; a restart keeps the data and does not print a new token.
    expect(await served.restart()).toBe(0);
    const events = await (await fetch(`${base}/api/events`, { headers: auth })).json();
    expect(events.items.map((e: { kind: string }) => e.kind)).toEqual(["deleted", "registered"]);
    expect(await served.stop()).toBe(0);
    expect(served.output().match(/generated admin token/g)).toHaveLength(1);
  });

  test("PostgreSQL via DATABASE_URL: migrate, then serve with ADMIN_TOKEN and REGISTRATION_TOKEN", async () => {
    const url = await (await sharedPgCluster()).createDatabase();
    const { bin, dir, cleanup } = isolatedBinary();
    cleanups.push(cleanup);
    const migrate = Bun.spawnSync([bin, "migrate"], { cwd: dir, env: { DATABASE_URL: url, LOG_FORMAT: "json" } });
    expect(migrate.exitCode).toBe(0);
    expect(migrate.stdout.toString()).toContain("migrations applied");

    const admin = "binary-test-admin-token-123";
    const reg = "binary-test-registration-456";
    const served = await startBinary({ DATABASE_URL: url, ADMIN_TOKEN: admin, REGISTRATION_TOKEN: reg });
    const { base } = served;
    expect(served.output()).not.toContain(admin); // tokens are never logged
    expect(served.output()).toContain("schema up to date");
    expect((await (await fetch(`${base}/health`)).json()).storage).toBe("postgres");

    const body = { hostname: "pg-1", mac_address: "52:54:00:05:00:02" };
    expect((await put(base, "127.5.0.2", body)).status).toBe(401);
    expect((await put(base, "127.5.0.2", body, { authorization: "Bearer wrong-registration-token" })).status).toBe(403);
    const ok = await put(base, "127.5.0.2", body, { authorization: `Bearer ${reg}` });
    expect(ok.status).toBe(201);
    const hb = await fetch(`${base}/api/machines/127.5.0.2/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${reg}` } });
    expect(hb.status).toBe(204);
    const del = await fetch(`${base}/api/machines/127.5.0.2`, { method: "DELETE", headers: { authorization: `Bearer ${admin}` } });
    expect(del.status).toBe(204);
  });
});
