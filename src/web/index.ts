// The dashboard and the offline API docs page, built by scripts/assets.ts into dist/web. In the
// compiled binary dist/web is embedded with --asset and lives under /$bunfs/root; from source it
// is read from the checkout. Files are served by @elysiajs/static (ETag, Cache-Control); the two
// HTML pages by pages.ts, since the plugin sends HTML without either.
//
// No compression: measured with Chromium over an emulated 10 Mbit/s, 30 ms link (issue 9), gzip
// made no difference to the dashboard (50 KB: 790 ms plain, 1100 ms gzip, within noise) and
// saved 2 s on the rarely used docs page (1.9 MB of Swagger UI: 6.6 s plain, 4.6 s gzip); not
// worth the code that caching compressed bodies and their ETags takes.
import { staticPlugin } from "@elysiajs/static";
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { join } from "node:path";
import { COMPILED_ROOT, IN_COMPILED_BINARY } from "../compiled.ts";
import { VERSION } from "../version.ts";
import { htmlPages } from "./pages.ts";

// `--asset dist/web` lands at /$bunfs/root/web in the binary (Bun keeps the last segment
// relative to the bundle root); the compiled-binary test catches it if that ever moves.
export const WEB_ROOT = IN_COMPILED_BINARY
  ? join(COMPILED_ROOT, "web")
  : join(import.meta.dir, "../../dist/web");

/** OpenAPI JSON at /docs/json. The plugin's own /docs page loads its UI from a CDN, so the
 *  offline page registered after it (dist/web/docs/index.html) replaces it. */
export function apiDocs() {
  return swagger({
    path: "/docs",
    specPath: "/docs/json",
    provider: "swagger-ui",
    // Keep paths with a dot (GET /register.sh); the dashboard's files are hidden from the spec anyway.
    excludeStaticFile: false,
    documentation: {
      info: {
        title: "vxman API",
        version: VERSION,
        description:
          "Machines register with PUT /api/machines/{ip}; admins list, inspect and delete them. " +
          "Live changes stream on the WebSocket /ws/status.",
      },
      tags: [
        { name: "machines", description: "Registration and the machine registry" },
        { name: "events", description: "The audit log" },
        { name: "operations", description: "Health and metrics" },
      ],
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
}

/** The dashboard at /, the docs page at /docs, every other built file at its path. Registered
 *  after apiDocs() so the offline docs page replaces the plugin's CDN-loading one. */
export async function webUi() {
  return new Elysia({ name: "web-ui" })
    .use(await htmlPages(WEB_ROOT, { "/": "index.html", "/docs": "docs/index.html" }))
    .use(
      await staticPlugin({
        assets: WEB_ROOT,
        prefix: "/",
        // One route per file, listed at start (also what the access test enumerates), rather
        // than a wildcard route that looks files up on every request.
        alwaysStatic: true,
        ignorePatterns: [/\.html$/],
        // File names carry no content hash, so browsers revalidate every time (a cheap 304): an
        // upgraded binary's dashboard is never mixed with a cached older one.
        maxAge: 0,
        directive: "no-cache",
        detail: { hide: true },
        silent: true,
      }),
    )
    // Browsers ask for /favicon.ico on pages that name no icon (Swagger UI's): answer with ours.
    .get("/favicon.ico", ({ redirect }) => redirect("/favicon.svg", 301), { detail: { hide: true } });
}
