// What a message says: one per group and kind, whatever its channel (each channel lays it out
// in its own markup from these fields). Pure functions.
import { randomUUID } from "node:crypto";
import { formatDuration, machineLine } from "./channels/format.ts";
import type { Notification, NotificationKind, NotifiedMachine } from "./channels/index.ts";

/** The first machines a message lists; `total` says how many there are in all. */
export const MAX_MACHINES_LISTED = 50;
const LINES_IN_TEXT = 10;

const WHAT: Record<NotificationKind, [one: string, many: string]> = {
  unreachable: ["is unreachable", "machines unreachable"],
  recovered: ["recovered", "machines recovered"],
  still_unreachable: ["is still unreachable", "machines still unreachable"],
  registered: ["registered", "machines registered"],
  deleted: ["was deleted", "machines deleted"],
  mac_changed: ["changed its MAC address", "machines changed their MAC address"],
  run_failed: ["failed a job run", "machines failed a job run"],
  test: ["test", "test"],
};

export interface Group {
  by: string;
  value: string;
  /** As people read it: "vni 4096", "subnet 198.18.0.0/24", "role=db". */
  key: string;
}

function titleOf(kind: NotificationKind, group: Group, machines: NotifiedMachine[]): string {
  const [one, many] = WHAT[kind];
  if (machines.length === 1) {
    const m = machines[0]!;
    const after = kind === "recovered" && m.outage_seconds !== null ? ` after ${formatDuration(m.outage_seconds)}` : "";
    return `${m.hostname} (${m.ip_address}) ${one}${after} — ${group.key}`;
  }
  return `${machines.length} ${many} in ${group.key}`;
}

/** Dashboard link: one machine's page, or the dashboard; null without PUBLIC_URL. */
function linkOf(publicUrl: string | null, machines: NotifiedMachine[]): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, "");
  return machines.length === 1 ? `${base}/#/machines/${machines[0]!.id}` : `${base}/`;
}

export function render(kind: NotificationKind, group: Group, machines: NotifiedMachine[], at: string, publicUrl: string | null): Notification {
  const url = linkOf(publicUrl, machines);
  const listed = machines.slice(0, MAX_MACHINES_LISTED);
  const lines = listed.slice(0, LINES_IN_TEXT).map((m) => machineLine(m, at));
  if (machines.length > LINES_IN_TEXT) lines.push(`…and ${machines.length - LINES_IN_TEXT} more`);
  if (url) lines.push(url);
  return {
    version: 1,
    id: randomUUID(),
    kind,
    group: { by: group.by, value: group.value },
    title: titleOf(kind, group, machines),
    text: lines.join("\n"),
    machines: listed,
    total: machines.length,
    at,
    url,
  };
}

/** A run that did not succeed, as the run_failed event records it (src/jobs/run-execution.ts). */
export interface FailedRun {
  run_id: number;
  job_name: string;
  hosts: number;
  failed: number;
  failed_hosts: { hostname: string; ip_address: string; state: string; message: string | null }[];
}

/** The message for a failed run: no machines list (it is about a run), the failed hosts as text lines. */
export function renderRunFailed(run: FailedRun, at: string, publicUrl: string | null): Notification {
  const url = publicUrl ? `${publicUrl.replace(/\/+$/, "")}/#/runs/${run.run_id}` : null;
  const lines = run.failed_hosts.slice(0, LINES_IN_TEXT).map((h) => `${h.hostname} (${h.ip_address}): ${h.state.replaceAll("_", " ")}${h.message ? ` — ${h.message}` : ""}`);
  if (run.failed > LINES_IN_TEXT) lines.push(`…and ${run.failed - LINES_IN_TEXT} more`);
  if (url) lines.push(url);
  const message = render("run_failed", { by: "job", value: run.job_name, key: `job ${run.job_name}` }, [], at, null);
  message.title = run.hosts === 0
    ? `Run ${run.run_id} of job "${run.job_name}" failed: no machine matched its targets`
    : `Run ${run.run_id} of job "${run.job_name}" failed on ${run.failed} of ${run.hosts} machines`;
  message.text = lines.join("\n");
  message.url = url;
  return message;
}
