// Rate limit per client IP (429 + Retry-After), the trusted-proxy rule, the bounded refusal log,
// CORS, cross-site requests and ALLOWED_HOSTS — over real HTTP (the client address comes from
// the socket), to the app in-process and to the compiled binary.
import { afterEach, describe, expect, test } from "bun:test";
import { REFUSALS_LOGGED_PER_MINUTE } from "../../src/http/errors.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { rawHttp, requestFrom } from "../helpers/raw-http.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

const JSON_TYPE = { "content-type": "application/json" };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

for (const name of TARGETS.filter((n) => n !== "app/postgres")) {
  describe(`limits (${name})`, () => {
    let open: Target[] = [];
    afterEach(async () => {
      await Promise.all(open.map((t) => t.close()));
      open = [];
    });

    async function serve(env: Record<string, string>): Promise<Target> {
      const t = await openTarget(name, env);
      open.push(t);
      return t;
    }

    const metric = async (t: Target, metricName: string) =>
      Number(new RegExp(`^${metricName} (\\S+)$`, "m").exec(await (await fetch(`${t.base}/metrics`, { headers: admin })).text())?.[1] ?? 0);

    // Each test sends from a loopback address of its own: a client nothing else has counted
    // (the harness's own startup checks come from 127.0.0.1).
    describe("rate limit", () => {
      test("past RATE_LIMIT a minute: 429 JSON with Retry-After, security headers kept", async () => {
        const t = await serve({ RATE_LIMIT: "5" });
        const from = "127.0.10.1";
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await requestFrom(from, t, "GET", "/health")).status);
        expect(statuses).toEqual([200, 200, 200, 200, 200]);
        const limited = await requestFrom(from, t, "GET", "/health");
        expect(limited.status).toBe(429);
        const retryAfter = Number(/retry-after: (\d+)/.exec(limited.headers)?.[1]);
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(60);
        expect(limited.json).toMatchObject({ error: "rate_limited" });
        expect(limited.headers).toContain("x-content-type-options: nosniff");
        // A registration is refused too, and nothing is stored.
        const put = await requestFrom(from, t, "PUT", "/api/machines/127.10.0.1", JSON_TYPE, JSON.stringify(machineBody(1)));
        expect(put.status).toBe(429);
        expect(await t.db.query("SELECT 1 FROM machines")).toHaveLength(0);
        // Another client is not held back by this one.
        expect((await requestFrom("127.0.10.2", t, "GET", "/health")).status).toBe(200);
      });

      test("every request counts, refused ones too: 404, malformed JSON, 413, 415, 422, a bad Host", async () => {
        const t = await serve({ RATE_LIMIT: "6" });
        const from = "127.0.10.3";
        const put = (body: string, headers: Record<string, string> = JSON_TYPE) =>
          requestFrom(from, t, "PUT", "/api/machines/127.10.0.2", headers, body).then((r) => r.status);
        const refused = [
          (await requestFrom(from, t, "GET", "/no/such/route")).status,
          await put("{not json"),
          await put(JSON.stringify({ pad: "x".repeat(70_000) })),
          await put("hostname=a", { "content-type": "application/x-www-form-urlencoded" }),
          await put(JSON.stringify({ hostname: "has space", mac_address: "x" })),
          (await rawHttp(t, "GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n", from)).status,
        ];
        expect(refused).toEqual([404, 400, 413, 415, 422, 400]);
        // The limit is spent on refusals alone: the next request, however good, waits.
        expect((await requestFrom(from, t, "GET", "/health")).status).toBe(429);
      });

      test("X-Forwarded-For is ignored unless TRUST_PROXY: a client cannot dodge the limit", async () => {
        const t = await serve({ RATE_LIMIT: "2" });
        const spoofed = (n: number) => requestFrom("127.0.10.4", t, "GET", "/health", { "x-forwarded-for": `198.18.9.${n}` }).then((r) => r.status);
        expect([await spoofed(1), await spoofed(2), await spoofed(3)]).toEqual([200, 200, 429]);
      });

      test("with TRUST_PROXY the proxy's last X-Forwarded-For entry is the client; an IPv6 client is counted by its /64", async () => {
        const t = await serve({ RATE_LIMIT: "1", TRUST_PROXY: "true" });
        const as = (chain: string) => requestFrom("127.0.10.5", t, "GET", "/health", { "x-forwarded-for": chain }).then((r) => r.status);
        expect(await as("198.18.9.1")).toBe(200);
        expect(await as("198.18.9.2")).toBe(200); // another client behind the proxy
        expect(await as("203.0.113.99, 198.18.9.1")).toBe(429); // a claimed earlier hop changes nothing
        expect(await as("fd00:1:2:3::1")).toBe(200);
        expect(await as("fd00:1:2:3:ffff::99")).toBe(429); // the same /64
        expect(await as("fd00:1:2:4::1")).toBe(200);
      });
    });

    test("a flood of refused requests costs a bounded number of log lines; the rest are counted", async () => {
      const t = await serve({});
      const FLOOD = 200;
      for (let i = 0; i < FLOOD; i++) expect((await fetch(`${t.base}/no/such/${i}`)).status).toBe(404);
      const notLogged = await metric(t, "vxman_http_refusals_not_logged_total");
      // A minute boundary during the flood can give the client a second budget.
      expect(notLogged).toBeGreaterThanOrEqual(FLOOD - 2 * REFUSALS_LOGGED_PER_MINUTE);
      if (t.binary) {
        const lines = t.output().split("\n").filter((l) => l.includes('"msg":"request refused"'));
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.length).toBeLessThanOrEqual(2 * REFUSALS_LOGGED_PER_MINUTE);
        expect(lines.length + notLogged).toBe(FLOOD);
        expect(JSON.parse(lines[0]!)).toMatchObject({ status: 404, client: "127.0.0.1" });
      }
    });

    describe("CORS", () => {
      const preflight = (base: string, origin: string) =>
        fetch(`${base}/api/machines/127.10.0.2`, {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type,authorization" },
        });

      test("by default nothing is allowed cross-origin", async () => {
        const { base } = await serve({});
        const res = await fetch(`${base}/health`, { headers: { origin: "https://elsewhere.example" } });
        expect(res.headers.get("access-control-allow-origin")).toBeNull();
        expect((await preflight(base, "https://elsewhere.example")).headers.get("access-control-allow-origin")).toBeNull();
      });

      test("CORS_ORIGINS allows exactly the listed origins", async () => {
        const { base } = await serve({ CORS_ORIGINS: "https://admin.example.org" });
        const ok = await preflight(base, "https://admin.example.org");
        expect(ok.headers.get("access-control-allow-origin")).toBe("https://admin.example.org");
        expect(ok.headers.get("access-control-allow-methods")).toContain("PUT");
        const get = await fetch(`${base}/health`, { headers: { origin: "https://admin.example.org" } });
        expect(get.headers.get("access-control-allow-origin")).toBe("https://admin.example.org");
        for (const other of ["https://evil.example", "https://admin.example.org.evil.example", "http://admin.example.org"]) {
          const res = await fetch(`${base}/health`, { headers: { origin: other } });
          expect(res.headers.get("access-control-allow-origin")).toBeNull();
        }
      });
    });

    describe("cross-site requests", () => {
      /** A machine registered, then a heartbeat sent as `headers` say; whether last_seen moved. */
      async function heartbeat(t: Target, headers: Record<string, string>, body?: string) {
        const ip = "127.10.1.1";
        await fetch(`${t.base}/api/machines/${ip}`, { method: "PUT", headers: JSON_TYPE, body: JSON.stringify(machineBody(11)) });
        const seen = async () => (await t.db.query<{ at: Date }>("SELECT last_seen AS at FROM machines WHERE ip_address = $1::inet", [ip]))[0]!.at.getTime();
        const before = await seen();
        await Bun.sleep(5);
        const res = await fetch(`${t.base}/api/machines/${ip}/heartbeat`, { method: "POST", headers, body });
        return { status: res.status, body: res.status === 204 ? null : await res.json(), moved: (await seen()) > before };
      }

      test("a page of another site cannot keep a machine alive: Sec-Fetch-Site, Origin, or a form body refuse it", async () => {
        const t = await serve({});
        const crossSite = await heartbeat(t, { "sec-fetch-site": "cross-site", origin: "https://evil.example" });
        expect(crossSite).toMatchObject({ status: 403, body: { error: "cross_site_request" }, moved: false });
        const sameSite = await heartbeat(t, { "sec-fetch-site": "same-site", origin: "https://sibling.example" });
        expect(sameSite).toMatchObject({ status: 403, moved: false });
        const oldBrowser = await heartbeat(t, { origin: "https://evil.example" }); // Origin, no Sec-Fetch-*
        expect(oldBrowser).toMatchObject({ status: 403, moved: false });
        const nullOrigin = await heartbeat(t, { origin: "null" }); // a sandboxed page or a data: URL
        expect(nullOrigin).toMatchObject({ status: 403, moved: false });
        // An HTML form can only send these content types: a body must be JSON, on every route.
        const form = await heartbeat(t, { "content-type": "application/x-www-form-urlencoded" }, "a=1");
        expect(form).toMatchObject({ status: 415, body: { error: "unsupported_media_type" }, moved: false });
        const text = await heartbeat(t, { "content-type": "text/plain" }, "{}");
        expect(text).toMatchObject({ status: 415, moved: false });
      });

      test("curl, machines and the dashboard itself still can: no browser headers, same origin, or a CORS_ORIGINS page", async () => {
        const t = await serve({ CORS_ORIGINS: "https://admin.example.org" });
        expect(await heartbeat(t, {})).toMatchObject({ status: 204, moved: true });
        expect(await heartbeat(t, { "sec-fetch-site": "same-origin", origin: t.base })).toMatchObject({ status: 204, moved: true });
        expect(await heartbeat(t, { origin: t.base })).toMatchObject({ status: 204, moved: true });
        expect(await heartbeat(t, { "sec-fetch-site": "none" })).toMatchObject({ status: 204, moved: true }); // typed in the address bar
        expect(await heartbeat(t, { "sec-fetch-site": "cross-site", origin: "https://admin.example.org" })).toMatchObject({ status: 204, moved: true });
        // Reading stays possible from anywhere: GETs change nothing.
        expect((await fetch(`${t.base}/health`, { headers: { "sec-fetch-site": "cross-site" } })).status).toBe(200);
      });
    });

    describe("ALLOWED_HOSTS", () => {
      test("off by default: any Host is answered", async () => {
        const t = await serve({});
        expect((await rawHttp(t, "GET /health HTTP/1.1\r\nHost: rebound.attacker.example\r\nConnection: close\r\n\r\n")).status).toBe(200);
      });

      test("set: other Host names get 421 JSON (DNS rebinding), the listed ones are served", async () => {
        const t = await serve({ ALLOWED_HOSTS: "vxman.example.org,127.0.0.1,[::1]" });
        const ask = (host: string) => rawHttp(t, `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        const rebound = await ask("rebound.attacker.example");
        expect(rebound.status).toBe(421);
        expect(rebound.headers).toContain("application/json");
        expect(JSON.parse(rebound.body)).toMatchObject({ error: "unknown_host" });
        expect((await ask(`127.0.0.1:${t.port}`)).status).toBe(200);
        expect((await ask("VXMAN.example.org:8080")).status).toBe(200);
        expect((await ask("[::1]")).status).toBe(200);
        expect((await ask("vxman.example.org.attacker.example")).status).toBe(421);
      });
    });
  });
}
