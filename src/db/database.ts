// One small database interface over both storage modes, so every query in vxman is written
// once: PostgreSQL through postgres.js in production, PGlite (the same Postgres, compiled to
// WASM) embedded when no DATABASE_URL is set. Queries are plain SQL with $1 parameters.

export interface Queryable {
  /** One parameterised statement; returns its rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Run fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** PostgreSQL only (several instances share one): LISTEN on a dedicated connection that
   *  reconnects by itself; onListen runs once listening, and again after every reconnect. */
  listen?(channel: string, onMessage: (payload: string) => void, onListen: () => void): Promise<{ unlisten(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * The database cannot be reached (refused, closed, timed out). The API answers 503 with
 * Retry-After; the monitor keeps what it would have written and retries.
 */
export class DatabaseUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`database unavailable: ${reason}`);
  }
}

// postgres.js connection errors carry these codes; SQLSTATE class 08 is "connection exception",
// 57P0x is "server shutting down / cannot connect now".
const CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOENT",
  "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT",
  "57P01", "57P02", "57P03",
]);

export function isConnectionError(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08"));
}

/** Rethrow connection failures as DatabaseUnavailableError; everything else unchanged. */
export function classifyError(err: unknown): never {
  if (err instanceof DatabaseUnavailableError) throw err;
  if (isConnectionError(err)) {
    const e = err as { code?: string; message?: string };
    throw new DatabaseUnavailableError(`${e.code ?? "error"}: ${e.message ?? "connection failed"}`);
  }
  throw err;
}
