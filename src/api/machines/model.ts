// The machine API's contract: TypeBox schemas for requests and responses. Types come from the
// schemas (`typeof X.static`), so the docs, the validation and the code cannot disagree.
import { t } from "elysia";
import { fieldError } from "../../http/errors.ts";
import { MachineSshPatch } from "../../jobs/model.ts";
import { Label, Labels } from "../../outages/model.ts";
import { HOSTNAME_PATTERN, MAC_PATTERN } from "./address.ts";

/** The largest id (and page offset) there can be: ids are PostgreSQL integers. */
export const MAX_INT32 = 2_147_483_647;

export const MachineRef = t.Object({
  machine: t.String({
    description: "The machine's IP address (the key it registers under) or, for reads and deletes, its numeric id.",
    examples: ["198.18.0.7", "42"],
  }),
});

export const RegisterBody = t.Object(
  {
    hostname: t.String({
      minLength: 1,
      maxLength: 255,
      pattern: HOSTNAME_PATTERN,
      error: "must be a host name per RFC 1123: 1–255 characters, dot-separated labels of letters, digits and hyphens",
      examples: ["node-07"],
    }),
    mac_address: t.String({
      pattern: MAC_PATTERN,
      error: "must be a MAC address such as 52:54:00:12:34:56, 52-54-00-12-34-56 or 5254.0012.3456",
      examples: ["52:54:00:12:34:56"],
    }),
    labels: t.Optional(Labels),
    extra_data: t.Optional(
      t.Record(t.String(), t.Unknown(), {
        error: "must be a JSON object of at most 8 KiB (system information such as os, arch, vni)",
        description: "Small system information (os, arch, cpu cores, memory, VNI…); at most 8 KiB as JSON.",
        examples: [{ os: "debian 12", arch: "x86_64", vni: 4096 }],
      }),
    ),
  },
  { additionalProperties: false },
);
export type RegisterBody = typeof RegisterBody.static;

const Time = t.String({ format: "date-time", description: "ISO 8601, UTC" });
const NullableTime = t.Union([Time, t.Null()]);

export const Machine = t.Object({
  id: t.Integer(),
  hostname: t.String(),
  ip_address: t.String(),
  mac_address: t.String({ description: "lower-case, colon-separated" }),
  status: t.Union([t.Literal("active"), t.Literal("unreachable")]),
  extra_data: t.Record(t.String(), t.Unknown()),
  labels: t.Array(t.String(), { description: "key=value labels, sorted" }),
  groups: t.Array(t.String(), { description: 'Its built-in groups: its VNI ("vni 4096", from extra_data.vni) and its subnet ("subnet 198.18.0.0/24", SUBNET_PREFIX_V4/V6)' }),
  notes: t.String({ description: "What operators wrote about the machine" }),
  created_at: Time,
  updated_at: Time,
  last_seen: Time,
  consecutive_failures: t.Integer({ description: "failed checks in a row (0 while healthy)" }),
  last_rtt_ms: t.Union([t.Number(), t.Null()], { description: "round-trip time of the last successful check" }),
  last_checked_at: NullableTime,
  next_check_at: NullableTime,
  recent_checks: t.String({ description: "The last checks, oldest first: 1 answered, 0 did not (at most 30)" }),
});
export type Machine = typeof Machine.static;

export const MachinePatch = t.Object(
  {
    notes: t.Optional(t.String({ maxLength: 2000, pattern: "^[^\\u0000]*$", error: "must be at most 2000 characters, without NUL" })),
    labels: t.Optional(Labels),
    // How vxman logs in to run jobs here (admins only): src/jobs/ssh-settings.ts.
    ssh: t.Optional(MachineSshPatch),
  },
  { additionalProperties: false, minProperties: 1, error: "send notes, labels or ssh" },
);
export type MachinePatch = typeof MachinePatch.static;

export const CheckResult = t.Object({
  machine_id: t.Integer(),
  is_alive: t.Boolean(),
  rtt_ms: t.Union([t.Number(), t.Null()]),
  outcome: t.String({ description: "reply, timeout, unreachable (an ICMP error), or error" }),
  detail: t.Union([t.String(), t.Null()]),
  status: t.Union([t.Literal("active"), t.Literal("unreachable")]),
  recorded: t.Boolean({ description: "false when another instance checks this machine: the answer is shown, its record stays that instance's" }),
});

export const ListQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("active"), t.Literal("unreachable")], { error: "must be active or unreachable" })),
  // No NUL: PostgreSQL text cannot hold one, so the search would fail instead of matching nothing.
  q: t.Optional(t.String({ maxLength: 255, pattern: "^[^\\u0000]*$", error: "must be at most 255 characters, without NUL", description: "Matches hostname, IP, MAC or a label (substring, case-insensitive)." })),
  label: t.Optional(Label),
  group: t.Optional(t.String({ maxLength: 100, error: 'must be a group such as "vni 4096" or "subnet 198.18.0.0/24"' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 100, error: fieldError("limit", "must be a whole number from 1 to 10000") })),
  // Bounded: a number past PostgreSQL's bigint made the query fail (a 500); past the last machine a page is just empty.
  offset: t.Optional(t.Integer({ minimum: 0, maximum: MAX_INT32, default: 0, error: fieldError("offset", `must be a whole number from 0 to ${MAX_INT32}`) })),
});
export type ListQuery = typeof ListQuery.static;

export const MachineList = t.Object({
  items: t.Array(Machine),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

export const Sample = t.Object({
  checked_at: Time,
  rtt_ms: t.Union([t.Number(), t.Null()], { description: "null when the check failed" }),
});

export const SampleList = t.Object({ items: t.Array(Sample) });

export const SamplesQuery = t.Object({
  since: t.Optional(t.String({ format: "date-time", error: "must be an ISO 8601 time" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 1000, error: fieldError("limit", "must be a whole number from 1 to 10000") })),
});
