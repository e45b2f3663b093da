import { t } from "elysia";
import { fieldError } from "../../http/errors.ts";
import { MAX_INT32 } from "../machines/model.ts";

/** What happens to machines (and who muted them): every reader of the dashboard sees these. */
export const MACHINE_EVENT_KINDS = [
  "registered", "updated", "unreachable", "recovered", "deleted", "notes_changed", "labels_changed", "silence_created", "silence_expired",
] as const;
/** Fleet jobs and how vxman reaches machines over SSH: every reader sees these too (viewers see runs). */
export const JOB_EVENT_KINDS = [
  "ssh_settings_changed", "host_key_changed", "host_key_accepted", "job_created", "job_changed", "job_deleted", "run_started", "run_cancelled", "run_failed",
] as const;
/** Changes to people, access, credentials and where messages go: shown to admins only. */
export const ADMIN_EVENT_KINDS = [
  "user_created", "user_changed", "password_changed", "token_created", "token_revoked", "sessions_revoked",
  "channel_created", "channel_changed", "channel_deleted", "credential_created", "credential_deleted", "ssh_defaults_changed",
] as const;
/** What viewers and operators see of the log. */
export const VIEWER_EVENT_KINDS = [...MACHINE_EVENT_KINDS, ...JOB_EVENT_KINDS] as const;
export const EVENT_KINDS = [...MACHINE_EVENT_KINDS, ...JOB_EVENT_KINDS, ...ADMIN_EVENT_KINDS] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

// A union of literals, not t.UnionEnum: Elysia fills an optional UnionEnum query parameter with
// its first value when absent, which would silently filter every unfiltered list.
// Spelt out: TypeScript only keeps each literal's type in a written list (kept in step with
// EVENT_KINDS by test/api/events.test.ts).
const Kind = (options?: object) =>
  t.Union(
    [
      t.Literal("registered"), t.Literal("updated"), t.Literal("unreachable"), t.Literal("recovered"), t.Literal("deleted"),
      t.Literal("notes_changed"), t.Literal("labels_changed"), t.Literal("silence_created"), t.Literal("silence_expired"),
      t.Literal("user_created"), t.Literal("user_changed"), t.Literal("password_changed"),
      t.Literal("token_created"), t.Literal("token_revoked"), t.Literal("sessions_revoked"),
      t.Literal("channel_created"), t.Literal("channel_changed"), t.Literal("channel_deleted"),
      t.Literal("ssh_settings_changed"), t.Literal("host_key_changed"), t.Literal("host_key_accepted"),
      t.Literal("job_created"), t.Literal("job_changed"), t.Literal("job_deleted"),
      t.Literal("run_started"), t.Literal("run_cancelled"), t.Literal("run_failed"),
      t.Literal("credential_created"), t.Literal("credential_deleted"), t.Literal("ssh_defaults_changed"),
    ],
    options,
  );

export const Event = t.Object({
  id: t.Integer(),
  at: t.String({ format: "date-time" }),
  kind: Kind(),
  machine_id: t.Union([t.Integer(), t.Null()]),
  ip_address: t.Union([t.String(), t.Null()]),
  hostname: t.Union([t.String(), t.Null()]),
  details: t.Record(t.String(), t.Unknown(), {
    description: "updated: {field: {old, new}}; deleted: {machine: full record}; unreachable/recovered: the check's figures",
  }),
  actor: t.Union([t.String(), t.Null()], { description: "Who did it: a user, \"alice (token ci)\", admin-token, monitor, registration…" }),
  actor_address: t.Union([t.String(), t.Null()], { description: "The client address it came from" }),
});
export type Event = typeof Event.static;

export const EventQuery = t.Object({
  // Bounded by the columns' types (integer, bigint): a larger number is an error to report, not a 500.
  machine_id: t.Optional(t.Integer({ minimum: 1, maximum: MAX_INT32, error: fieldError("machine_id", "must be a machine id (a whole number)") })),
  kind: t.Optional(Kind({ error: `must be one of ${EVENT_KINDS.join(", ")}` })),
  actor: t.Optional(t.String({ minLength: 1, maxLength: 200, pattern: "^[^\\u0000]*$", error: "must be who did it: a user name, admin-token, monitor…" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100, error: fieldError("limit", "must be a whole number from 1 to 1000") })),
  before: t.Optional(
    t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "Only events with a smaller id (for paging back)", error: fieldError("before", "must be an event id") }),
  ),
});
export type EventQuery = typeof EventQuery.static;

export const EventList = t.Object({ items: t.Array(Event), limit: t.Integer() });
