import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createKeyFile, encodeSecretKey, generateKey, KeyFileError, loadKeyring, parseSecretKey } from "../../src/secrets/keyring.ts";

const temps: string[] = [];
afterAll(() => temps.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vxman-keyring-"));
  temps.push(dir);
  return join(dir, "data"); // not there yet: loadKeyring makes it
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

/** A logger whose lines the test can read. */
function collectingLogger() {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format: "json", destination: { write: (line: string) => void lines.push(line) } });
  return { log, lines };
}

describe("keyring from a key file", () => {
  test("created on first use with mode 0600, reused after, its path logged once per load", async () => {
    const dir = dataDir();
    const first = collectingLogger();
    const ring = await loadKeyring({ dataDir: dir, log: first.log });
    const keyFile = join(dir, "secret.key");
    expect(ring).toMatchObject({ source: "key file", keyFile });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(first.lines.length).toBe(1);
    expect(JSON.parse(first.lines[0]!)).toMatchObject({ level: "warn", keyFile, keyId: ring.keyId });
    expect(first.lines[0]).not.toContain(readFileSync(keyFile, "utf8").trim());
    expect(readdirSync(dir)).toEqual(["secret.key"]); // no temp file left

    const second = collectingLogger();
    const again = await loadKeyring({ dataDir: dir, log: second.log });
    expect(again.keyId).toBe(ring.keyId);
    expect(await again.open(await ring.seal("hunter2", "a"), "a")).toBe("hunter2");
    expect(JSON.parse(second.lines[0]!)).toMatchObject({ level: "info", keyFile });
  });

  test("a key file open to group or others is refused, with the fix", async () => {
    const dir = dataDir();
    const { log } = collectingLogger();
    await loadKeyring({ dataDir: dir, log });
    const keyFile = join(dir, "secret.key");
    chmodSync(keyFile, 0o644);
    const content = readFileSync(keyFile, "utf8").trim();
    const err = await rejection(loadKeyring({ dataDir: dir, log }));
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err.message).toBe(`${keyFile} is open to group or others (mode 0644); it must be readable by its owner only: chmod 600 ${keyFile}`);
    expect(err.message).not.toContain(content);
  });

  test("a key file that holds no key is refused without showing its content", async () => {
    const dir = dataDir();
    const { log } = collectingLogger();
    await loadKeyring({ dataDir: dir, log });
    writeFileSync(join(dir, "secret.key"), "not-a-key-at-all\n", { mode: 0o600 });
    const err = await rejection(loadKeyring({ dataDir: dir, log }));
    expect(err.message).toMatch(/does not hold a key .* restore it from a backup/);
    expect(err.message).not.toContain("not-a-key-at-all");
  });

  test("creating never replaces a key file that appeared meanwhile", async () => {
    const dir = dataDir();
    const keyFile = join(dir, "secret.key");
    const winner = generateKey();
    expect(createKeyFile(keyFile, winner)).toBe(true);
    expect(createKeyFile(keyFile, generateKey())).toBe(false);
    expect(readFileSync(keyFile, "utf8")).toBe(encodeSecretKey(winner));
    expect(readdirSync(dir)).toEqual(["secret.key"]);
  });
});

describe("keyring from SECRET_KEY", () => {
  const raw = generateKey();
  const forms = {
    hex: Buffer.from(raw).toString("hex"),
    base64: Buffer.from(raw).toString("base64"),
    "base64 without padding": Buffer.from(raw).toString("base64").replace(/=$/, ""),
    base64url: Buffer.from(raw).toString("base64url"),
    "the key file's content": encodeSecretKey(raw),
  };

  test.each(Object.entries(forms))("accepts %s", async (_form, value) => {
    expect(parseSecretKey(value)).toEqual(new Uint8Array(raw));
  });

  test("used instead of a key file, which is then not created", async () => {
    const dir = dataDir();
    const { log, lines } = collectingLogger();
    const ring = await loadKeyring({ secretKey: forms.base64, dataDir: dir, log });
    expect(ring).toMatchObject({ source: "SECRET_KEY", keyFile: null });
    expect(existsSync(join(dir, "secret.key"))).toBe(false);
    expect(lines.join("")).not.toContain(forms.base64);
    // The same key given as hex opens what the base64 form sealed.
    const hex = await loadKeyring({ secretKey: forms.hex, dataDir: dir, log });
    expect(await hex.open(await ring.seal("hunter2", "x"), "x")).toBe("hunter2");
  });

  test.each(["short", "x".repeat(64), Buffer.alloc(16).toString("base64"), Buffer.alloc(33).toString("hex"), `${forms.hex}00`])(
    "malformed %p: a ConfigError naming SECRET_KEY that hides the value",
    async (value) => {
      const { log } = collectingLogger();
      const err = await rejection(loadKeyring({ secretKey: value, dataDir: dataDir(), log }));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/^SECRET_KEY=\(value hidden\) is invalid: SECRET_KEY accepts 32 random bytes as 64 hex digits or as base64/);
      expect(err.message).not.toContain(value);
    },
  );
});
