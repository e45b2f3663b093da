// How the compiled binary serves the dashboard: content types, ETag/304 (files through
// @elysiajs/static, the HTML pages through src/web/pages.ts), the strict CSP, and nothing from
// another origin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";

let served: ServedBinary;
beforeAll(async () => {
  served = await serveBinary({ ADMIN_TOKEN: "e2e-admin-token-0123456789" });
}, 60_000);
afterAll(() => served?.stop());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${served.base}${path}`, { headers, redirect: "manual" });

describe("dashboard assets from the compiled binary", () => {
  test("each file has its content type; / is the dashboard", async () => {
    const expected: [string, string][] = [
      ["/", "text/html"],
      ["/app.js", "text/javascript"],
      ["/style.css", "text/css"],
      ["/favicon.svg", "image/svg+xml"],
      ["/docs", "text/html"],
      ["/docs/swagger-ui-bundle.js", "text/javascript"],
    ];
    for (const [path, type] of expected) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toStartWith(type);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    const html = await (await get("/")).text();
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect((await get("/nothing-here.js")).status).toBe(404);
  });

  test("strict CSP: no inline script or style, nothing from another origin", async () => {
    const csp = (await get("/")).headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toMatch(/https?:/);
    const html = await (await get("/")).text();
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    expect(html).not.toMatch(/<script>|<style|style=/); // nothing inline
    const css = await (await get("/style.css")).text();
    expect(css).not.toMatch(/@import|url\(\s*["']?https?:/);
  });

  test("ETag, and 304 when the browser has that version; always revalidated (no-cache)", async () => {
    for (const path of ["/", "/docs", "/app.js", "/style.css", "/docs/swagger-ui-bundle.js"]) {
      const first = await get(path);
      const etag = first.headers.get("etag");
      expect(etag, path).toBeTruthy();
      // No content hash in the file names: an upgraded binary's files must not mix with cached ones.
      expect(first.headers.get("cache-control"), path).toBe("no-cache");
      const again = await get(path, { "if-none-match": etag! });
      expect(again.status, path).toBe(304);
      expect((await again.arrayBuffer()).byteLength).toBe(0);
      expect((await get(path, { "if-none-match": '"stale"' })).status).toBe(200);
    }
    expect((await get("/")).headers.get("etag")).toMatch(/^"[^"]+"$/);
  });

  test("/favicon.ico (asked for by pages that name no icon) leads to the icon, not a logged 404", async () => {
    const ico = await get("/favicon.ico");
    expect(ico.status).toBe(301);
    expect(ico.headers.get("location")).toBe("/favicon.svg");
    expect(served.output()).not.toContain("favicon.ico");
  });
});
