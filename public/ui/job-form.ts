// A job, new or changed (admins): the script, the machines it runs on (by name or id, labels,
// groups, status, a search), how (timeout, parallelism, stop on failure), its parameters and a
// schedule. What the server refuses is shown at the field it names ("targets.labels",
// "parameters.0.name", "schedule.cron"…).
import { useState } from "preact/hooks";
import { isLabel } from "../../src/outages/groups.ts";
import { api } from "../lib/api.ts";
import type { Job, Parameter, Targets } from "../lib/jobs.ts";
import type { MachineStore } from "../lib/store.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { listOf, resolveMachines } from "./silence-form.ts";

/** The fields shown beside their controls; the server's word on any other goes above the buttons. */
const FIELDS = ["name", "description", "script", "targets.machine_ids", "targets.labels", "targets.groups", "targets.status", "targets.q", "timeout", "parallelism", "schedule"];
const paramFields = (n: number) => Array.from({ length: n }, (_, i) => ["name", "default", "description"].map((f) => `parameters.${i}.${f}`)).flat();

interface Draft {
  name: string;
  description: string;
  script: string;
  machines: string;
  labels: string;
  groups: string;
  status: "" | "active" | "unreachable";
  q: string;
  timeout: string;
  parallelism: string;
  stopOnFailure: boolean;
  parameters: { name: string; default: string; required: boolean; description: string }[];
  cron: string;
  timezone: string;
}

function draftOf(job: Job | undefined, store: MachineStore): Draft {
  const t = (job?.targets ?? {}) as Targets;
  return {
    name: job?.name ?? "",
    description: job?.description ?? "",
    script: job?.script ?? "",
    machines: (t.machine_ids ?? []).map((id) => store.machines.get(id)?.hostname ?? String(id)).join(", "),
    labels: (t.labels ?? []).join(", "),
    groups: (t.groups ?? []).join(", "),
    status: t.status ?? "",
    q: t.q ?? "",
    timeout: String(job?.timeout ?? 300),
    parallelism: String(job?.parallelism ?? 10),
    stopOnFailure: job?.stop_on_failure ?? false,
    parameters: ((job?.parameters ?? []) as Parameter[]).map((p) => ({ name: p.name, default: p.default ?? "", required: !!p.required, description: p.description ?? "" })),
    cron: job?.schedule?.cron ?? "",
    timezone: job?.schedule?.timezone ?? "UTC",
  };
}

export function JobForm({ job, store, onSaved, onCancel }: { job?: Job; store: MachineStore; onSaved: (j: Job, said: string) => void; onCancel: () => void }) {
  const [d, setD] = useState(() => draftOf(job, store));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const action = useAction();
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setD({ ...d, [key]: value });
  const text = (key: "name" | "description" | "script" | "machines" | "labels" | "groups" | "q" | "timeout" | "parallelism" | "cron" | "timezone") => (e: Event) => set(key, valueOf(e));
  const setParam = (i: number, change: Partial<Draft["parameters"][number]>) => set("parameters", d.parameters.map((p, j) => (i === j ? { ...p, ...change } : p)));
  const prefix = job ? `job-${job.id}` : "job-new";

  const save = action.onSubmit(async () => {
    const found = resolveMachines(d.machines, store.machines);
    const labels = listOf(d.labels);
    const mine: Record<string, string> = {};
    if (found.unknown.length) mine["targets.machine_ids"] = `No machine is called ${found.unknown.join(", ")}.`;
    const bad = labels.filter((l) => !isLabel(l));
    if (bad.length) mine["targets.labels"] = `Not key=value: ${bad.join(", ")}.`;
    setProblems(mine);
    if (Object.keys(mine).length) return;
    const targets: Targets = {};
    if (found.ids.length) targets.machine_ids = found.ids;
    if (labels.length) targets.labels = labels;
    if (listOf(d.groups).length) targets.groups = listOf(d.groups);
    if (d.status) targets.status = d.status;
    if (d.q.trim()) targets.q = d.q.trim();
    const body = {
      name: d.name.trim(),
      description: d.description,
      script: d.script,
      targets,
      timeout: Number(d.timeout),
      parallelism: Number(d.parallelism),
      stop_on_failure: d.stopOnFailure,
      parameters: d.parameters.map((p) => ({
        name: p.name.trim(),
        ...(p.default !== "" ? { default: p.default } : {}),
        ...(p.required ? { required: true } : {}),
        ...(p.description.trim() ? { description: p.description.trim() } : {}),
      })),
      schedule: d.cron.trim() ? { cron: d.cron.trim(), timezone: d.timezone.trim() || "UTC" } : null,
    };
    const saved = await api<Job>(job ? `/api/jobs/${job.id}` : "/api/jobs", { method: job ? "PATCH" : "POST", body });
    onSaved(saved, job ? `Job "${saved.name}" saved.` : `Job "${saved.name}" created.`);
  });
  const error = (field: string) => problems[field] ?? action.about(field);

  return html`<form class="form job-form" onSubmit=${save} aria-label=${job ? `Edit job ${job.name}` : "New job"}>
    <h3 class="form-title">${job ? `Edit "${job.name}"` : "New job"}</h3>
    <${Field} id=${`${prefix}-name`} label="Name" error=${error("name")}>
      <input type="text" required maxlength="100" autocomplete="off" value=${d.name} onInput=${text("name")} />
    </${Field}>
    <${Field} id=${`${prefix}-description`} label="Description" error=${error("description")}>
      <input type="text" maxlength="1000" autocomplete="off" value=${d.description} onInput=${text("description")} />
    </${Field}>
    <${Field} id=${`${prefix}-script`} label="Script" hint="Run by /bin/sh on each machine; parameters are environment variables ($VERSION)." error=${error("script")}>
      <textarea class="mono" rows="8" required spellcheck=${false} value=${d.script} onInput=${text("script")} />
    </${Field}>
    <fieldset>
      <legend>Which machines</legend>
      <p class="hint">Every part given must match; nothing given is every machine. The selection is made when a run starts.</p>
      <${Field} id=${`${prefix}-machines`} label="Machines" hint="Host names or ids, separated by commas" error=${error("targets.machine_ids")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${d.machines} onInput=${text("machines")} />
      </${Field}>
      <${Field} id=${`${prefix}-labels`} label="Labels (all of them)" hint="key=value, separated by commas" error=${error("targets.labels")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${d.labels} onInput=${text("labels")} />
      </${Field}>
      <${Field} id=${`${prefix}-groups`} label="Groups (any of them)" hint="e.g. vni 4096, subnet 198.18.0.0/24" error=${error("targets.groups")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${d.groups} onInput=${text("groups")} />
      </${Field}>
      <${Field} id=${`${prefix}-status`} label="Status" error=${error("targets.status")}>
        <select value=${d.status} onChange=${(e: Event) => set("status", valueOf(e) as Draft["status"])}>
          <option value="">Any</option><option value="active">Active</option><option value="unreachable">Unreachable</option>
        </select>
      </${Field}>
      <${Field} id=${`${prefix}-q`} label="Search" hint="Host name, IP, MAC or label contains" error=${error("targets.q")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${d.q} onInput=${text("q")} />
      </${Field}>
    </fieldset>
    <fieldset>
      <legend>How</legend>
      <${Field} id=${`${prefix}-timeout`} label="Timeout per host (seconds)" error=${error("timeout")}>
        <input type="number" min="1" max="86400" required value=${d.timeout} onInput=${text("timeout")} />
      </${Field}>
      <${Field} id=${`${prefix}-parallelism`} label="Hosts at once, at most" error=${error("parallelism")}>
        <input type="number" min="1" max="1000" required value=${d.parallelism} onInput=${text("parallelism")} />
      </${Field}>
      <label class="check"><input type="checkbox" checked=${d.stopOnFailure} onChange=${(e: Event) => set("stopOnFailure", (e.target as HTMLInputElement).checked)} />
        Stop on failure (start no other host after one fails)</label>
    </fieldset>
    <fieldset>
      <legend>Parameters</legend>
      <p class="hint">Given when a run starts, passed as environment variables (names A-Z, 0-9, _). Everyone who reads runs sees the values.</p>
      ${d.parameters.map((p, i) => html`<div class="param-row" key=${i}>
        <${Field} id=${`${prefix}-param-${i}-name`} label="Name" error=${error(`parameters.${i}.name`)}>
          <input type="text" class="mono" required autocomplete="off" spellcheck=${false} value=${p.name} onInput=${(e: Event) => setParam(i, { name: valueOf(e) })} />
        </${Field}>
        <${Field} id=${`${prefix}-param-${i}-default`} label="Default" error=${error(`parameters.${i}.default`)}>
          <input type="text" autocomplete="off" spellcheck=${false} value=${p.default} onInput=${(e: Event) => setParam(i, { default: valueOf(e) })} />
        </${Field}>
        <${Field} id=${`${prefix}-param-${i}-description`} label="Description" error=${error(`parameters.${i}.description`)}>
          <input type="text" autocomplete="off" value=${p.description} onInput=${(e: Event) => setParam(i, { description: valueOf(e) })} />
        </${Field}>
        <label class="check"><input type="checkbox" checked=${p.required} onChange=${(e: Event) => setParam(i, { required: (e.target as HTMLInputElement).checked })} /> Required</label>
        <button type="button" class="small" aria-label=${`Remove parameter ${p.name || i + 1}`} onClick=${() => set("parameters", d.parameters.filter((_, j) => j !== i))}>Remove</button>
      </div>`)}
      <div><button type="button" class="small" onClick=${() => set("parameters", [...d.parameters, { name: "", default: "", required: false, description: "" }])}>Add a parameter</button></div>
    </fieldset>
    <fieldset>
      <legend>Schedule</legend>
      <${Field} id=${`${prefix}-cron`} label="Cron" hint="Empty: runs only when started. minute hour day month weekday: 30 3 * * * is every day at 03:30" error=${error("schedule.cron") ?? error("schedule")}>
        <input type="text" class="mono" autocomplete="off" spellcheck=${false} value=${d.cron} placeholder="30 3 * * *" onInput=${text("cron")} />
      </${Field}>
      <${Field} id=${`${prefix}-timezone`} label="Time zone" hint="e.g. Europe/Berlin or UTC" error=${error("schedule.timezone")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${d.timezone} onInput=${text("timezone")} />
      </${Field}>
    </fieldset>
    <${Failure} action=${action} fields=${[...FIELDS, ...paramFields(d.parameters.length)]} />
    <div class="actions start">
      <button type="button" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Saving…" : job ? "Save job" : "Create job"}</button>
    </div>
  </form>`;
}
