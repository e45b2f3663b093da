// The dashboard and the offline API docs page, built by scripts/assets.ts into dist/web and
// served by @elysiajs/static. In the compiled binary dist/web is embedded with --asset and
// lives under /$bunfs/root; from source it is read from the checkout.
import { staticPlugin } from "@elysiajs/static";
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { join } from "node:path";
import { VERSION } from "../version.ts";

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

export async function webUi() {
  return new Elysia({ name: "web-ui" }).use(
    await staticPlugin({
      assets: WEB_ROOT,
      prefix: "/",
      alwaysStatic: true,
      // File names are not content-hashed, so browsers revalidate each time (a cheap 304).
      directive: "no-cache",
      maxAge: null,
      detail: { hide: true },
    }),
  );
}
