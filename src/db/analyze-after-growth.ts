// Fresh statistics for a table that has just grown a lot. postgres.js prepares each statement once
// per connection, and PostgreSQL keeps a generic plan for it until something invalidates it: the
// re-registration statement, planned by the pool's connections when the machines table was empty,
// went on scanning the whole table for every batch after an enrolment storm (auto_explain), 3.1 ms
// a call against 0.49 ms after an ANALYZE (pg_stat_statements, 10,000 machines: 3,100 against
// 6,500 PUTs a second). Autovacuum's ANALYZE, which ends that, comes a minute or more after the
// rows changed. PostgreSQL's own advice after loading many rows is to run ANALYZE ("Populating a
// Database"); this does, once GROWTH_ROWS rows have been added since the last time, and at most
// once every MIN_GAP_MS while a storm goes on.
import type { Logger } from "../log.ts";
import type { Queryable } from "./database.ts";

export const GROWTH_ROWS = 1000;
export const MIN_GAP_MS = 10_000;

export class AnalyzeAfterGrowth {
  #grown = 0;
  #lastAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly table: string,
    private readonly log: Logger,
    private readonly growthRows = GROWTH_ROWS,
    private readonly minGapMs = MIN_GAP_MS,
  ) {}

  /** `rows` were added to the table (and committed). */
  grew(rows: number): void {
    this.#grown += rows;
    if (this.#grown < this.growthRows || this.#timer) return;
    this.#timer = setTimeout(() => void this.#analyze(), Math.max(0, this.#lastAt + this.minGapMs - Date.now()));
    this.#timer.unref(); // never what keeps a stopping server alive
  }

  async #analyze(): Promise<void> {
    const rows = this.#grown;
    this.#grown = 0;
    this.#lastAt = Date.now();
    try {
      await this.db.exec(`ANALYZE ${this.table}`);
      this.log.debug({ table: this.table, rows_added: rows }, "table statistics refreshed after it grew");
    } catch (err) {
      // Slower statements until autovacuum's pass, nothing worse; a database that is away is
      // reported by what needs it.
      this.log.debug({ table: this.table, err: (err as Error).message }, "could not refresh table statistics");
    } finally {
      this.#timer = undefined;
    }
  }
}
