// Open the database the configuration asks for: PostgreSQL when DATABASE_URL is set,
// the embedded PGlite in DATA_DIR otherwise.
import type { Config } from "../config.ts";
import type { Database } from "./database.ts";
import { openPglite } from "./pglite.ts";
import { openPostgres } from "./postgres.ts";

export type { Database, Queryable } from "./database.ts";
export { DatabaseUnavailableError, isConnectionError } from "./database.ts";

export async function openDatabase(config: Pick<Config, "databaseUrl" | "dataDir">, applicationName?: string): Promise<Database> {
  return config.databaseUrl ? openPostgres({ url: config.databaseUrl, applicationName }) : openPglite(config.dataDir);
}

/** Where the data lives, for logs and /health (the password never shown). */
export function describeStorage(config: Pick<Config, "databaseUrl" | "dataDir">): string {
  if (!config.databaseUrl) return `embedded PGlite in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.hostname || "local socket"}${url.port ? ":" + url.port : ""}${url.pathname}`;
}
