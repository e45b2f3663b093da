// `vxman secret rotate`: every secret vxman keeps sealed (notification channels' settings, SSH
// credentials) re-sealed under a new key, in one transaction. With the key file (DATA_DIR/
// secret.key) the new key replaces it, the old one kept aside until the rows are committed
// (src/secrets/rotate.ts). With SECRET_KEY the new key is printed, before anything is written:
// set it in SECRET_KEY of every vxman that uses this database, then restart them.
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { createSecretBox } from "../secrets/box.ts";
import { encodeSecretKey, loadKeyring } from "../secrets/keyring.ts";
import { generateKey, resealAll, stageKeyFile, type SealedValue } from "../secrets/rotate.ts";

export const SECRET_USAGE = `Usage:
  vxman secret rotate    re-seal channel settings and SSH credentials under a new key

With the key file (SECRET_KEY unset) the new key replaces DATA_DIR/secret.key. With SECRET_KEY
the new key is printed on standard output: put it in SECRET_KEY of every vxman on this database.
Stop vxman first, or restart every instance right after: until then they hold the old key.`;

/** The tables that hold sealed values, and the AAD each row's value is bound to. */
const SEALED = [
  { table: "channels", column: "secrets", aad: (id: number) => `channel:${id}` },
  { table: "credentials", column: "sealed", aad: (id: number) => `credential:${id}` },
] as const;

interface Located extends SealedValue {
  table: (typeof SEALED)[number]["table"];
  column: string;
  rowId: number;
}

export async function rotateSecrets(db: Database, settings: { secretKey?: string; dataDir: string }, log: Logger, print: (line: string) => void): Promise<number> {
  const old = await loadKeyring({ secretKey: settings.secretKey, dataDir: settings.dataDir, log });
  const rawKey = generateKey();
  const next = await createSecretBox(rawKey);
  const resealed = (await resealAll(old, next, await sealedValues(db))) as Located[];
  if (old.source === "SECRET_KEY") {
    // Printed before the rows change: if this process dies after the commit, the key is not lost.
    print(encodeSecretKey(rawKey).trim());
    await write(db, resealed);
    log.warn({ old_key_id: old.keyId, new_key_id: next.keyId, resealed: resealed.length }, "secrets re-sealed: set SECRET_KEY to the printed key on every vxman of this database, and restart them");
    return 0;
  }
  const staged = stageKeyFile(settings.dataDir, rawKey);
  try {
    await write(db, resealed);
  } catch (err) {
    staged.rollback();
    throw err;
  }
  staged.confirm();
  log.warn({ key_file: staged.path, old_key_id: old.keyId, new_key_id: next.keyId, resealed: resealed.length }, "secrets re-sealed under a new key file: restart vxman (back the new file up with the database)");
  return 0;
}

async function sealedValues(db: Database): Promise<Located[]> {
  const values: Located[] = [];
  for (const { table, column, aad } of SEALED) {
    const rows = await db.query<{ id: number; sealed: string }>(`SELECT id, ${column} AS sealed FROM ${table} WHERE ${column} IS NOT NULL ORDER BY id`);
    for (const r of rows) values.push({ id: `${table} ${r.id}`, aad: aad(r.id), sealed: r.sealed, table, column, rowId: r.id });
  }
  return values;
}

async function write(db: Database, values: Located[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const v of values) await tx.query(`UPDATE ${v.table} SET ${v.column} = $2 WHERE id = $1`, [v.rowId, v.sealed]);
  });
}
