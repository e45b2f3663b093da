import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeSettings, loadConfig, parseDuration } from "../src/config.ts";

describe("durations", () => {
  test.each([
    ["60", 60_000],
    ["1.5", 1500],
    ["250ms", 250],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
  ])("%p → %p ms", (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  test.each(["", "abc", "-5", "5 s", "5sec", "1e3", "ms"])("%p is not a duration", (raw) => expect(parseDuration(raw)).toBeUndefined());
});

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: "0.0.0.0", port: 8080, dataDir: "./vxman-data", maxMachines: 1000, pingInterval: 60_000, backoffMax: 3_600_000 });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
  });

  test("values are parsed; empty means unset", () => {
    const c = loadConfig({ PORT: "9000", PING_INTERVAL: "250ms", MAX_MACHINES: "5", DATABASE_URL: "", LOG_FORMAT: "JSON", TRUST_PROXY: "yes" });
    expect(c).toMatchObject({ port: 9000, pingInterval: 250, maxMachines: 5, logFormat: "json", trustProxy: true });
    expect(c.databaseUrl).toBeUndefined();
  });

  test.each([
    ["PORT", "70000", "PORT accepts a whole number from 0 to 65535"],
    ["MAX_MACHINES", "0", "MAX_MACHINES accepts a whole number"],
    ["PING_INTERVAL", "soon", "PING_INTERVAL accepts a duration"],
    ["LOG_LEVEL", "loud", "LOG_LEVEL accepts debug | info | warn | error"],
    ["DATABASE_URL", "mysql://x/y", "DATABASE_URL accepts a postgres:// or postgresql:// URL"],
    ["CORS_ORIGINS", "not a url", "CORS_ORIGINS accepts"],
  ])("%s=%p stops the start with a message naming it", (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(expected);
  });

  test("a bad secret is named but never echoed", () => {
    try {
      loadConfig({ ADMIN_TOKEN: "short secret" });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect((err as Error).message).toContain("ADMIN_TOKEN");
      expect((err as Error).message).not.toContain("short secret");
    }
  });

  test("docs/configuration.md's table lists every setting", () => {
    const doc = readFileSync(join(import.meta.dir, "../docs/configuration.md"), "utf8");
    for (const s of describeSettings()) expect(doc).toContain(`| \`${s.name}\``);
  });
});
