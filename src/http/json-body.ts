// The only body parser: JSON (UTF-8), at most 64 KiB. The front door (guards.ts) has already
// refused other content types and announced sizes over the limit; this reads the body, cutting
// off a chunked one (no Content-Length) as soon as it passes the limit.
import { Elysia } from "elysia";
import { ApiError } from "./errors.ts";
import { MAX_BODY_BYTES, tooLarge } from "./guards.ts";

export function jsonBodies() {
  return new Elysia({ name: "json-body" }).onParse({ as: "global" }, async ({ request }) => {
    // An empty body is no body, whatever the content type says (many clients always send one):
    // a route that needs a body then says so (422), one that takes none does not care. null, not
    // undefined: undefined would hand the empty body on to Elysia's own JSON parser (a 400).
    if (request.body === null) return null;
    // With a Content-Length (already checked against the limit) the body is read in one go, the
    // fast path; without one it is read chunk by chunk and abandoned early.
    const bytes = request.headers.has("content-length") ? new Uint8Array(await request.arrayBuffer()) : await readAtMost(request.body, MAX_BODY_BYTES);
    if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge(bytes.byteLength);
    if (bytes.byteLength === 0) return null;
    try {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      throw new ApiError(400, "malformed_json", "The request body is not valid JSON (UTF-8).");
    }
  });
}

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
