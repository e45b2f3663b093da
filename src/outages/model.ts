// The outages API's contract: channels, silences, outages, uptime and the delivery log.
import { t } from "elysia";
import { fieldError } from "../http/errors.ts";
import { LABEL_PATTERN, MAX_LABELS } from "./groups.ts";

const Time = t.String({ format: "date-time" });
const NullableTime = t.Union([Time, t.Null()]);
const MAX_INT32 = 2_147_483_647;

export const Label = t.String({ pattern: LABEL_PATTERN, error: "must be key=value: a key of letters, digits, _ . - / and a value without control characters or commas (at most 128)" });
export const Labels = t.Array(Label, { maxItems: MAX_LABELS, error: `must be a list of at most ${MAX_LABELS} key=value labels` });
export const Group = t.String({ pattern: "^(vni \\d{1,8}|subnet [0-9a-fA-F:.]+/\\d{1,3})$", error: 'must be a group such as "vni 4096" or "subnet 198.18.0.0/24"' });

export const CHANNEL_EVENTS = ["unreachable", "recovered", "registered", "deleted", "mac_changed", "run_failed"] as const;
const ChannelEvent = t.Union(
  [t.Literal("unreachable"), t.Literal("recovered"), t.Literal("registered"), t.Literal("deleted"), t.Literal("mac_changed"), t.Literal("run_failed")],
  { error: `must be one of ${CHANNEL_EVENTS.join(", ")}` },
);

export const ChannelFilter = t.Object(
  { labels: t.Optional(Labels), groups: t.Optional(t.Array(Group, { maxItems: 100 })) },
  { additionalProperties: false, error: "must be {labels?: [key=value…], groups?: [\"vni 4096\"…]}" },
);

const ChannelName = t.String({ minLength: 1, maxLength: 100, pattern: "^[^\\u0000-\\u001f]+$", error: "must be 1–100 characters, without control characters" });
const MaxPerMinute = t.Integer({ minimum: 1, maximum: 10_000, error: "must be a whole number from 1 to 10000" });

export const NewChannel = t.Object(
  {
    name: ChannelName,
    kind: t.String({ minLength: 1, maxLength: 20, error: "must be a channel kind" }),
    // Each kind's own schema checks these (src/outages/channels); an error names settings.<field>.
    settings: t.Record(t.String(), t.Unknown(), { error: "must be an object of the kind's settings" }),
    events: t.Array(ChannelEvent, { minItems: 1, uniqueItems: true, error: `must list at least one of ${CHANNEL_EVENTS.join(", ")}` }),
    filter: t.Optional(ChannelFilter),
    enabled: t.Optional(t.Boolean({ error: "must be true or false" })),
    max_per_minute: t.Optional(MaxPerMinute),
  },
  { additionalProperties: false },
);
export type NewChannel = typeof NewChannel.static;

export const ChannelPatch = t.Object(
  {
    name: t.Optional(ChannelName),
    settings: t.Optional(t.Record(t.String(), t.Unknown(), { error: "must be an object (a merge patch of the settings)" })),
    events: t.Optional(t.Array(ChannelEvent, { minItems: 1, uniqueItems: true, error: `must list at least one of ${CHANNEL_EVENTS.join(", ")}` })),
    filter: t.Optional(ChannelFilter),
    enabled: t.Optional(t.Boolean({ error: "must be true or false" })),
    max_per_minute: t.Optional(MaxPerMinute),
  },
  { additionalProperties: false, minProperties: 1, error: "send at least one field to change" },
);
export type ChannelPatch = typeof ChannelPatch.static;

export const Channel = t.Object({
  id: t.Integer(),
  name: t.String(),
  kind: t.String(),
  settings: t.Record(t.String(), t.Unknown(), { description: "Secrets are shown as {set: true|false}, never their values" }),
  events: t.Array(t.String()),
  filter: t.Record(t.String(), t.Unknown()),
  enabled: t.Boolean(),
  max_per_minute: t.Integer(),
  created_at: Time,
  updated_at: Time,
});
export type Channel = typeof Channel.static;
export const ChannelList = t.Object({ items: t.Array(Channel) });

export const TestResult = t.Object({ ok: t.Boolean(), status: t.String(), detail: t.String() });

export const NewSilence = t.Object(
  {
    machine_ids: t.Optional(t.Array(t.Integer({ minimum: 1, maximum: MAX_INT32 }), { maxItems: 10_000, error: "must be a list of machine ids" })),
    labels: t.Optional(Labels),
    groups: t.Optional(t.Array(Group, { maxItems: 100 })),
    starts_at: t.Optional(t.String({ format: "date-time", error: "must be an ISO 8601 time" })),
    ends_at: t.Optional(t.String({ format: "date-time", error: "must be an ISO 8601 time" })),
    duration_seconds: t.Optional(t.Integer({ minimum: 1, maximum: 366 * 86_400, error: "must be a whole number of seconds up to a year" })),
    schedule: t.Optional(
      t.Object(
        {
          cron: t.String({ minLength: 1, maxLength: 100, error: "must be a cron expression, e.g. 0 2 * * 6 (Saturdays at 02:00)" }),
          timezone: t.Optional(t.String({ minLength: 1, maxLength: 64, error: "must be a time zone such as Europe/Berlin" })),
          duration_seconds: t.Integer({ minimum: 60, maximum: 7 * 86_400, error: "must be a whole number of seconds from 60 to a week" }),
        },
        { additionalProperties: false },
      ),
    ),
    comment: t.Optional(t.String({ maxLength: 500, error: "must be at most 500 characters" })),
  },
  { additionalProperties: false },
);
export type NewSilence = typeof NewSilence.static;

export const Silence = t.Object({
  id: t.Integer(),
  machine_ids: t.Array(t.Integer()),
  labels: t.Array(t.String()),
  groups: t.Array(t.String()),
  starts_at: Time,
  ends_at: NullableTime,
  schedule: t.Union([t.Object({ cron: t.String(), timezone: t.String(), duration_seconds: t.Number() }), t.Null()]),
  comment: t.String(),
  created_by: t.String(),
  created_at: Time,
  expired_at: NullableTime,
  /** Muting right now. */
  active: t.Boolean(),
  active_until: NullableTime,
  next_starts_at: NullableTime,
});
export type Silence = typeof Silence.static;
export const SilenceList = t.Object({ items: t.Array(Silence) });
export const SilenceQuery = t.Object({ all: t.Optional(t.Boolean({ error: "must be true or false" })) });

export const Outage = t.Object({
  id: t.Integer(),
  machine_id: t.Integer(),
  hostname: t.String(),
  ip_address: t.String(),
  /** The groups the machine is in now (empty once it is deleted). */
  groups: t.Array(t.String()),
  started_at: Time,
  ended_at: NullableTime,
  ended_by: t.Union([t.Literal("recovered"), t.Literal("deleted"), t.Null()]),
  duration_seconds: t.Number({ description: "So far, for an open outage" }),
});
export const OutageList = t.Object({ items: t.Array(Outage) });
export const OutageQuery = t.Object({
  machine_id: t.Optional(t.Integer({ minimum: 1, maximum: MAX_INT32, error: fieldError("machine_id", "must be a machine id") })),
  group: t.Optional(Group),
  open: t.Optional(t.Boolean({ error: "must be true or false" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100, error: fieldError("limit", "must be a whole number from 1 to 1000") })),
  before: t.Optional(t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, error: fieldError("before", "must be an outage id") })),
});
export type OutageQuery = typeof OutageQuery.static;

export const Uptime = t.Object({
  machine_id: t.Integer(),
  /** Percent of the last 24 h, 7 d and 30 d the machine was not in an outage (of the part it existed). */
  day: t.Number(),
  week: t.Number(),
  month: t.Number(),
  down_since: NullableTime,
});
export const UptimeList = t.Object({ items: t.Array(Uptime) });

export const Delivery = t.Object({
  id: t.String(),
  channel_id: t.Union([t.Integer(), t.Null()]),
  channel_name: t.String(),
  kind: t.String(),
  group: t.String(),
  title: t.String(),
  status: t.Union([t.Literal("pending"), t.Literal("sending"), t.Literal("sent"), t.Literal("failed")]),
  attempts: t.Integer(),
  next_attempt_at: NullableTime,
  last_status: t.Union([t.String(), t.Null()], { description: "The HTTP status, SMTP reply or network error of the last try" }),
  last_detail: t.Union([t.String(), t.Null()]),
  created_at: Time,
  sent_at: NullableTime,
});
export const DeliveryList = t.Object({ items: t.Array(Delivery) });
export const DeliveryQuery = t.Object({
  channel_id: t.Optional(t.Integer({ minimum: 1, maximum: MAX_INT32, error: fieldError("channel_id", "must be a channel id") })),
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("sending"), t.Literal("sent"), t.Literal("failed")], { error: "must be pending, sending, sent or failed" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100, error: fieldError("limit", "must be a whole number from 1 to 1000") })),
});
export type DeliveryQuery = typeof DeliveryQuery.static;

export const IdParam = t.Object({ id: t.String({ pattern: "^\\d{1,9}$", error: "must be an id (a number)" }) });
