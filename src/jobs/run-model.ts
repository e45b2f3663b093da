// The fleet jobs API's contract, part two: jobs (a script, the machines it runs on, how) and runs
// (each host's state and output).
import { t } from "elysia";
import { fieldError } from "../http/errors.ts";
import { Group, Labels } from "../outages/model.ts";
import { Id, Name, NullableTime, Time } from "./model.ts";
import { ENV_NAME } from "./ssh-script.ts";

const MAX_INT32 = 2_147_483_647;
const NoNul = (maxLength: number, error: string) => t.String({ maxLength, pattern: "^[^\\u0000]*$", error });

export const Targets = t.Object(
  {
    machine_ids: t.Optional(t.Array(Id, { maxItems: 10_000, error: "must be a list of machine ids" })),
    labels: t.Optional(Labels),
    groups: t.Optional(t.Array(Group, { maxItems: 100 })),
    status: t.Optional(t.Union([t.Literal("active"), t.Literal("unreachable")], { error: "must be active or unreachable" })),
    q: t.Optional(NoNul(255, "must be at most 255 characters, without NUL")),
  },
  { additionalProperties: false, error: "must be {machine_ids?, labels?, groups?, status?, q?} ({} is every machine)" },
);
export type Targets = typeof Targets.static;

export const Parameter = t.Object(
  {
    name: t.String({ pattern: ENV_NAME.source, maxLength: 64, error: "must be an environment variable name: A-Z, 0-9 and _, not starting with a digit" }),
    default: t.Optional(NoNul(4096, "must be at most 4096 characters, without NUL")),
    required: t.Optional(t.Boolean({ error: "must be true or false" })),
    description: t.Optional(NoNul(200, "must be at most 200 characters")),
  },
  { additionalProperties: false },
);
export type Parameter = typeof Parameter.static;

export const Schedule = t.Object(
  {
    cron: t.String({ minLength: 1, maxLength: 100, error: "must be a cron expression, e.g. 30 3 * * * (every day at 03:30)" }),
    timezone: t.Optional(t.String({ minLength: 1, maxLength: 64, error: "must be a time zone such as Europe/Berlin" })),
  },
  { additionalProperties: false },
);

const jobFields = {
  name: Name,
  description: t.Optional(NoNul(1000, "must be at most 1000 characters")),
  script: t.String({ minLength: 1, maxLength: 60_000, pattern: "^[^\\u0000]*$", error: "must be a shell script of 1–60000 characters, without NUL" }),
  targets: Targets,
  timeout: t.Optional(t.Integer({ minimum: 1, maximum: 86_400, error: "must be seconds from 1 to 86400" })),
  parallelism: t.Optional(t.Integer({ minimum: 1, maximum: 1000, error: "must be a whole number from 1 to 1000" })),
  stop_on_failure: t.Optional(t.Boolean({ error: "must be true or false" })),
  parameters: t.Optional(t.Array(Parameter, { maxItems: 50, error: "must be a list of at most 50 parameters" })),
  schedule: t.Optional(t.Union([Schedule, t.Null()], { error: "must be {cron, timezone?} or null" })),
};

export const NewJob = t.Object(jobFields, { additionalProperties: false });
export type NewJob = typeof NewJob.static;

export const JobPatch = t.Object(
  {
    name: t.Optional(jobFields.name),
    description: jobFields.description,
    script: t.Optional(jobFields.script),
    targets: t.Optional(jobFields.targets),
    timeout: jobFields.timeout,
    parallelism: jobFields.parallelism,
    stop_on_failure: jobFields.stop_on_failure,
    parameters: jobFields.parameters,
    schedule: jobFields.schedule,
  },
  { additionalProperties: false, minProperties: 1, error: "send at least one field to change" },
);
export type JobPatch = typeof JobPatch.static;

export const Job = t.Object({
  id: t.Integer(),
  name: t.String(),
  description: t.String(),
  script: t.String(),
  targets: t.Record(t.String(), t.Unknown()),
  timeout: t.Integer({ description: "Seconds a script may run on one host" }),
  parallelism: t.Integer({ description: "Hosts at once, at most" }),
  stop_on_failure: t.Boolean({ description: "After a host fails, start no other (those running finish; the rest are skipped)" }),
  parameters: t.Array(t.Record(t.String(), t.Unknown())),
  schedule: t.Union([t.Object({ cron: t.String(), timezone: t.String(), next_run_at: NullableTime }), t.Null()]),
  created_by: t.String(),
  created_at: Time,
  updated_at: Time,
});
export type Job = typeof Job.static;
export const JobList = t.Object({ items: t.Array(Job) });
export const JobQuery = t.Object({ name: t.Optional(t.String({ minLength: 1, maxLength: 100, error: "must be a job name" })) });

export const StartRun = t.Object(
  { parameters: t.Optional(t.Record(t.String(), NoNul(4096, "must be a text value of at most 4096 characters, without NUL"), { error: "must be an object of NAME: value" })) },
  { additionalProperties: false },
);
export type StartRun = typeof StartRun.static;

export const HOST_STATES = [
  "queued", "connecting", "running", "succeeded", "failed", "timed_out", "cancelled", "unreachable", "auth_failed", "host_key_changed", "error", "skipped", "interrupted",
] as const;
export type HostState = (typeof HOST_STATES)[number];
export const RUN_STATUSES = ["running", "succeeded", "failed", "cancelled", "interrupted"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RunHost = t.Object({
  machine_id: t.Integer(),
  hostname: t.String(),
  ip_address: t.String(),
  state: t.String({ description: HOST_STATES.join(", ") }),
  exit_code: t.Union([t.Integer(), t.Null()]),
  signal: t.Union([t.String(), t.Null()], { description: "The signal that ended the script (TERM, KILL…)" }),
  message: t.Union([t.String(), t.Null()], { description: "How it ended, in words (never a secret)" }),
  started_at: NullableTime,
  ended_at: NullableTime,
  duration_seconds: t.Union([t.Number(), t.Null()]),
  output_bytes: t.Number({ description: "Bytes the script wrote, counting those past the cap" }),
  truncated: t.Boolean(),
  output: t.Optional(t.String({ description: "stdout and stderr in the order written, colour codes removed; absent with ?output=false" })),
});
export type RunHost = typeof RunHost.static;

const runFields = {
  id: t.Integer(),
  job_id: t.Union([t.Integer(), t.Null()], { description: "null once the job is deleted" }),
  job_name: t.String(),
  status: t.String({ description: RUN_STATUSES.join(", ") }),
  message: t.Union([t.String(), t.Null()]),
  trigger: t.Union([t.Literal("manual"), t.Literal("schedule")]),
  started_by: t.String({ description: 'A user, "alice (token ci)", admin-token, or "schedule"' }),
  scheduled_for: NullableTime,
  instance_id: t.String({ description: "The vxman instance that runs it" }),
  parameters: t.Record(t.String(), t.String()),
  timeout: t.Integer(),
  parallelism: t.Integer(),
  stop_on_failure: t.Boolean(),
  created_at: Time,
  ended_at: NullableTime,
  duration_seconds: t.Union([t.Number(), t.Null()]),
  cancel_requested_at: NullableTime,
  cancelled_by: t.Union([t.String(), t.Null()]),
  hosts_by_state: t.Record(t.String(), t.Integer(), { description: "How many hosts are in each state" }),
};

export const RunSummary = t.Object(runFields);
export type RunSummary = typeof RunSummary.static;
export const Run = t.Object({ ...runFields, script: t.String(), hosts: t.Array(RunHost) });
export type Run = typeof Run.static;
export const RunList = t.Object({ items: t.Array(RunSummary) });

export const RunQuery = t.Object({
  job_id: t.Optional(t.Integer({ minimum: 1, maximum: MAX_INT32, error: fieldError("job_id", "must be a job id") })),
  status: t.Optional(t.Union(RUN_STATUSES.map((s) => t.Literal(s)), { error: `must be one of ${RUN_STATUSES.join(", ")}` })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100, error: fieldError("limit", "must be a whole number from 1 to 1000") })),
  before: t.Optional(t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, error: fieldError("before", "must be a run id") })),
});
export type RunQuery = typeof RunQuery.static;
export const RunGetQuery = t.Object({ output: t.Optional(t.Boolean({ error: "must be true or false" })) });
export const RunIdParam = t.Object({ id: t.String({ pattern: "^\\d{1,15}$", error: "must be a run id (a number)" }) });
