// The HTML pages (the dashboard and the docs page), with what @elysiajs/static leaves out for
// HTML: an ETag (304 when the browser has that version) and Cache-Control: no-cache.
import { Elysia } from "elysia";
import { join } from "node:path";

/** `pages` maps a URL path to an HTML file under `root`. */
export async function htmlPages(root: string, pages: Record<string, string>) {
  const app = new Elysia({ name: "html-pages" });
  for (const [path, file] of Object.entries(pages)) {
    const body = await Bun.file(join(root, file)).text();
    const etag = `"${Bun.hash(body).toString(36)}"`;
    const headers = { "content-type": "text/html; charset=utf-8", etag, "cache-control": "no-cache" };
    // An arrow function destructuring what it uses: Elysia reads a handler's source to learn
    // which parts of the request it needs (see src/people/access.ts).
    app.get(
      path,
      ({ headers: request }) => new Response(matchesEtag(request["if-none-match"], etag) ? null : body, { status: matchesEtag(request["if-none-match"], etag) ? 304 : 200, headers }),
      { detail: { hide: true } },
    );
  }
  return app;
}

/** True when If-None-Match names this ETag (weak comparison, as RFC 9110 says for GET). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}
