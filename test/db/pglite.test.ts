// The embedded database: data survives a restart; one process per data folder.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "../../src/db/migrate.ts";
import { openPglite } from "../../src/db/pglite.ts";
import { startProcess } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "vxman-pglite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("data written before close is there after reopening", async () => {
  const first = await openPglite(dir);
  await migrate(first);
  await first.query("INSERT INTO machines (hostname, ip_address, mac_address) VALUES ('keep', '127.4.0.1', '52:54:00:00:00:01')");
  await first.close();

  const second = await openPglite(dir);
  const rows = await second.query<{ hostname: string }>("SELECT hostname FROM machines");
  expect(rows.map((r) => r.hostname)).toEqual(["keep"]);
  expect((await migrate(second)).applied).toEqual([]);
  await second.close();
});

test("runs with its small shared memory (it lives in the WASM memory, never given back), on a reopened folder too", async () => {
  const db = await openPglite(dir);
  const [settings] = await db.query<{ shared_buffers: string; max_connections: string }>(
    "SELECT current_setting('shared_buffers') AS shared_buffers, current_setting('max_connections') AS max_connections",
  );
  expect(settings).toEqual({ shared_buffers: "8MB", max_connections: "8" });
  await db.close();
});

test("a second process on the same data folder is refused with a clear message (saying PostgreSQL is the way to run several), and may start once the first is gone", async () => {
  const holder = await openPglite(dir);
  try {
    const proc = startProcess([process.execPath, join(import.meta.dir, "../../src/main.ts"), "migrate"], {
      env: { DATA_DIR: dir, LOG_FORMAT: "json" },
    });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`data folder ${dir} is in use by vxman pid ${process.pid}`);
    expect(proc.output()).toContain("to run several instances together, point them all at one PostgreSQL (DATABASE_URL)");
  } finally {
    await holder.close();
  }
  const after = startProcess([process.execPath, join(import.meta.dir, "../../src/main.ts"), "migrate"], {
    env: { DATA_DIR: dir, LOG_FORMAT: "json" },
  });
  expect(await after.exited).toBe(0);
  expect(after.output()).toContain("schema up to date");
});
