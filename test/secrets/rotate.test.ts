import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log.ts";
import { createSecretBox, SealedSecretError, type SecretBox } from "../../src/secrets/box.ts";
import { encodeSecretKey, generateKey, loadKeyring } from "../../src/secrets/keyring.ts";
import { RotationError, resealAll, stageKeyFile, type SealedValue } from "../../src/secrets/rotate.ts";

const temps: string[] = [];
afterAll(() => temps.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vxman-rotate-"));
  temps.push(dir);
  return dir;
}

async function sealedRows(box: SecretBox): Promise<SealedValue[]> {
  return Promise.all(
    ["alpha", "beta", "gamma"].map(async (secret, i) => ({ id: i + 1, aad: `credential:${i + 1}:password`, sealed: await box.seal(secret, `credential:${i + 1}:password`) })),
  );
}

async function* asyncly<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

describe("resealAll", () => {
  test("re-seals every value so that only the new key opens it, same id and AAD", async () => {
    const [old, next] = [await createSecretBox(generateKey()), await createSecretBox(generateKey())];
    const rows = await sealedRows(old);
    const resealed = await resealAll(old, next, asyncly(rows));
    expect(resealed.map(({ id, aad }) => ({ id, aad }))).toEqual(rows.map(({ id, aad }) => ({ id, aad })));
    expect(await Promise.all(resealed.map((r) => next.open(r.sealed, r.aad)))).toEqual(["alpha", "beta", "gamma"]);
    for (const r of resealed) await expect(old.open(r.sealed, r.aad)).rejects.toThrow(SealedSecretError);
  });

  test("values already under the new key (a resumed rotation) are left out", async () => {
    const [old, next] = [await createSecretBox(generateKey()), await createSecretBox(generateKey())];
    const rows = await sealedRows(old);
    const done = await resealAll(old, next, rows.slice(0, 2));
    const resumed = await resealAll(old, next, [...done, rows[2]!]);
    expect(resumed.map((r) => r.id)).toEqual([3]);
  });

  test("a value that does not open stops everything, naming the row", async () => {
    const [old, next, stranger] = [await createSecretBox(generateKey()), await createSecretBox(generateKey()), await createSecretBox(generateKey())];
    const rows = await sealedRows(old);
    rows[1] = { ...rows[1]!, sealed: await stranger.seal("beta", rows[1]!.aad) };
    const attempt = resealAll(old, next, rows);
    await expect(attempt).rejects.toThrow(RotationError);
    await expect(attempt).rejects.toThrow(`nothing was changed: row 2: the secret for credential:2:password was sealed under another key (id ${stranger.keyId}`);
  });
});

describe("stageKeyFile", () => {
  test("puts the new key in place (0600) and keeps the old one until confirm", async () => {
    const dir = dataDir();
    const old = await loadKeyring({ dataDir: dir, log: silentLogger });
    const oldContent = readFileSync(join(dir, "secret.key"), "utf8");
    const newKey = generateKey();
    const staged = stageKeyFile(dir, newKey, new Date("2025-01-31T12:34:56.789Z"));

    expect(staged.backupPath).toBe(join(dir, "secret.key.old-20250131T123456Z"));
    expect(readFileSync(staged.backupPath!, "utf8")).toBe(oldContent);
    expect(readFileSync(staged.path, "utf8")).toBe(encodeSecretKey(newKey));
    expect(statSync(staged.path).mode & 0o777).toBe(0o600);
    expect(statSync(staged.backupPath!).mode & 0o777).toBe(0o600);
    const now = await loadKeyring({ dataDir: dir, log: silentLogger });
    expect(now.keyId).toBe((await createSecretBox(newKey)).keyId);
    expect(now.keyId).not.toBe(old.keyId);

    staged.confirm();
    expect(readdirSync(dir)).toEqual(["secret.key"]);
  });

  test("rollback puts the old key back", async () => {
    const dir = dataDir();
    const old = await loadKeyring({ dataDir: dir, log: silentLogger });
    stageKeyFile(dir, generateKey()).rollback();
    expect(readdirSync(dir)).toEqual(["secret.key"]);
    expect((await loadKeyring({ dataDir: dir, log: silentLogger })).keyId).toBe(old.keyId);
  });

  test("the whole rotation: rows re-sealed, key file swapped, only the new key opens them", async () => {
    const dir = dataDir();
    const old = await loadKeyring({ dataDir: dir, log: silentLogger });
    const rows = await sealedRows(old);
    const newKey = generateKey();
    const resealed = await resealAll(old, await createSecretBox(newKey), rows);
    const staged = stageKeyFile(dir, newKey);
    staged.confirm();
    const reloaded = await loadKeyring({ dataDir: dir, log: silentLogger });
    expect(await Promise.all(resealed.map((r) => reloaded.open(r.sealed, r.aad)))).toEqual(["alpha", "beta", "gamma"]);
    await expect(reloaded.open(rows[0]!.sealed, rows[0]!.aad)).rejects.toThrow("sealed under another key");
  });
});
