// RTT samples older than SAMPLE_RETENTION are deleted in small chunks, so pruning a large
// backlog never holds a long lock on the table the monitor writes to.
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";

const CHUNK = 10_000;
const MAX_CHUNKS_PER_RUN = 100;
const EVERY_MS = 10 * 60_000;

export async function pruneSamples(db: Database, retentionMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  let deleted = 0;
  for (let i = 0; i < MAX_CHUNKS_PER_RUN; i++) {
    const rows = await db.query(
      `DELETE FROM ping_samples WHERE ctid IN (SELECT ctid FROM ping_samples WHERE checked_at < $1 LIMIT ${CHUNK}) RETURNING 1`,
      [cutoff],
    );
    deleted += rows.length;
    if (rows.length < CHUNK) break;
  }
  return deleted;
}

/** Prune now and every 10 minutes; returns a stop function. Failures are logged, not fatal. */
export function startSamplePruning(db: Database, retentionMs: number, log: Logger): () => void {
  const run = () =>
    pruneSamples(db, retentionMs).then(
      (n) => n > 0 && log.info({ deleted: n }, "old RTT samples pruned"),
      (err) => log.warn({ err: (err as Error).message }, "pruning RTT samples failed; will retry"),
    );
  void run();
  const timer = setInterval(run, EVERY_MS);
  return () => clearInterval(timer);
}
