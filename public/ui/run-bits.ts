// Small pieces of the jobs and runs pages: a state as a tag, and the run-now dialog (the job's
// targets and parameters, then POST and off to the run's page).
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { formatDuration } from "../lib/format.ts";
import { stateTone, stateWords, targetsText, type Job, type Parameter, type Run, type Targets } from "../lib/jobs.ts";
import { runHref } from "../lib/route.ts";
import { Modal } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

/** A host's state or a run's status, in words and colour (the word carries it without colour). */
export const StateTag = ({ state }: { state: string }) =>
  html`<span class=${`tag run-state tone-${stateTone(state)}`} data-state=${state}>${stateWords(state)}</span>`;

/** How long something took, or has taken so far when it has not ended. */
export function lengthOf(started: string | null, ended: string | null, seconds: number | null, now: number): string {
  if (seconds !== null) return formatDuration(seconds);
  if (!started) return "—";
  return formatDuration(((ended ? Date.parse(ended) : Math.max(now, Date.now())) - Date.parse(started)) / 1000);
}

/** "Run now": what it will run on, a field per parameter (defaults filled in), then the run's page. */
export function RunNow({ job, onClose }: { job: Job; onClose: () => void }) {
  const params = job.parameters as Parameter[];
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(params.map((p) => [p.name, p.default ?? ""])));
  const action = useAction();
  const start = action.onSubmit(async () => {
    // A parameter left empty takes its default on the server (or is refused when it is required).
    const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    const run = await api<Run>(`/api/jobs/${job.id}/runs`, { method: "POST", body: params.length ? { parameters: given } : {} });
    onClose();
    location.hash = runHref(run.id);
  });
  return html`<${Modal} id="run-now" title=${`Run "${job.name}" now?`} onCancel=${onClose}>
    <form class="form narrow" onSubmit=${start}>
      <p>On ${targetsText(job.targets as Targets)}, at most ${job.parallelism} at a time${job.stop_on_failure ? ", stopping after a failure" : ""}; each host may take ${formatDuration(job.timeout)}.</p>
      ${params.map((p) => html`<${Field} id=${`param-${p.name}`} label=${`${p.name}${p.required ? " (required)" : ""}`} hint=${p.description} error=${action.about(`parameters.${p.name}`)}>
        <input type="text" class="mono" autocomplete="off" spellcheck=${false} required=${!!p.required && p.default === undefined}
          value=${values[p.name]} onInput=${(e: Event) => setValues({ ...values, [p.name]: valueOf(e) })} />
      </${Field}>`)}
      ${params.length ? html`<p class="hint">Parameter values are kept with the run and everyone who can read runs sees them: no secrets here.</p>` : null}
      <${Failure} action=${action} fields=${params.map((p) => `parameters.${p.name}`)} />
      <div class="actions">
        <button type="button" data-autofocus onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Starting…" : "Run"}</button>
      </div>
    </form>
  </${Modal}>`;
}
