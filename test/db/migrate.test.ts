import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "../../src/db/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import { openPglite } from "../../src/db/pglite.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";

test("every file in sql/ is embedded, numbered in order", () => {
  const files = readdirSync(join(import.meta.dir, "../../sql")).filter((f) => f.endsWith(".sql")).sort();
  expect(MIGRATIONS.map((m) => m.name)).toEqual(files);
  // Numbers may skip one reserved for work that lands later (004 while 005 is in), never go back.
  MIGRATIONS.forEach((m, i) => {
    expect(m.version).toBeGreaterThan(MIGRATIONS[i - 1]?.version ?? 0);
    expect(m.name.startsWith(String(m.version).padStart(3, "0") + "_")).toBe(true);
  });
});

const open = {
  postgres: async () => openPostgres({ url: await (await sharedPgCluster()).createDatabase() }),
  pglite: () => openPglite(),
};

for (const [kind, make] of Object.entries(open)) {
  describe(`migrations on ${kind}`, () => {
    const dbs: Database[] = [];
    afterAll(() => Promise.all(dbs.map((d) => d.close())));

    test("apply in order once, record each, and are idempotent", async () => {
      const db = await make();
      dbs.push(db);
      const first = await migrate(db);
      expect(first.applied).toEqual(MIGRATIONS.map((m) => m.name));
      expect(first.current).toBe(MIGRATIONS.at(-1)!.version);
      const second = await migrate(db);
      expect(second.applied).toEqual([]);
      const rows = await db.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      const tables = await db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
      // Every table a migration creates, and nothing else.
      const created = MIGRATIONS.flatMap((m) => [...m.sql.matchAll(/^CREATE TABLE (\w+)/gm)].map((x) => x[1]!));
      expect(tables.map((r) => r.t)).toEqual([...created, "schema_migrations"].sort());
    });

    test("a failing migration rolls back whole and is not recorded", async () => {
      const db = await make();
      dbs.push(db);
      const broken = [...MIGRATIONS, { version: 99, name: "099_broken.sql", sql: "CREATE TABLE half_done (id int); SELECT no_such_function();" }];
      await expect(migrate(db, broken)).rejects.toThrow();
      const [half] = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'");
      expect(half).toBeUndefined();
      const [rec] = await db.query("SELECT 1 FROM schema_migrations WHERE version = 99");
      expect(rec).toBeUndefined();
    });
  });
}

// PGlite has one connection, so only PostgreSQL can race two starts against each other.
test("two instances migrating one PostgreSQL at once apply each migration exactly once", async () => {
  const url = await (await sharedPgCluster()).createDatabase();
  const a = openPostgres({ url });
  const b = openPostgres({ url });
  try {
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    expect([...ra.applied, ...rb.applied].sort()).toEqual(MIGRATIONS.map((m) => m.name));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
