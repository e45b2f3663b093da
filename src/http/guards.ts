// The front door: rules every request meets before it reaches a route. Security headers on
// every answer; a usable Host (and, with ALLOWED_HOSTS, one of ours); bodies JSON and at most
// 64 KiB; no state change from another site's page. (The rate limit, rate-limit.ts, runs
// between the headers and these checks, so refused requests count too.)
import { Elysia } from "elysia";
import { hasUsableHost, pathOf } from "./client.ts";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Bun.serve's maxRequestBodySize: the hard cap where the socket layer itself answers a bare 413
 * (no JSON, no security headers) before vxman sees the request. It must sit well above
 * MAX_BODY_BYTES so that a body a little over the limit — with a Content-Length or chunked —
 * gets vxman's own JSON 413; the parser never reads more than MAX_BODY_BYTES + one chunk.
 */
export const MAX_SOCKET_BODY_BYTES = 1024 * 1024;

// No inline script, nothing from another origin, never framed. The docs page (Swagger UI) sets
// inline style attributes, so styles may be inline there and only there.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface GuardOptions {
  /** ALLOWED_HOSTS: the names and addresses this server answers to; empty = any. */
  allowedHosts: string[];
  /** CORS_ORIGINS: other origins whose pages may call the API (with a bearer token). */
  corsOrigins: string[];
  trustProxy: boolean;
}

/** On every answer, refusals included: registered before anything that may refuse a request. */
export function securityHeaders() {
  return new Elysia({ name: "security-headers" }).onRequest(({ request, set }) => {
    const path = pathOf(request.url);
    Object.assign(set.headers, SECURITY_HEADERS, {
      "content-security-policy": path === "/docs" || path.startsWith("/docs/") ? DOCS_CSP : CSP,
    });
  });
}

export function httpGuards(options: GuardOptions) {
  return new Elysia({ name: "http-guards" }).onRequest(({ request }) => {
    checkHost(request, options.allowedHosts);
    checkBody(request);
    const problem = crossSiteProblem(request, options);
    if (problem) throw new ApiError(403, "cross_site_request", problem);
  });
}

function checkHost(request: Request, allowedHosts: string[]) {
  if (!hasUsableHost(request.url)) {
    throw new ApiError(400, "invalid_host", "The request has no usable Host header (send Host: name-or-address[:port]).");
  }
  if (allowedHosts.length === 0) return;
  const host = hostName(new URL(request.url).host);
  if (!allowedHosts.includes(host)) {
    throw new ApiError(
      421,
      "unknown_host",
      `This server does not answer to the host name "${host.slice(0, 100)}" (ALLOWED_HOSTS); use one of the names it is configured for.`,
    );
  }
}

/** "Name:8080" → "name"; "[::1]:8080" → "::1". */
export function hostName(authority: string): string {
  const v6 = /^\[([^\]]+)\]/.exec(authority);
  return (v6 ? v6[1]! : authority.replace(/:\d*$/, "")).toLowerCase();
}

/** Bodies are JSON and small, on every route: a form or text body is refused before any route
 *  runs, so a cross-site HTML form cannot reach one (even a route that ignores its body). */
function checkBody(request: Request) {
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) throw tooLarge(length);
  // A body: announced by its length, or chunked (no length at all) — a Request made in-process
  // carries one without either header.
  const hasBody = length > 0 || (!request.headers.has("content-length") && request.body !== null);
  if (hasBody && !isJson(request.headers.get("content-type"))) {
    throw new ApiError(415, "unsupported_media_type", 'Send the body as JSON with "Content-Type: application/json".');
  }
}

const isJson = (contentType: string | null) => /^application\/json\s*(;|$)/i.test(contentType ?? "");

/**
 * Why a state-changing request looks like it comes from another site's page, or null. Browsers
 * say where a request comes from (Sec-Fetch-Site, Origin); a page of another site must not
 * change anything here, e.g. keep a dead machine "active" with a heartbeat form. Origins in
 * CORS_ORIGINS may (they call with a bearer token). Requests without those headers (curl,
 * scripts, machines) are not from a browser page and pass.
 */
export function crossSiteProblem(request: Request, { corsOrigins, trustProxy }: Pick<GuardOptions, "corsOrigins" | "trustProxy">): string | null {
  if (SAFE_METHODS.has(request.method)) return null;
  const site = request.headers.get("sec-fetch-site");
  const origin = request.headers.get("origin");
  if (origin && corsOrigins.some((o) => o === "*" || o === origin)) return null;
  if (site === "same-origin" || site === "none") return null;
  if (site === "cross-site" || site === "same-site") return "A page of another site may not change anything here (Sec-Fetch-Site: " + site + ").";
  if (origin === null) return null;
  if (origin === ownOrigin(request, trustProxy)) return null;
  return `A page of another origin (${origin.slice(0, 100)}) may not change anything here.`;
}

/** This server's origin as the browser sees it: scheme and Host (X-Forwarded-Proto behind a trusted proxy). */
export function ownOrigin(request: Request, trustProxy: boolean): string {
  const url = new URL(request.url);
  const forwarded = trustProxy ? request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() : undefined;
  const scheme = forwarded === "https" || forwarded === "http" ? forwarded : url.protocol.slice(0, -1);
  const defaultPort = scheme === "https" ? "443" : "80";
  return `${scheme}://${url.hostname}${url.port && url.port !== defaultPort ? `:${url.port}` : ""}`;
}

export const tooLarge = (bytes?: number) =>
  new ApiError(
    413,
    "body_too_large",
    `The request body is ${bytes === undefined ? "larger than the limit of" : `${bytes} bytes; the limit is`} ${MAX_BODY_BYTES} bytes (64 KiB).`,
  );
