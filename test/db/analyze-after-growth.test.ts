// Fresh statistics after a table grows (src/db/analyze-after-growth.ts), on PostgreSQL and PGlite:
// nothing below the growth threshold, an ANALYZE once it is reached. pg_class.reltuples tells:
// -1 for a table never analyzed (nor vacuumed), its row count after ANALYZE.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AnalyzeAfterGrowth } from "../../src/db/analyze-after-growth.ts";
import type { Database } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { STORAGE_KINDS, testDatabase } from "../helpers/app.ts";

const log = createLogger({ level: "error", format: "json" });

async function reltuples(db: Database, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>("SELECT reltuples::float8 AS n FROM pg_class WHERE relname = $1", [table]);
  return row!.n;
}

for (const kind of STORAGE_KINDS) {
  describe(`ANALYZE after growth (${kind})`, () => {
    let db: Database;
    beforeAll(async () => {
      db = await testDatabase(kind);
      // Autovacuum off: its own ANALYZE would make the test pass or fail by chance.
      await db.exec("CREATE TABLE grown (id int) WITH (autovacuum_enabled = false); INSERT INTO grown SELECT generate_series(1, 1500)");
    }, 60_000);
    afterAll(() => db.close());

    test("below the threshold nothing runs; reaching it analyzes the table", async () => {
      const statistics = new AnalyzeAfterGrowth(db, "grown", log, 1000, 0);
      statistics.grew(999);
      await Bun.sleep(200);
      expect(await reltuples(db, "grown")).toBe(-1);
      statistics.grew(1);
      let n = -1;
      for (let i = 0; i < 50 && n !== 1500; i++) {
        await Bun.sleep(100);
        n = await reltuples(db, "grown");
      }
      expect(n).toBe(1500);
    });
  });
}
