// Jobs: each with what it runs on, its schedule and how its last run went. Operators run them
// ("Run now", with parameters); admins define, change and delete them (job-form.ts). Machines
// whose host key changed are named at the top: their runs are refused until an admin accepts.
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { exactTime, formatDuration, localDateTime } from "../lib/format.ts";
import { targetsText, type Job, type RunSummary, type Targets } from "../lib/jobs.ts";
import { runHref, runsHref } from "../lib/route.ts";
import { may, type Role } from "../lib/session.ts";
import type { MachineStore } from "../lib/store.ts";
import { machineHref, TimeAgo } from "./bits.ts";
import { Confirm } from "./dialogs.ts";
import { html } from "./html.ts";
import { JobForm } from "./job-form.ts";
import { loadNotice, useLoad } from "./load.ts";
import { RunNow, StateTag } from "./run-bits.ts";

/** Last runs and schedules are asked for again this often (the page's clock ticks every 10 s). */
const RELOAD_MS = 10_000;

interface ChangedKey {
  machine_id: number;
  hostname: string;
  ip_address: string;
  offered_host_key: { fingerprint: string } | null;
}

/** Machines refusing logins because their host key changed; an admin accepts on the machine's page. */
export function ChangedHostKeys({ version }: { version: unknown }) {
  const [changed] = useLoad<{ items: ChangedKey[] }>("/api/host-keys?changed=true", version);
  if (changed.state !== "ok" || !changed.value.items.length) return null;
  return html`<div class="banner warn" role="status" data-changed-host-keys>
    <strong>Host key changed</strong> on ${changed.value.items.map((k, i) => html`${i ? ", " : ""}<a class="break" href=${machineHref(k.machine_id)}>${k.hostname}</a>`)}:
    vxman refuses to log in there until an admin checks the new key and accepts it on the machine's page.
  </div>`;
}

function LastRun({ job, version, now }: { job: Job; version: unknown; now: number }) {
  const [last] = useLoad<{ items: RunSummary[] }>(`/api/runs?job_id=${job.id}&limit=1`, version);
  if (last.state !== "ok") return last.state === "error" ? html`<span class="error">${last.message}</span>` : null;
  const run = last.value.items[0];
  if (!run) return html`<span class="muted">never run</span>`;
  return html`<span class="cell"><a href=${runHref(run.id)}>Run ${run.id}</a> <${StateTag} state=${run.status} /> <${TimeAgo} iso=${run.created_at} now=${now} /></span>`;
}

function JobItem({ job, role, version, now, onRun, onEdit, onDelete }: {
  job: Job; role: Role | null; version: unknown; now: number; onRun: () => void; onEdit: () => void; onDelete: () => void }) {
  const s = job.schedule;
  return html`<li class="item job" data-job=${job.id}>
    <div class="item-main">
      <div><strong class="break job-name">${job.name}</strong>${job.description ? html` <span class="muted break">${job.description}</span>` : null}</div>
      <dl class="facts compact">
        <dt>Runs on</dt><dd class="break">${targetsText(job.targets as Targets)}</dd>
        <dt>How</dt><dd>at most ${job.parallelism} at a time, ${formatDuration(job.timeout)} per host${job.stop_on_failure ? ", stops after a failure" : ""}</dd>
        <dt>Schedule</dt><dd>${s
          ? html`<code>${s.cron}</code> (${s.timezone})${s.next_run_at
              ? html`, next <time datetime=${s.next_run_at} title=${exactTime(s.next_run_at)}>${localDateTime(s.next_run_at)}</time>` : null}`
          : html`<span class="muted">none</span>`}</dd>
        <dt>Last run</dt><dd><${LastRun} job=${job} version=${version} now=${now} /></dd>
      </dl>
    </div>
    <div class="item-actions">
      ${may.runJobs(role) ? html`<button type="button" class="primary" aria-label=${`Run ${job.name} now`} onClick=${onRun}>Run now</button>` : null}
      <a class="button" href=${runsHref({ job: job.id })} aria-label=${`Runs of ${job.name}`}>Runs</a>
      ${may.manageJobs(role)
        ? html`<button type="button" aria-label=${`Edit ${job.name}`} onClick=${onEdit}>Edit</button>
            <button type="button" class="danger" aria-label=${`Delete ${job.name}`} onClick=${onDelete}>Delete</button>`
        : null}
    </div>
  </li>`;
}

export function JobsPage({ store, role, now }: { store: MachineStore; role: Role | null; now: number }) {
  const version = Math.floor(now / RELOAD_MS);
  const [list, reload] = useLoad<{ items: Job[] }>("/api/jobs", version);
  const [editing, setEditing] = useState<Job | "new" | null>(null);
  const [running, setRunning] = useState<Job | null>(null);
  const [deleting, setDeleting] = useState<Job | null>(null);
  const [said, setSaid] = useState("");
  const saved = (_j: Job, text: string) => {
    setSaid(text);
    setEditing(null);
    reload();
  };
  const remove = async () => {
    await api(`/api/jobs/${deleting!.id}`, { method: "DELETE" });
    setSaid(`Job "${deleting!.name}" deleted; its runs stay in the list.`);
    setDeleting(null);
    reload();
  };
  const jobs = list.state === "ok" ? list.value.items : [];
  return html`<section class="page-section" aria-labelledby="jobs-h">
    <h2 id="jobs-h" tabindex="-1">Jobs</h2>
    <p class="muted">Scripts run over SSH on the machines each job selects. ${may.runJobs(role) ? "" : "Operators run them; "}every host's output is in its run.</p>
    <${ChangedHostKeys} version=${version} />
    <p class="status-line" role="status" aria-live="polite">${said}</p>
    ${list.state !== "ok"
      ? loadNotice(list, "jobs")
      : jobs.length === 0
        ? html`<p class="muted">No jobs yet.${may.manageJobs(role) ? "" : " Admins define them."}</p>`
        : html`<ul class="items">${jobs.map((j) => editing !== "new" && editing?.id === j.id
            ? html`<li class="item" key=${j.id}><${JobForm} job=${j} store=${store} onSaved=${saved} onCancel=${() => setEditing(null)} /></li>`
            : html`<${JobItem} key=${j.id} job=${j} role=${role} version=${version} now=${now}
                onRun=${() => setRunning(j)} onEdit=${() => setEditing(j)} onDelete=${() => setDeleting(j)} />`)}</ul>`}
    ${may.manageJobs(role)
      ? editing === "new"
        ? html`<${JobForm} store=${store} onSaved=${saved} onCancel=${() => setEditing(null)} />`
        : html`<p><button type="button" class="primary" onClick=${() => setEditing("new")}>New job</button></p>`
      : null}
    ${running ? html`<${RunNow} job=${running} onClose=${() => setRunning(null)} />` : null}
    ${deleting
      ? html`<${Confirm} id="delete-job" title=${`Delete the job "${deleting.name}"?`} confirm="Delete" busy="Deleting…" onConfirm=${remove} onClose=${() => setDeleting(null)}>
          <p>Its schedule stops. Its runs stay as records, with the script that ran.</p>
        </${Confirm}>`
      : null}
  </section>`;
}
