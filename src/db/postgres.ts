// PostgreSQL through postgres.js: a small pool, prepared statements, and connection errors
// turned into DatabaseUnavailableError so callers can answer 503 instead of 500.
import postgres from "postgres";
import { classifyError, DatabaseUnavailableError, type Database, type Queryable } from "./database.ts";

export interface PostgresOptions {
  url: string;
  /** Connections in the pool (transactions have one more, of their own). */
  max?: number;
  onNotice?: (message: string) => void;
  /** Shown in pg_stat_activity; the events trigger names the writer with it (cluster/). */
  applicationName?: string;
}

export function openPostgres({ url, max = 10, onNotice, applicationName = "vxman" }: PostgresOptions): Database {
  const options = {
    // Fail fast when the server is gone: a request waiting 30 s for a 503 helps nobody.
    connect_timeout: 5,
    // Reconnect attempts at most a second apart (postgres.js's default grows to 20 s after a
    // few failures): requests during an outage get their 503 within about a second instead of
    // queueing behind a long delay, and the server is back within a second of the database.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    idle_timeout: 60,
    onnotice: (n: postgres.Notice) => onNotice?.(String(n.message)),
    // int8 (counts, event ids) as numbers like PGlite does; ids stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: applicationName },
  };
  const sql = postgres(url, { ...options, max });

  const wrap = (q: postgres.Sql, alive: () => void = () => {}): Queryable => ({
    async query<T>(text: string, params: unknown[] = []) {
      alive();
      try {
        return (await q.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];
      } catch (err) {
        return classifyError(err);
      }
    },
    async exec(text: string) {
      alive();
      try {
        await q.unsafe(text);
      } catch (err) {
        classifyError(err);
      }
    },
  });

  // Transactions: BEGIN … COMMIT by hand, one at a time, on a connection of their own. Not
  // postgres.js's sql.begin, which 3.4.9 gets wrong twice: with many queries in flight it can
  // send BEGIN on a connection it then fails to reserve (UNSAFE_TRANSACTION, and the open
  // transaction goes back to the pool for unrelated queries to run in, never committed:
  // porsager/postgres#823, #1189); and when the server dies mid-transaction its ROLLBACK is
  // written to the closed socket, which throws outside any promise and kills the process.
  // A pool of one connection may run BEGIN as a plain statement; if that connection closes
  // while a transaction is open, the rest of the transaction is refused instead of being sent
  // on the reconnected one (where it would run outside any transaction).
  let open: { lost: boolean } | null = null;
  const txSql = postgres(url, { ...options, max: 1, onclose: () => open && (open.lost = true) });
  let queue: Promise<unknown> = Promise.resolve();

  async function runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx = { lost: false };
    const alive = () => {
      if (tx.lost) throw new DatabaseUnavailableError("connection lost during a transaction");
    };
    try {
      await wrap(txSql).exec("BEGIN");
      open = tx; // from here on (not during the connection attempts BEGIN may have needed)
      try {
        const result = await fn(wrap(txSql, alive));
        alive();
        await wrap(txSql).exec("COMMIT");
        return result;
      } catch (err) {
        // On whatever connection is there now: harmless on a fresh one, and it closes the
        // transaction a BEGIN may have opened on a reconnected one.
        await txSql.unsafe("ROLLBACK").catch(() => {});
        throw err;
      }
    } finally {
      open = null;
    }
  }

  return {
    kind: "postgres",
    ...wrap(sql),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const run = queue.then(() => runTransaction(fn));
      queue = run.catch(() => {});
      return run;
    },
    async listen(channel, onMessage, onListen) {
      const subscription = await sql.listen(channel, onMessage, onListen);
      return { unlisten: () => subscription.unlisten() };
    },
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), txSql.end({ timeout: 5 })]);
    },
  };
}
