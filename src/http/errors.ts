// One error shape for every failure: {"error": code, "message": sentence, "details"?: [...]}.
// Services throw ApiError; this plugin turns everything else (validation, parse, database
// outage, bugs) into the same shape. No stack trace ever reaches a client.
import { Elysia, ValidationError } from "elysia";
import { DatabaseUnavailableError } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { clientKey, clientOf, pathOf } from "./client.ts";
import { WindowCounter } from "./rate-limit.ts";

export interface ErrorBody {
  error: string;
  message: string;
  details?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorBody["details"],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} was not found.`);

/** Seconds a client should wait before retrying when the database is down. */
export const DB_RETRY_AFTER_S = 5;

/** Refused requests logged per client and minute; past it they are only counted. */
export const REFUSALS_LOGGED_PER_MINUTE = 10;

export function errorHandling(log: Logger, metrics?: Metrics) {
  const logBudget = new WindowCounter(REFUSALS_LOGGED_PER_MINUTE);
  return new Elysia({ name: "errors" }).onError({ as: "global" }, ({ code, error, request, set }) => {
    const path = pathOf(request.url);
    const reply = (status: number, body: ErrorBody, headers: Record<string, string> = {}) => {
      set.status = status;
      set.headers["content-type"] = "application/json; charset=utf-8";
      Object.assign(set.headers, headers);
      // A line per refused request, up to a budget per client and minute, so a flood of bad
      // requests costs a bounded number of lines (the rest are counted in /metrics). The message
      // and field names go in, never the body or headers, so no token can reach the log.
      if (status < 500) {
        const client = clientOf(request);
        if (logBudget.hit(clientKey(client)) === 0) log.info({ method: request.method, path, status, error: body.error, client }, "request refused");
        else metrics?.refusalsNotLogged.inc();
      }
      return body;
    };
    // Elysia wraps whatever a body parser throws in a ParseError; ours throws ApiErrors (413/415).
    const apiError = error instanceof ApiError ? error : (error as Error)?.cause instanceof ApiError ? ((error as Error).cause as ApiError) : null;
    if (apiError) {
      return reply(apiError.status, { error: apiError.code, message: apiError.message, details: apiError.details }, apiError.headers);
    }
    if (error instanceof DatabaseUnavailableError) {
      metrics?.dbErrors.inc();
      log.warn({ reason: error.reason, path }, "request failed: database unavailable");
      return reply(
        503,
        { error: "database_unavailable", message: "The database cannot be reached right now; try again shortly." },
        { "retry-after": String(DB_RETRY_AFTER_S) },
      );
    }
    switch (code) {
      case "VALIDATION":
        return reply(422, validationBody(error as ValidationError));
      case "PARSE":
        return reply(400, { error: "malformed_json", message: "The request body is not valid JSON." });
      case "NOT_FOUND":
        return reply(404, { error: "not_found", message: `There is no ${request.method.slice(0, 20)} ${path.slice(0, 200)}.` });
      case "INVALID_COOKIE_SIGNATURE":
      case "INVALID_FILE_TYPE":
        return reply(400, { error: "bad_request", message: String((error as Error).message) });
    }
    log.error({ err: error, method: request.method, path }, "request failed: internal error");
    return reply(500, { error: "internal_error", message: "Something went wrong on the server; it has been logged." });
  });
}

/**
 * The `error` option of a query parameter's schema: its message, and its name. A query number
 * that fails its bounds is reported by Elysia as an error of the number's own schema, without
 * the parameter's name (it is checked while the string is turned into a number), so the name
 * travels with the message.
 */
export const fieldError = (field: string, message: string): string =>
  // Elysia keeps any value as a schema's `error` and hands it back with the failure; only its
  // type says string.
  ({ field, message }) as unknown as string;

/** Name each invalid field and say why, in words a person understands. */
function validationBody(error: ValidationError): ErrorBody {
  const seen = new Set<string>();
  const details: { field: string; message: string }[] = [];
  for (const issue of error.all) {
    if (!("path" in issue)) continue;
    const custom = (issue.schema as { error?: unknown }).error;
    const named = typeof custom === "object" && custom !== null ? (custom as { field?: string; message?: string }) : undefined;
    const field = issue.path.replace(/^\//, "").replaceAll("/", ".") || named?.field || error.type;
    if (seen.has(field)) continue; // TypeBox reports a union branch per variant; one line per field is enough
    seen.add(field);
    details.push({ field, message: named?.message ?? (typeof custom === "string" ? custom : issue.message) });
  }
  const where = { body: "request body", params: "URL", query: "query string", headers: "headers", property: "query string" }[error.type] ?? error.type;
  const summary = details.map((d) => `${d.field}: ${d.message}`).join("; ");
  return { error: "invalid_request", message: `Invalid ${where}${summary ? ` — ${summary}` : ""}.`, details };
}
