// PostgreSQL through postgres.js: a small pool, prepared statements, and connection errors
// turned into DatabaseUnavailableError so callers can answer 503 instead of 500.
import postgres from "postgres";
import { classifyError, type Database, type Queryable } from "./database.ts";

export interface PostgresOptions {
  url: string;
  /** Connections in the pool. */
  max?: number;
  onNotice?: (message: string) => void;
}

export function openPostgres({ url, max = 10, onNotice }: PostgresOptions): Database {
  const sql = postgres(url, {
    max,
    // Fail fast when the server is gone: a request waiting 30 s for a 503 helps nobody.
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: (n) => onNotice?.(String(n.message)),
    // int8 (counts, event ids) as numbers like PGlite does; ids stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: "vxman" },
  });

  const wrap = (q: postgres.Sql | postgres.TransactionSql): Queryable => ({
    async query<T>(text: string, params: unknown[] = []) {
      try {
        return (await q.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];
      } catch (err) {
        return classifyError(err);
      }
    },
    async exec(text: string) {
      try {
        await q.unsafe(text);
      } catch (err) {
        classifyError(err);
      }
    },
  });

  return {
    kind: "postgres",
    ...wrap(sql),
    async transaction(fn) {
      try {
        return (await sql.begin((tx) => fn(wrap(tx)))) as Awaited<ReturnType<typeof fn>>;
      } catch (err) {
        return classifyError(err);
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
