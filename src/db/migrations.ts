// The migrations, embedded in the binary as text. Add a file to sql/ and a line here; a test
// checks the two lists match, so a migration cannot be forgotten.
import m001 from "../../sql/001_init.sql" with { type: "text" };
import m002 from "../../sql/002_people.sql" with { type: "text" };
import m003 from "../../sql/003_outages.sql" with { type: "text" };
import m004 from "../../sql/004_cluster.sql" with { type: "text" };
import m005 from "../../sql/005_jobs.sql" with { type: "text" };
import m006 from "../../sql/006_ping_state_in_place.sql" with { type: "text" };

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "001_init.sql", sql: m001 },
  { version: 2, name: "002_people.sql", sql: m002 },
  { version: 3, name: "003_outages.sql", sql: m003 },
  { version: 4, name: "004_cluster.sql", sql: m004 },
  { version: 5, name: "005_jobs.sql", sql: m005 },
  { version: 6, name: "006_ping_state_in_place.sql", sql: m006 },
];
