// Cross-cutting HTTP rules applied to every response: security headers, the body size limit
// and JSON-only request bodies.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 64 * 1024;

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
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge(bytes.byteLength);
      try {
        return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      } catch {
        throw new ApiError(400, "malformed_json", "The request body is not valid JSON (UTF-8).");
      }
    });
}

const tooLarge = (bytes: number) =>
  new ApiError(413, "body_too_large", `The request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES} (64 KiB).`);

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
