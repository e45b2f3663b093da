// The PostgreSQL layer's transactions under the two conditions that broke them: many queries in
// flight on a small pool (postgres.js pipelines them, and its sql.begin could then run a
// transaction on an unreserved connection: UNSAFE_TRANSACTION), and the server dying while
// transactions are open (a dead connection must not go back among the idle ones).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DatabaseUnavailableError } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { startPgCluster, type PgCluster } from "../helpers/postgres.ts";

describe("PostgreSQL transactions", () => {
  let pg: PgCluster;
  let url: string;
  beforeAll(async () => {
    pg = await startPgCluster(); // its own: the second test stops it
    url = await pg.createDatabase();
    const db = openPostgres({ url });
    await migrate(db);
    await db.close();
  }, 60_000);
  afterAll(() => pg?.destroy(), 30_000);

  test("transactions issued behind hundreds of pipelined queries on 3 connections: each commits in one transaction", async () => {
    const db = openPostgres({ url, max: 3 });
    try {
      let committed = 0;
      for (let round = 0; round < 12; round++) {
        // Keep the connections busy, queue ~100 queries behind each (postgres.js pipelines up to
        // 100 per connection), then start transactions: their BEGINs land at and around the
        // point where a connection's pipeline is full, a little further each round.
        const sleepers = Array.from({ length: 3 }, () => db.query("SELECT pg_sleep(0.1)"));
        const before = Array.from({ length: 288 + round }, (_, i) => db.query("SELECT $1::int AS i", [i]));
        await Bun.sleep(0); // let postgres.js send those first
        const txs = Array.from({ length: 12 }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.query("SELECT pg_advisory_xact_lock(42)");
            await tx.query("INSERT INTO settings (key, value) VALUES ($1, 'x')", [`r${round}-${i}`]);
            // Inside one transaction: txid_current() is the same for both statements.
            const [a] = await tx.query<{ x: string }>("SELECT txid_current()::text AS x");
            const [b] = await tx.query<{ x: string }>("SELECT txid_current()::text AS x");
            return a!.x === b!.x;
          }),
        );
        const after = Array.from({ length: 50 }, (_, i) => db.query("SELECT $1::int AS i", [i]));
        const results = await Promise.allSettled([...sleepers, ...before, ...txs, ...after]);
        const failures = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
        expect(failures).toEqual([]);
        expect(await Promise.all(txs)).toEqual(Array(12).fill(true));
        committed += 12;
      }
      const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM settings WHERE key LIKE 'r%'")) as [{ n: number }];
      expect(n).toBe(committed);
      // Nothing is left open on the server: no connection sits inside a forgotten transaction.
      const [{ open }] = (await db.query<{ open: number }>(
        "SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
      )) as [{ open: number }];
      expect(open).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);

  test("the server dies with transactions open: each fails as 'database unavailable', nothing crashes, the pool recovers", async () => {
    const db = openPostgres({ url, max: 4 });
    try {
      await Promise.all(Array.from({ length: 4 }, () => db.query("SELECT 1"))); // every connection open
      const open = Array.from({ length: 12 }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO settings (key, value) VALUES ($1, 'lost')", [`dead-${i}`]);
          await tx.query("SELECT pg_sleep(5)");
        }),
      );
      await Bun.sleep(300);
      pg.stop("immediate");
      const outcomes = await Promise.allSettled(open);
      expect(outcomes.every((o) => o.status === "rejected" && o.reason instanceof DatabaseUnavailableError)).toBe(true);
      // While it is down, new transactions fail the same way, again and again (no dead socket reused).
      for (let i = 0; i < 5; i++) {
        await expect(db.transaction((tx) => tx.query("SELECT 1"))).rejects.toBeInstanceOf(DatabaseUnavailableError);
      }
      pg.start();
      const after = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? db.transaction((tx) => tx.query("SELECT 1 AS ok")) : db.query("SELECT 1 AS ok"))));
      expect(after.every((rows) => rows.length === 1)).toBe(true);
      const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM settings WHERE key LIKE 'dead-%'")) as [{ n: number }];
      expect(n).toBe(0); // nothing of the interrupted transactions was committed
    } finally {
      await db.close();
    }
  }, 60_000);
});
