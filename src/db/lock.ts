// One process owns a data folder. flock(2) rather than a PID file: the kernel drops the lock
// when its owner dies, even by kill -9, so a crash never leaves a stale lock behind.
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync } from "node:fs";
import { join } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;

const libc = dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });

export class DataDirLockedError extends Error {}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  const path = join(dir, "vxman.lock");
  const fd = openSync(path, "a+");
  if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const owner = readFileSync(path, "utf8").trim() || "another process";
    closeSync(fd);
    throw new DataDirLockedError(
      `data folder ${dir} is in use by ${owner}; stop that vxman first, or give this one its own DATA_DIR. ` +
        "The embedded database serves one vxman: to run several instances together, point them all at one PostgreSQL (DATABASE_URL)",
    );
  }
  ftruncateSync(fd);
  writeFileSync(fd, `vxman pid ${process.pid}\n`);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the descriptor releases the flock
    },
  };
}
