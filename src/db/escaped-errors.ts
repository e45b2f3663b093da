// postgres.js 3.4.9 begins every new connection by fetching the server's array types, in a
// promise nothing awaits (connection.js: ReadyForQuery → fetchArrayTypes). When the server goes
// away during that query and the reconnect is refused, that query's rejection has no handler: an
// unhandled rejection, which ends a Bun process. A database restart at the wrong moment would have
// killed vxman (it failed a CI run twice; test/db/escaped-errors.test.ts makes it happen on purpose).
// The queries callers made get their own errors (and their 503s) all the same, so a connection
// error that escapes this way is only logged, and the server goes on. Anything else that escapes
// is still a bug, and still fatal.
import { isConnectionError } from "./database.ts";

export interface EscapedErrorHandlers {
  /** A database connection error no caller was waiting for: log it, go on. */
  onConnectionError(err: unknown): void;
  /** Anything else: the caller decides (the server logs it and exits 1, as Bun would). */
  onOther(reason: unknown): void;
}

/** Installed once, by `vxman serve` (src/main.ts) before it opens the database. */
export function survivePostgresEscapedErrors(handlers: EscapedErrorHandlers): void {
  process.on("unhandledRejection", (reason) => (isConnectionError(reason) ? handlers.onConnectionError(reason) : handlers.onOther(reason)));
}
