// Where the key that seals secrets comes from: the SECRET_KEY setting, or else a key file in
// DATA_DIR made on first use. The key file is what an operator must back up with the database:
// without it, stored credentials cannot be opened (that is the point).
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../config.ts";
import type { Logger } from "../log.ts";
import { createSecretBox, type SecretBox } from "./box.ts";
import { encodeSecretKey, parseSecretKey, SECRET_KEY_ACCEPTS } from "./key-format.ts";

export { encodeSecretKey, parseSecretKey } from "./key-format.ts";

export const KEY_FILE_NAME = "secret.key";

export interface Keyring extends SecretBox {
  readonly source: "SECRET_KEY" | "key file";
  /** The key file in use; null when the key comes from SECRET_KEY. */
  readonly keyFile: string | null;
}

/** Problems with the key file; messages name the file, never its content. */
export class KeyFileError extends Error {
  override name = "KeyFileError";
}

/** 32 random bytes: a new AES-256 key. */
export function generateKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

export async function loadKeyring({ secretKey, dataDir, log }: { secretKey?: string; dataDir: string; log: Logger }): Promise<Keyring> {
  if (secretKey) {
    const raw = parseSecretKey(secretKey);
    if (!raw) throw new ConfigError("SECRET_KEY", SECRET_KEY_ACCEPTS, secretKey, true);
    const box = await createSecretBox(raw);
    log.info({ keyId: box.keyId }, "secrets are sealed with the key from SECRET_KEY");
    return { ...box, source: "SECRET_KEY", keyFile: null };
  }
  const keyFile = join(dataDir, KEY_FILE_NAME);
  const { raw, created } = readOrCreateKeyFile(keyFile);
  const box = await createSecretBox(raw);
  if (created) log.warn({ keyFile, keyId: box.keyId }, "created the key that seals secrets: back this file up with the database");
  else log.info({ keyFile, keyId: box.keyId }, "secrets are sealed with the key in this file");
  return { ...box, source: "key file", keyFile };
}

function readOrCreateKeyFile(keyFile: string): { raw: Uint8Array; created: boolean } {
  try {
    return { raw: readKeyFile(keyFile), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const raw = generateKey();
  // Another vxman starting on the same DATA_DIR may have won the race: then its key is the key.
  return createKeyFile(keyFile, raw) ? { raw, created: true } : { raw: readKeyFile(keyFile), created: false };
}

export function readKeyFile(keyFile: string): Uint8Array {
  const mode = statSync(keyFile).mode & 0o777;
  if (mode & 0o077) {
    const octal = mode.toString(8).padStart(4, "0");
    throw new KeyFileError(`${keyFile} is open to group or others (mode ${octal}); it must be readable by its owner only: chmod 600 ${keyFile}`);
  }
  const raw = parseSecretKey(readFileSync(keyFile, "utf8"));
  if (!raw) throw new KeyFileError(`${keyFile} does not hold a key (${SECRET_KEY_ACCEPTS}): restore it from a backup`);
  return raw;
}

/**
 * Write a new key file atomically, mode 0600 from the first byte: a temp file is written and
 * synced, then hard-linked into place. A link, unlike a rename, never replaces a key file that
 * appeared meanwhile (secrets may already be sealed with it). False when one already existed.
 */
export function createKeyFile(keyFile: string, rawKey: Uint8Array): boolean {
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  const temp = writeTempKeyFile(keyFile, rawKey);
  try {
    linkSync(temp, keyFile);
    syncDir(dirname(keyFile));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

/** A synced 0600 temp file next to keyFile holding the key; the caller moves or removes it. */
export function writeTempKeyFile(keyFile: string, rawKey: Uint8Array): string {
  const temp = `${keyFile}.tmp-${process.pid}-${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex")}`;
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, encodeSecretKey(rawKey));
    fsyncSync(fd);
    return temp;
  } catch (err) {
    unlinkSync(temp);
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Make a rename or link in `dir` survive a crash. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
