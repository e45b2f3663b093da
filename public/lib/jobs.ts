// Fleet jobs as the dashboard sees them: the server's types (types only: the models pull Elysia
// in), the states spelt out for the page's filters and tags, and a job's targets in words.
import type { Credential, MachineSsh, SshDefault } from "../../src/jobs/model.ts";
import type { HostState, Job, Parameter, Run, RunHost, RunStatus, RunSummary, Targets } from "../../src/jobs/run-model.ts";
import type { HostView, OutputMessageChunk, RunMessage, RunView } from "../../src/jobs/run-protocol.ts";

export type { Credential, HostState, HostView, Job, MachineSsh, OutputMessageChunk, Parameter, Run, RunHost, RunMessage, RunStatus, RunSummary, RunView, SshDefault, Targets };

// Spelt out here: the server's lists live in a module that pulls Elysia into the bundle. The
// checks below fail the type check when the lists drift apart (as in ui/audit.ts).
export const HOST_STATES = [
  "queued", "connecting", "running", "succeeded", "failed", "timed_out", "cancelled", "unreachable", "auth_failed", "host_key_changed", "error", "skipped", "interrupted",
] as const satisfies readonly HostState[];
const everyHostState: Exclude<HostState, (typeof HOST_STATES)[number]> extends never ? true : false = true;
export const RUN_STATUSES = ["running", "succeeded", "failed", "cancelled", "interrupted"] as const satisfies readonly RunStatus[];
const everyRunStatus: Exclude<RunStatus, (typeof RUN_STATUSES)[number]> extends never ? true : false = true;
void everyHostState, everyRunStatus;

/** A state or status as words: "timed_out" → "timed out". */
export const stateWords = (state: string) => state.replace(/_/g, " ");

/** The tag colour of a state: good, bad, going on, or neither. */
export function stateTone(state: string): "ok" | "bad" | "busy" | "none" {
  if (state === "succeeded") return "ok";
  if (state === "queued" || state === "connecting" || state === "running") return "busy";
  if (state === "cancelled" || state === "skipped" || state === "interrupted") return "none";
  return "bad";
}

/** What a job's targets select, in a line: "labels role=db · status active", "every machine". */
export function targetsText(targets: Targets): string {
  const parts: string[] = [];
  if (targets.machine_ids?.length) parts.push(`${targets.machine_ids.length === 1 ? "machine" : "machines"} ${targets.machine_ids.join(", ")}`);
  if (targets.labels?.length) parts.push(`labels ${targets.labels.join(", ")}`);
  if (targets.groups?.length) parts.push(`groups ${targets.groups.join(", ")}`);
  if (targets.status) parts.push(`status ${targets.status}`);
  if (targets.q) parts.push(`matching "${targets.q}"`);
  return parts.length ? parts.join(" · ") : "every machine";
}

/** A run's hosts by state as a line: "2 succeeded, 1 failed". */
export function countsText(byState: Record<string, number>): string {
  const parts = HOST_STATES.filter((s) => byState[s]).map((s) => `${byState[s]} ${stateWords(s)}`);
  return parts.length ? parts.join(", ") : "no hosts";
}
