// Apply pending migrations in order, each in its own transaction, recorded in
// schema_migrations. An advisory lock makes concurrent starts (several instances on one
// PostgreSQL) take turns instead of racing.
import type { Database } from "./database.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";

const MIGRATION_LOCK = 0x7678_6d61; // "vxma"

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  const applied: string[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      // Under the lock: two first starts racing on CREATE TABLE IF NOT EXISTS can still collide.
      await tx.exec(CREATE_MIGRATIONS_TABLE);
      const [row] = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (row) return false;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.name);
  }
  const [row] = await db.query<{ current: number | null }>("SELECT max(version) AS current FROM schema_migrations");
  return { applied, current: row?.current ?? 0 };
}
