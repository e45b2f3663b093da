// The embedded database: PGlite (Postgres compiled to WASM) in DATA_DIR. Its WASM, its file
// bundle and a ready-made empty cluster ("seed", made by scripts/assets.ts) are imported as files
// so `bun build --compile` embeds them: the binary needs nothing beside it. Starting from the
// seed instead of running initdb cuts the first start from ~5 s / 1 GiB to ~1 s / 0.45 GiB.
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import fsBundlePath from "@electric-sql/pglite/pglite.data" with { type: "file" };
import seedPath from "../../dist/assets/pglite-seed.tar.gz" with { type: "file" };
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Database, Queryable } from "./database.ts";
import { lockDataDir } from "./lock.ts";

const file = (path: string) => Bun.file(path);

/** Postgres's shared memory lives inside PGlite's WASM memory and, once touched, is never given
 *  back. initdb's 128 MB shared_buffers was most of the embedded server's ~340 MiB; vxman's
 *  working set is small (the machine list is served from memory) and the kernel's page cache
 *  still holds the data files, so 8 MB. max_connections sizes per-backend arrays (~30 KB each);
 *  PGlite runs one backend and its folder lock admits one process, so 8 is plenty. Measured in
 *  docs/performance.md (memory on PGlite): 1,000 machines at 60 s, 200 → 190 MiB against 16 MB
 *  and 100, with new registrations and re-registrations within noise. */
const SETTINGS = ["-c", "shared_buffers=8MB", "-c", "max_connections=8"];

async function compile(path: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await file(path).arrayBuffer());
}

/** Open PGlite. `dataDir` undefined → in memory (tests). The folder is locked for this process. */
export async function openPglite(dataDir?: string): Promise<Database> {
  const lock = dataDir ? prepareDir(dataDir) : undefined;
  const pgdata = dataDir ? join(dataDir, "pgdata") : undefined;
  let pg: PGlite;
  try {
    // A new folder is unpacked from the seed by one PGlite, which is then closed, and served by
    // a second one: unpacking grows the WASM memory, which a WASM instance never gives back
    // (measured side by side: RSS of a first start with 1,000 machines, 257 → 243 MiB). Costs one
    // more start, once per data folder. In memory (tests) there is nothing to reopen.
    const modules = { pgliteWasmModule: await compile(pgliteWasmPath), initdbWasmModule: await compile(initdbWasmPath) };
    if (pgdata && !existsSync(join(pgdata, "PG_VERSION"))) await (await create(modules, pgdata, true)).close();
    pg = await create(modules, pgdata, !pgdata);
  } catch (err) {
    lock?.release();
    throw err;
  }

  const wrap = (q: Pick<PGlite, "query" | "exec">): Queryable => ({
    async query<T>(text: string, params: unknown[] = []) {
      return (await q.query<T>(text, params)).rows;
    },
    async exec(text: string) {
      await q.exec(text);
    },
  });

  return {
    kind: "pglite",
    ...wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async close() {
      try {
        await pg.close();
      } finally {
        lock?.release();
      }
    },
  };
}

type Modules = Pick<PGliteOptions, "pgliteWasmModule" | "initdbWasmModule">;

async function create(modules: Modules, pgdata: string | undefined, fromSeed: boolean): Promise<PGlite> {
  return PGlite.create({
    ...modules,
    dataDir: pgdata,
    fsBundle: file(fsBundlePath),
    loadDataDir: fromSeed ? new Blob([await file(seedPath).arrayBuffer()]) : undefined,
    startParams: [...PGlite.defaultStartParams, ...SETTINGS],
  });
}

function prepareDir(dataDir: string) {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return lockDataDir(dataDir);
}
