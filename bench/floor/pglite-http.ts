// The embedded database's floor, for bench/floor.ts: the http.ts program plus PGlite opened the
// way vxman opens it (src/db/pglite.ts: same settings, same data folder layout), doing nothing.
import { openPglite } from "../../src/db/pglite.ts";

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error("set DATA_DIR");
const db = await openPglite(dataDir);
await db.query("SELECT 1");
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
console.log(`listening on ${server.port}`);
