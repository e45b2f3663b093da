// The event kinds, kept in step three ways: the API's list, the schema's spelt-out union, and the
// database's CHECK constraint (the latest migration's).
import { expect, test } from "bun:test";
import { EVENT_KINDS, EventQuery } from "../../src/api/events/model.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";

test("every event kind is in the query schema and in the database's constraint, and nothing else is", () => {
  const schema = (EventQuery.properties.kind as unknown as { anyOf: { const: string }[] }).anyOf.map((x) => x.const);
  expect([...schema].sort()).toEqual([...EVENT_KINDS].sort());
  const last = [...MIGRATIONS].reverse().find((m) => m.sql.includes("events_kind_check CHECK"))!;
  const inConstraint = /events_kind_check CHECK \(kind IN \(([^)]*)\)\)/s.exec(last.sql)![1]!.match(/'([a-z_]+)'/g)!.map((k) => k.slice(1, -1));
  expect(inConstraint.sort()).toEqual([...EVENT_KINDS].sort());
});
