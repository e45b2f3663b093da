// The floor under a re-registration PUT, for bench/api.ts: the runtime's HTTP, the body's JSON
// parse, the same batched statement vxman runs (TOUCH_UNCHANGED, group-committed by vxman's own
// Batcher on vxman's own postgres.js pool) and the machine as JSON in the answer. What vxman
// adds above this is its own code: routing and validation (Elysia, TypeBox), the credential and
// rate-limit hooks, the re-registration counted as a check, the change feed.
import { TOUCH_UNCHANGED } from "../../src/api/machines/service.ts";
import { Batcher } from "../../src/db/batcher.ts";
import { openPostgres } from "../../src/db/postgres.ts";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL (a database vxman has created and seeded)");
const db = openPostgres({ url, applicationName: "vxman-floor" });

// Every machine's answer, as vxman's directory keeps it in memory (here: the columns as stored).
const machines = new Map<number, Record<string, unknown>>();
for (const m of await db.query<Record<string, unknown> & { id: number }>("SELECT id, hostname, host(ip_address) AS ip_address, mac_address::text AS mac_address, status, extra_data, labels, notes, created_at, updated_at FROM machines")) {
  machines.set(m.id, m);
}

type Touch = [ip: string, hostname: string, mac: string, extra: null, labels: null];
const touches = new Batcher<Touch, { id: number; last_seen: Date } | null>(async (batch) => {
  const columns = [0, 1, 2, 3, 4].map((c) => batch.map((row) => row[c]));
  const rows = await db.query<{ n: number; id: number | null; last_seen: Date | null }>(TOUCH_UNCHANGED, columns);
  const out: ({ id: number; last_seen: Date } | null)[] = batch.map(() => null);
  for (const r of rows) if (r.id != null) out[r.n - 1] = { id: r.id, last_seen: r.last_seen! };
  return out;
});

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  routes: {
    "/api/machines/:ip": {
      PUT: async (req) => {
        const body = (await req.json()) as { hostname: string; mac_address: string };
        // No hit: the same IP twice in one batch (one UPDATE touches a row once), which vxman
        // then updates on its own, as here.
        const hit = (await touches.submit([req.params.ip, body.hostname, body.mac_address, null, null])) ??
          (await db.query<{ id: number; last_seen: Date }>("UPDATE machines SET last_seen = now() WHERE ip_address = $1::inet RETURNING id, last_seen", [req.params.ip]))[0];
        if (!hit) return Response.json({ error: "not_found" }, { status: 404 });
        return Response.json({ ...machines.get(hit.id), last_seen: hit.last_seen.toISOString() });
      },
    },
  },
});
console.log(`listening on ${server.port}`);
