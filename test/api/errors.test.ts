// Bad input gets a clear JSON error and changes nothing (in-process and on the compiled
// binary); a database outage is a 503 with Retry-After, not a 500.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { startPgCluster, type PgCluster } from "../helpers/postgres.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";
import { waitFor } from "../helpers/wait.ts";

for (const name of TARGETS) describe(`request errors (${name})`, () => {
  let t: Target;
  beforeAll(async () => {
    t = await openTarget(name);
  }, 120_000);
  afterAll(() => t.close());

  const cases: [string, () => Promise<Response>, number, string][] = [
    ["malformed JSON", () => t.request("PUT", "/api/machines/127.6.0.1", { body: "{not json", headers: { "content-type": "application/json" } }), 400, "malformed_json"],
    ["text/plain body", () => t.request("PUT", "/api/machines/127.6.0.1", { body: JSON.stringify(machineBody(1)), headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type"],
    ["body over 64 KiB", () => t.request("PUT", "/api/machines/127.6.0.1", { json: { ...machineBody(1), extra_data: { x: "a".repeat(70_000) } } }), 413, "body_too_large"],
    ["missing hostname", () => t.request("PUT", "/api/machines/127.6.0.1", { json: { mac_address: "52:54:00:00:00:01" } }), 422, "invalid_request"],
    ["unknown field", () => t.request("PUT", "/api/machines/127.6.0.1", { json: { ...machineBody(1), role: "db" } }), 422, "invalid_request"],
    ["bad IP in path", () => t.request("PUT", "/api/machines/256.1.1.1", { json: machineBody(1) }), 422, "invalid_request"],
    ["extra_data over 8 KiB", () => t.request("PUT", "/api/machines/127.6.0.1", { json: { ...machineBody(1), extra_data: { x: "a".repeat(9000) } } }), 422, "invalid_request"],
    ["extra_data as array", () => t.request("PUT", "/api/machines/127.6.0.1", { json: { ...machineBody(1), extra_data: [1, 2] } }), 422, "invalid_request"],
    ["unknown route", () => t.request("GET", "/api/nothing-here"), 404, "not_found"],
  ];

  test.each(cases)("%s: a JSON error, nothing stored", async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = await res.json();
    expect(body.error).toBe(code);
    expect(body.message).toBeString();
    expect(body.message.length).toBeGreaterThan(10);
    expect(JSON.stringify(body)).not.toContain("    at "); // no stack trace
    const [{ n }] = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM machines")) as [{ n: number }];
    expect(n).toBe(0);
  });

  test("422 names each invalid field and why", async () => {
    const res = await t.request("PUT", "/api/machines/127.6.0.1", { json: { hostname: "has space", mac_address: "52:54:00:00:00" } });
    const body = await res.json();
    expect(body.details.map((d: { field: string }) => d.field).sort()).toEqual(["hostname", "mac_address"]);
    expect(body.message).toContain("RFC 1123");
    expect(body.message).toContain("MAC address");
  });

  test.each([
    ["/api/events?machine_id=2147483648", "machine_id"],
    ["/api/events?limit=-1", "limit"],
    ["/api/events?before=1e20", "before"],
    ["/api/machines?offset=1e20", "offset"],
    ["/api/machines?limit=100000000", "limit"],
    ["/api/machines/1/samples?limit=-1", "limit"],
    ["/api/machines?status=dead", "status"],
  ])("a query number out of bounds is a 422 that names the parameter: %s", async (path, field) => {
    const res = await t.request("GET", path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.details).toEqual([{ field, message: expect.any(String) }]);
    expect(body.message).toStartWith(`Invalid query string — ${field}: `);
  });
});

// On the compiled binary, as users run it: the outage test failed CI twice when postgres.js let a
// connection error escape as an unhandled rejection (a connection opening as the server died):
// bun test fails a test for that whatever the process does, and `vxman serve` survives it
// (src/db/escaped-errors.ts, test/db/escaped-errors.test.ts). So the binary is what is tested.
describe("database outage on PostgreSQL (compiled binary)", () => {
  let pg: PgCluster;
  let server: ServedBinary;
  beforeAll(async () => {
    pg = await startPgCluster(); // its own cluster: this test stops it
    server = await serveBinary({ DATABASE_URL: await pg.createDatabase(), ANONYMOUS_READ: "true", LOG_LEVEL: "info" }, { startTimeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    pg?.destroy();
  }, 30_000);

  const send = (method: string, path: string, json?: unknown) =>
    fetch(`${server.base}${path}`, { method, headers: json ? { "content-type": "application/json" } : {}, body: json ? JSON.stringify(json) : undefined });
  // Each answer is compared whole (status, header, body), so a failure says what came back.
  const answer = async (res: Response) => ({ status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() });

  test("503 + Retry-After while the database is down (the list still served from memory); /health says so; all well once it is back", async () => {
    expect(await answer(await send("PUT", "/api/machines/127.6.0.2", machineBody(2)))).toMatchObject({ status: 201 });
    pg.stop("immediate");

    expect(await answer(await send("GET", "/health"))).toMatchObject({ status: 503, body: { status: "unavailable", database: "unavailable" } });
    expect(await answer(await send("PUT", "/api/machines/127.6.0.3", machineBody(3)))).toMatchObject({
      status: 503,
      retryAfter: "5",
      body: { error: "database_unavailable" },
    });
    // Reads of the database.
    expect(await answer(await send("GET", "/api/machines/1"))).toMatchObject({ status: 503, body: { error: "database_unavailable" } });
    // The list comes from memory: it keeps serving what is known while the database is away.
    const during = await answer(await send("GET", "/api/machines"));
    expect({ status: during.status, ips: during.body.items?.map((m: { ip_address: string }) => m.ip_address) }).toEqual({ status: 200, ips: ["127.6.0.2"] });

    pg.start();
    await waitFor("health once the database is back", async () => (await send("GET", "/health")).status === 200, 10_000);
    const list = await (await send("GET", "/api/machines")).json();
    expect(list.items.map((m: { ip_address: string }) => m.ip_address)).toEqual(["127.6.0.2"]);
    // Whatever escaped while connections were cut, the server went on (no fatal line, still serving).
    expect(server.output()).not.toContain('"level":60');
  });
});
