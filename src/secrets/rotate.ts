// The pure part of `vxman secret rotate`: re-seal every stored secret under a new key, and put
// the new key file in place while keeping the old one until the caller has committed.
//
// The order that loses nothing if the process dies at any point:
//   1. resealAll(old, next, rows)        all in memory; throws if any value does not open
//   2. stageKeyFile(dataDir, newKey)      new secret.key in place, old kept as secret.key.old-<time>
//   3. the caller writes the rows in one transaction
//   4. staged.confirm() (deletes the old key) — or staged.rollback() if step 3 failed
// A crash between 2 and 3 leaves rows sealed under the old key, whose id the "sealed under
// another key" message names, next to the backup file that holds it.
import { existsSync, linkSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { SealedSecretError, sealedKeyId, type SecretBox } from "./box.ts";
import { KEY_FILE_NAME, syncDir, writeTempKeyFile } from "./keyring.ts";

export { generateKey } from "./keyring.ts";

export interface SealedValue {
  /** The row, as the caller identifies it (only used in error messages). */
  id: string | number;
  aad: string;
  sealed: string;
}

export class RotationError extends Error {
  override name = "RotationError";
}

/**
 * Every value re-sealed under `next`, same id and AAD. Values already sealed under `next` (a
 * rotation resumed after a crash) are left out: they need no write. All or nothing: the first
 * value that does not open stops it, naming the row, before anything was returned to write.
 */
export async function resealAll(
  old: SecretBox,
  next: SecretBox,
  values: Iterable<SealedValue> | AsyncIterable<SealedValue>,
): Promise<SealedValue[]> {
  const resealed: SealedValue[] = [];
  for await (const value of values) {
    if (sealedKeyId(value.sealed) === next.keyId) continue;
    resealed.push({ ...value, sealed: await next.seal(await openForRotation(old, value), value.aad) });
  }
  return resealed;
}

async function openForRotation(old: SecretBox, value: SealedValue): Promise<string> {
  try {
    return await old.open(value.sealed, value.aad);
  } catch (err) {
    if (!(err instanceof SealedSecretError)) throw err;
    throw new RotationError(`nothing was changed: row ${value.id}: ${err.message}`);
  }
}

export interface StagedKeyFile {
  path: string;
  /** Where the previous key is kept until confirm(); null when there was no key file. */
  backupPath: string | null;
  /** The rows are committed under the new key: drop the old one. */
  confirm(): void;
  /** The rows were not written: put the old key file back. */
  rollback(): void;
}

/** Put a new key file in DATA_DIR, atomically, keeping the previous one beside it. */
export function stageKeyFile(dataDir: string, newKey: Uint8Array, now = new Date()): StagedKeyFile {
  const path = join(dataDir, KEY_FILE_NAME);
  const backupPath = existsSync(path) ? `${path}.old-${timestamp(now)}` : null;
  // A hard link keeps the old key (same inode, same 0600 mode) without copying it.
  if (backupPath) linkSync(path, backupPath);
  try {
    renameSync(writeTempKeyFile(path, newKey), path);
  } catch (err) {
    if (backupPath) unlinkSync(backupPath); // the old key is still in place
    throw err;
  }
  syncDir(dataDir);
  return {
    path,
    backupPath,
    confirm() {
      if (backupPath) unlinkSync(backupPath);
    },
    rollback() {
      if (backupPath) renameSync(backupPath, path);
      else unlinkSync(path);
      syncDir(dataDir);
    },
  };
}

/** 2025-01-31T12:00:00.123Z → 20250131T120000Z: sortable, and no colons for file names. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}
