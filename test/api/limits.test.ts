// Rate limit per client IP (429 + Retry-After), the trusted-proxy rule, and CORS — on a real
// listening server, since the client address comes from the socket.
import { afterEach, describe, expect, test } from "bun:test";
import { machineBody, testApp, type TestApp } from "../helpers/app.ts";

let open: TestApp[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function serve(env: Record<string, string>): Promise<string> {
  const t = await testApp("pglite", env);
  open.push(t);
  t.app.listen({ hostname: "127.0.0.1", port: 0 });
  return `http://127.0.0.1:${t.app.server!.port}`;
}

describe("rate limit", () => {
  test("past RATE_LIMIT a minute: 429 JSON with Retry-After, security headers kept", async () => {
    const base = await serve({ RATE_LIMIT: "5" });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${base}/api/machines`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const limited = await fetch(`${base}/api/machines`);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited.json()).toMatchObject({ error: "rate_limited" });
    expect(limited.headers.get("x-content-type-options")).toBe("nosniff");
    // A registration is refused too, and nothing is stored.
    const put = await fetch(`${base}/api/machines/127.10.0.1`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(machineBody(1)) });
    expect(put.status).toBe(429);
    expect(await open[0]!.db.query("SELECT 1 FROM machines")).toHaveLength(0);
  });

  test("X-Forwarded-For is ignored unless TRUST_PROXY: a client cannot dodge the limit", async () => {
    const base = await serve({ RATE_LIMIT: "2" });
    const spoofed = (n: number) => fetch(`${base}/health`, { headers: { "x-forwarded-for": `198.18.9.${n}` } }).then((r) => r.status);
    expect([await spoofed(1), await spoofed(2), await spoofed(3)]).toEqual([200, 200, 429]);
  });

  test("with TRUST_PROXY the proxy's last X-Forwarded-For entry is the client", async () => {
    const base = await serve({ RATE_LIMIT: "1", TRUST_PROXY: "true" });
    const as = (chain: string) => fetch(`${base}/health`, { headers: { "x-forwarded-for": chain } }).then((r) => r.status);
    expect(await as("198.18.9.1")).toBe(200);
    expect(await as("198.18.9.2")).toBe(200); // another client behind the proxy
    expect(await as("203.0.113.99, 198.18.9.1")).toBe(429); // a claimed earlier hop changes nothing
  });
});

describe("CORS", () => {
  const preflight = (base: string, origin: string) =>
    fetch(`${base}/api/machines/127.10.0.2`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type,authorization" },
    });

  test("by default nothing is allowed cross-origin", async () => {
    const base = await serve({});
    const res = await fetch(`${base}/api/machines`, { headers: { origin: "https://elsewhere.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight(base, "https://elsewhere.example")).headers.get("access-control-allow-origin")).toBeNull();
  });

  test("CORS_ORIGINS allows exactly the listed origins", async () => {
    const base = await serve({ CORS_ORIGINS: "https://admin.example.org" });
    const ok = await preflight(base, "https://admin.example.org");
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://admin.example.org");
    expect(ok.headers.get("access-control-allow-methods")).toContain("PUT");
    const get = await fetch(`${base}/api/machines`, { headers: { origin: "https://admin.example.org" } });
    expect(get.headers.get("access-control-allow-origin")).toBe("https://admin.example.org");
    for (const other of ["https://evil.example", "https://admin.example.org.evil.example", "http://admin.example.org"]) {
      const res = await fetch(`${base}/api/machines`, { headers: { origin: other } });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
  });
});
