// The embedded database has one instance (its folder lock): it takes every shard once and keeps
// them with no lease rounds. Its leases must not lapse meanwhile, or the monitor's writes, fenced
// on the lease, would silently stop once a lease period had passed (they did, for one commit).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, loopbackIp } from "../helpers/app.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

describe.skipIf(!needs("root"))("one instance on the embedded database (compiled binary)", () => {
  let served: ServedBinary;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

  beforeAll(async () => {
    served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", LEASE_PERIOD: "3s", PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms" });
  }, 60_000);
  afterAll(() => served?.stop());

  test("check results are still written long after a lease period", async () => {
    const res = await fetch(`${served.base}/api/machines/${loopbackIp(7001)}`, {
      method: "PUT", headers, body: JSON.stringify({ hostname: "alone-1", mac_address: "52:54:00:70:00:01" }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    // Three lease periods after the start: samples written from then on are in the database.
    const later = new Date(Date.now() + 9_000).toISOString();
    const samplesSince = async () => {
      const r = await fetch(`${served.base}/api/machines/${id}/samples?since=${encodeURIComponent(later)}`, { headers });
      return ((await r.json()) as { items: unknown[] }).items.length;
    };
    await waitFor("samples written after three lease periods", async () => (await samplesSince()) >= 3, 30_000, 500);
    const leases = await (await fetch(`${served.base}/api/instances`, { headers })).json() as { items: { leases_held: number; state: string }[] };
    expect(leases.items.filter((i) => i.state === "live").map((i) => i.leases_held)).toEqual([256]);
  }, 60_000);
});
