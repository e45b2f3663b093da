// Runs, newest first: which job, how it went on how many hosts, who started it and when;
// filtered by job and status (in the address, so a job's "Runs" link lands here filtered), and
// paged back with `before`. The first page follows along (asked for again every 10 s).
import { useState } from "preact/hooks";
import { exactTime, localDateTime } from "../lib/format.ts";
import { countsText, RUN_STATUSES, stateWords, type Job, type RunSummary } from "../lib/jobs.ts";
import { runHref, runsHref } from "../lib/route.ts";
import { valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";
import { lengthOf, StateTag } from "./run-bits.ts";

const PAGE = 50;
const RELOAD_MS = 10_000;

function query(job: number | undefined, status: string | undefined, before?: number): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (job) q.set("job_id", String(job));
  if (status) q.set("status", status);
  if (before) q.set("before", String(before));
  return `/api/runs?${q}`;
}

export function RunTable({ runs, now }: { runs: RunSummary[]; now: number }) {
  return html`<table class="list-table runs-table">
    <thead><tr>
      <th scope="col">Run</th><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Hosts</th>
      <th scope="col">Started by</th><th scope="col">Started</th><th scope="col">Took</th>
    </tr></thead>
    <tbody>${runs.map((r) => html`<tr key=${r.id} data-run=${r.id}>
      <td data-label="Run"><a href=${runHref(r.id)}>Run ${r.id}</a></td>
      <td data-label="Job"><span class="cell break">${r.job_name}</span></td>
      <td data-label="Status"><${StateTag} state=${r.status} /></td>
      <td data-label="Hosts"><span class="cell">${countsText(r.hosts_by_state)}</span></td>
      <td data-label="Started by"><span class="cell break">${r.started_by}</span></td>
      <td data-label="Started"><time datetime=${r.created_at} title=${exactTime(r.created_at)}>${localDateTime(r.created_at)}</time></td>
      <td data-label="Took" class="num">${lengthOf(r.created_at, r.ended_at, r.duration_seconds, now)}</td>
    </tr>`)}</tbody>
  </table>`;
}

export function RunsPage({ job, status, now }: { job?: number; status?: string; now: number }) {
  const [jobs] = useLoad<{ items: Job[] }>("/api/jobs");
  // The ids each older page starts before; the first page (none) is asked for again now and then.
  const [cursors, setCursors] = useState<{ key: string; before: number[] }>({ key: "", before: [] });
  const key = `${job}|${status}`;
  const pages = cursors.key === key ? cursors.before : [];
  const before = pages.at(-1);
  const [page] = useLoad<{ items: RunSummary[] }>(query(job, status, before), before ? 0 : Math.floor(now / RELOAD_MS));
  const filter = (change: { job?: number; status?: string }) => (location.hash = runsHref({ job, status, ...change }));
  const items = page.state === "ok" ? page.value.items : [];
  return html`<section class="page-section" aria-labelledby="runs-h">
    <h2 id="runs-h" tabindex="-1">Runs</h2>
    <form class="form inline-form" role="search" aria-label="Filter the runs" onSubmit=${(e: Event) => e.preventDefault()}>
      <div class="field">
        <label class="label" for="runs-job">Job</label>
        <select id="runs-job" value=${job ? String(job) : ""} onChange=${(e: Event) => filter({ job: Number(valueOf(e)) || undefined })}>
          <option value="">All jobs</option>
          ${jobs.state === "ok" ? jobs.value.items.map((j) => html`<option value=${String(j.id)}>${j.name}</option>`) : null}
        </select>
      </div>
      <div class="field">
        <label class="label" for="runs-status">Status</label>
        <select id="runs-status" value=${status ?? ""} onChange=${(e: Event) => filter({ status: valueOf(e) || undefined })}>
          <option value="">Any status</option>
          ${RUN_STATUSES.map((s) => html`<option value=${s}>${stateWords(s)}</option>`)}
        </select>
      </div>
    </form>
    ${page.state !== "ok"
      ? loadNotice(page, "runs")
      : items.length
        ? html`<${RunTable} runs=${items} now=${now} />`
        : html`<p class="muted">No runs${job || status ? " match" : " yet"}${before ? " before these" : ""}.</p>`}
    <div class="pager">
      ${pages.length ? html`<button type="button" onClick=${() => setCursors({ key, before: pages.slice(0, -1) })}>Newer runs</button>` : null}
      ${items.length === PAGE ? html`<button type="button" onClick=${() => setCursors({ key, before: [...pages, items.at(-1)!.id] })}>Older runs</button>` : null}
    </div>
  </section>`;
}
