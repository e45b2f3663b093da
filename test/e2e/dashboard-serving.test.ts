// How the compiled binary serves the dashboard: content types, ETag/304, gzip (each file
// compressed once), the strict CSP, and nothing from another origin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";

let served: ServedBinary;
beforeAll(async () => {
  served = await serveBinary({ ADMIN_TOKEN: "e2e-admin-token-0123456789" });
}, 60_000);
afterAll(() => served?.stop());

const get = (path: string, headers: Record<string, string> = {}) =>
  // decompress: false (Bun): see the bytes as sent, gzip included.
  fetch(`${served.base}${path}`, { headers, decompress: false } as RequestInit);

describe("dashboard assets from the compiled binary", () => {
  test("each file has its content type; / is the dashboard", async () => {
    const expected: [string, string][] = [
      ["/", "text/html"],
      ["/index.html", "text/html"],
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

  test("ETag, and 304 when the browser has that version", async () => {
    for (const path of ["/", "/app.js", "/style.css"]) {
      const first = await get(path);
      const etag = first.headers.get("etag");
      expect(etag, path).toMatch(/^"[^"]+"$/);
      expect(first.headers.get("cache-control")).toBe("no-cache");
      const again = await get(path, { "if-none-match": etag! });
      expect(again.status, path).toBe(304);
      expect(again.headers.get("etag")).toBe(etag);
      expect((await again.arrayBuffer()).byteLength).toBe(0);
      expect((await get(path, { "if-none-match": '"stale"' })).status).toBe(200);
    }
  });

  test("gzip when accepted: smaller, same content, its own ETag; plain otherwise", async () => {
    const plain = await get("/app.js");
    const plainBody = new Uint8Array(await plain.arrayBuffer());
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("accept-encoding");

    const gz = await get("/app.js", { "accept-encoding": "gzip, deflate, br" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gz.headers.get("content-type")).toStartWith("text/javascript");
    expect(gz.headers.get("vary")).toBe("accept-encoding");
    const gzBody = new Uint8Array(await gz.arrayBuffer());
    expect(gzBody.length).toBeLessThan(plainBody.length / 2);
    expect(new Uint8Array(gunzipSync(gzBody))).toEqual(plainBody);
    const gzEtag = gz.headers.get("etag")!;
    expect(gzEtag).not.toBe(plain.headers.get("etag"));
    expect((await get("/app.js", { "accept-encoding": "gzip", "if-none-match": gzEtag })).status).toBe(304);

    // Compressed once and kept: the same bytes every time.
    const again = new Uint8Array(await (await get("/app.js", { "accept-encoding": "gzip" })).arrayBuffer());
    expect(again).toEqual(gzBody);
    expect((await get("/app.js", { "accept-encoding": "gzip;q=0" })).headers.get("content-encoding")).toBeNull();

    for (const path of ["/", "/style.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]) {
      const res = await get(path, { "accept-encoding": "gzip" });
      expect(res.headers.get("content-encoding"), path).toBe("gzip");
    }
  });
});
