// Many machines at once, straight into a fresh PostgreSQL database (registering 100,000 over HTTP
// is the storm bench's business), and the compiled binary serving them: for the big-fleet test
// and the benches. The addresses are 127.10.0.1 onwards, loopback, so checking them is harmless.
import { spawnSync } from "node:child_process";
import postgres from "postgres";
import { isolatedBinary, serveBinary, type ServedBinary } from "./binary.ts";
import { sharedPgCluster } from "./postgres.ts";

/** Brings the database at `url` to the current schema with the binary's `migrate`. */
export function migrate(url: string, binary?: string): void {
  const { bin, cleanup } = isolatedBinary(binary);
  try {
    const r = spawnSync(bin, ["migrate"], { env: { PATH: process.env.PATH ?? "", DATABASE_URL: url }, encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`migrate failed: ${r.stderr}`);
  } finally {
    cleanup();
  }
}

/** `count` machines named `<name>N`, at 127.10.0.1 + N, in one INSERT. `scattered`: stored in
 *  an order unrelated to N, as a fleet registered over time is (ids in no relation to names or
 *  addresses), so that a page sorting by name really sorts; otherwise in N's order. */
export async function seedMachines(sql: postgres.Sql, count: number, name = "node-", { scattered = false } = {}): Promise<void> {
  await sql`
    INSERT INTO machines (hostname, ip_address, mac_address)
    SELECT ${name} || n, '127.10.0.1'::inet + n, ('5254' || lpad(to_hex(n), 8, '0'))::macaddr
    FROM generate_series(0, ${count - 1}::int) n
    ORDER BY CASE WHEN ${scattered}::boolean THEN md5(n::text) END, n`;
}

/** A fresh database on the shared test cluster with `count` machines (seedMachines), and a server
 *  of `binary` (this checkout's when undefined) on it, watching them every 60 s. */
export async function fleetOnPostgres(count: number, binary: string | undefined, env: Record<string, string>, { scattered = false } = {}): Promise<ServedBinary> {
  const url = await (await sharedPgCluster()).createDatabase();
  migrate(url, binary);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await seedMachines(sql, count, "node-", { scattered });
  } finally {
    await sql.end();
  }
  return serveBinary(
    { DATABASE_URL: url, RATE_LIMIT: "0", LOG_LEVEL: "warn", PING_INTERVAL: "60s", MAX_MACHINES: String(count + 1000), ...env },
    { startTimeoutMs: 180_000, binary },
  );
}
