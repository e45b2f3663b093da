// Property: no query string, on any GET route the server documents, gets a 5xx. The routes and
// their parameters come from the server's own OpenAPI document, so a route added later is
// covered without anyone adding it here. Values are what breaks parsers and databases: numbers
// past every integer type, exponents, negative and fractional numbers, dates in odd time zones,
// NUL, invalid UTF-8 escapes, SQL. Run in-process and on the compiled binary over HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

interface Route {
  path: string;
  query: string[];
}

/** Every GET route of the OpenAPI document with the names of its query parameters. */
async function documentedRoutes(t: Target): Promise<Route[]> {
  const spec = (await (await t.request("GET", "/docs/json")).json()) as {
    paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
  };
  return Object.entries(spec.paths)
    .filter(([, ops]) => ops.get)
    .map(([path, ops]) => ({ path, query: (ops.get!.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name) }));
}

const nasty = fc.oneof(
  fc.constantFrom(
    "-1", "0", "1", "1.5", "1e20", "-1e20", "1e-7", "9".repeat(40), "2147483647", "2147483648", "9007199254740993", "NaN", "Infinity",
    "0x10", "00012", " 5", "5 ", "+5", "", "null", "true", "[]", "{}", "%00", "%ff%fe", "%ED%A0%80", "'; DROP TABLE machines; --",
    "0001-01-01T00:00:00%2B01:00", "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T12:00:00Z",
    "275760-09-13T00:00:00Z", "active", "unreachable", "deleted",
  ),
  fc.integer().map(String),
  fc.double({ noNaN: false }).map(String),
  fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => encodeURIComponent(d.toISOString())),
);

for (const name of TARGETS) {
  describe(`query parameters (${name})`, () => {
    let t: Target;
    let routes: Route[];
    let refs: string[];

    beforeAll(async () => {
      t = await openTarget(name);
      const m = await (await t.request("PUT", "/api/machines/127.33.0.1", { json: machineBody(1) })).json();
      refs = [String(m.id), "127.33.0.1", "999999999", "2147483648", "abc", "%00", "::1"];
      routes = await documentedRoutes(t);
    }, 120_000);
    afterAll(() => t.close());

    test("the OpenAPI document lists the routes with query parameters", () => {
      const withQuery = routes.filter((r) => r.query.length > 0).map((r) => r.path);
      expect(withQuery).toEqual(expect.arrayContaining(["/api/machines/", "/api/events", "/api/machines/{machine}/samples"]));
    });

    test("property: any values for any documented query parameters → never a 5xx, always JSON on refusal", async () => {
      const seen = new Map<number, number>();
      const request = fc.record({
        route: fc.constantFrom(...routes),
        ref: fc.constantFrom(...refs),
        values: fc.array(fc.tuple(fc.nat(), nasty), { maxLength: 4 }),
        stray: fc.option(fc.tuple(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }).map(encodeURIComponent), nasty), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(request, async ({ route, ref, values, stray }) => {
          const pairs = values.filter(() => route.query.length > 0).map(([i, v]) => `${route.query[i % route.query.length]}=${v}`);
          if (stray) pairs.push(`${stray[0]}=${stray[1]}`);
          const path = route.path.replace(/\{[^}]+\}/g, ref) + (pairs.length ? `?${pairs.join("&")}` : "");
          const res = await t.request("GET", path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          expect({ path, status: res.status < 500 }).toEqual({ path, status: true });
          if (res.status >= 400) {
            expect(res.headers.get("content-type"), path).toContain("application/json");
            expect(typeof (await res.json()).message, path).toBe("string");
          } else {
            await res.arrayBuffer();
          }
        }),
        { numRuns: 400, seed: 0x9e7_0001, endOnFailure: false },
      );
      // Both sides were reached: accepted requests and refused ones.
      expect([...seen.keys()].some((s) => s < 300)).toBe(true);
      expect(seen.get(422) ?? 0).toBeGreaterThan(0);
    }, 120_000);
  });
}
