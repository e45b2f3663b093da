// Cross-cutting HTTP rules applied to every response: security headers, the body size limit
// and JSON-only request bodies.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Bun.serve's maxRequestBodySize: the hard cap where the socket layer itself answers a bare 413
 * (no JSON, no security headers) before vxman sees the request. It must sit well above
 * MAX_BODY_BYTES so that a body a little over the limit — with a Content-Length or chunked —
 * gets vxman's own JSON 413; the parser below never reads more than MAX_BODY_BYTES + one chunk.
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

export function httpGuards() {
  return new Elysia({ name: "http-guards" })
    .onRequest(({ request, set }) => {
      const path = new URL(request.url).pathname;
      Object.assign(set.headers, SECURITY_HEADERS, {
        "content-security-policy": path === "/docs" || path.startsWith("/docs/") ? DOCS_CSP : CSP,
      });
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > MAX_BODY_BYTES) throw tooLarge(length);
    })
    // The only body parser: JSON, at most 64 KiB. Bun's maxRequestBodySize also caps the socket
    // read; this check covers bodies without a Content-Length (chunked) and in-process requests.
    .onParse({ as: "global" }, async ({ request, contentType }) => {
      if (request.body === null) return;
      if (!/^application\/json\s*(;|$)/i.test(contentType ?? "")) {
        throw new ApiError(415, "unsupported_media_type", 'Send the body as JSON with "Content-Type: application/json".');
      }
      // With a Content-Length (already checked against the limit above) the body is read in one
      // go, the fast path; without one (chunked) it is read chunk by chunk and cut off early.
      const bytes = request.headers.has("content-length") ? new Uint8Array(await request.arrayBuffer()) : await readAtMost(request.body, MAX_BODY_BYTES);
      if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge(bytes.byteLength);
      try {
        return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      } catch {
        throw new ApiError(400, "malformed_json", "The request body is not valid JSON (UTF-8).");
      }
    });
}

const tooLarge = (bytes?: number) =>
  new ApiError(
    413,
    "body_too_large",
    `The request body is ${bytes === undefined ? "larger than the limit of" : `${bytes} bytes; the limit is`} ${MAX_BODY_BYTES} bytes (64 KiB).`,
  );

/** The body, read chunk by chunk and abandoned as soon as it passes `limit`: a chunked upload
 *  with no Content-Length is never buffered whole. */
async function readAtMost(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Cross-origin calls only from CORS_ORIGINS; with none configured, no CORS headers at all, so
 *  browsers keep other sites' pages from calling the API. */
export function corsPolicy(origins: string[]) {
  if (origins.length === 0) return new Elysia({ name: "cors-off" });
  return cors({
    origin: origins.includes("*") ? "*" : origins,
    methods: ["GET", "PUT", "POST", "DELETE"],
    allowedHeaders: ["content-type", "authorization"],
    credentials: false,
    maxAge: 600,
  });
}
