// The dashboard and the offline API docs page, built by scripts/assets.ts into dist/web and
// served from memory by ./assets.ts (content type, ETag/304, gzip). In the compiled binary
// dist/web is embedded with --asset and lives under /$bunfs/root; from source it is read from
// the checkout.
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { join } from "node:path";
import { VERSION } from "../version.ts";
import { loadAssets, serveAsset } from "./assets.ts";

// `--asset dist/web` lands at /$bunfs/root/web in the binary (Bun keeps the last segment
// relative to the bundle root); the compiled-binary test catches it if that ever moves.
const COMPILED_ROOT = "/$bunfs/root";
export const WEB_ROOT = import.meta.dir.startsWith(COMPILED_ROOT)
  ? join(COMPILED_ROOT, "web")
  : join(import.meta.dir, "../../dist/web");

/** OpenAPI JSON at /docs/json. The plugin's own /docs page loads its UI from a CDN, so the
 *  static files registered after it (dist/web/docs) replace that page with an offline one. */
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

/** The dashboard at / and every other built file at its path; /docs is the offline docs page.
 *  Registered after apiDocs() so that page replaces the plugin's CDN-loading one. */
export async function webUi() {
  const assets = await loadAssets(WEB_ROOT);
  const app = new Elysia({ name: "web-ui" });
  const aliases: Record<string, string> = { "/index.html": "/", "/docs/index.html": "/docs" };
  for (const asset of assets.values()) {
    // An arrow function destructuring what it uses: see accessControl in src/api/auth.ts.
    const handler = ({ headers }: { headers: Record<string, string | undefined> }) =>
      serveAsset(asset, { acceptEncoding: headers["accept-encoding"], ifNoneMatch: headers["if-none-match"] });
    for (const path of [asset.path, aliases[asset.path]]) {
      if (path) app.get(path, handler, { detail: { hide: true } });
    }
  }
  return app;
}
