// One run: its hosts as rows (state, exit code, how long, how it ended) and a log pane that
// follows WS /ws/runs/{id} live, all hosts interleaved (each line marked with its host) or one
// host's alone. Whatever a host prints is put on the page as text nodes (htm), never parsed as
// HTML; the server has already removed terminal escape sequences. Operators cancel from here.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { exactTime, localDateTime } from "../lib/format.ts";
import type { HostView, Run, RunView } from "../lib/jobs.ts";
import type { LiveState } from "../lib/live.ts";
import { RunLog, type RunOutput } from "../lib/run-log.ts";
import { runsHref } from "../lib/route.ts";
import { may, type Role } from "../lib/session.ts";
import { machineHref } from "./bits.ts";
import { Confirm } from "./dialogs.ts";
import { valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";
import { lengthOf, StateTag } from "./run-bits.ts";

/** Lines drawn at most (the newest); each host's whole output is in GET /api/runs/{id}. */
const SHOWN_LINES = 5000;

interface Live {
  run: RunView | null;
  conn: LiveState | { kind: "ended" };
  /** Bumped on new output. */
  outputVersion: number;
}

/** Follows the run's live log while `follow` (not for a run the server says does not exist). */
function useRunLog(id: number, follow: boolean): [Live, RunOutput | null] {
  const [live, setLive] = useState<Live>({ run: null, conn: { kind: "connecting" }, outputVersion: 0 });
  const [log, setLog] = useState<RunLog | null>(null);
  useEffect(() => {
    if (!follow) return;
    const merge = (hosts: HostView[]) => (run: RunView | null) =>
      run && { ...run, hosts: run.hosts.map((h) => hosts.find((n) => n.machine_id === h.machine_id) ?? h) };
    const runLog = new RunLog(id, {
      run: (run) => setLive((l) => ({ ...l, run })),
      hosts: (hosts) => setLive((l) => ({ ...l, run: merge(hosts)(l.run) })),
      output: () => setLive((l) => ({ ...l, outputVersion: runLog.output.version })),
      end: (run) => setLive((l) => ({ ...l, run, conn: { kind: "ended" } })),
      state: (conn) => setLive((l) => (l.conn.kind === "ended" ? l : { ...l, conn })),
    });
    setLog(runLog);
    setLive({ run: null, conn: { kind: "connecting" }, outputVersion: 0 });
    runLog.start();
    return () => runLog.stop();
  }, [id, follow]);
  return [live, log?.output ?? null];
}

function LogBadge({ conn }: { conn: Live["conn"] }) {
  const text = conn.kind === "connected" ? "live" : conn.kind === "ended" ? "ended" : conn.kind === "connecting" ? "connecting…" : `reconnecting in ${conn.inSeconds} s (${conn.reason})`;
  return html`<span class=${`badge badge-${conn.kind === "ended" ? "connected" : conn.kind}`} data-log-state=${conn.kind} role="status">${text}</span>`;
}

function Hosts({ run, now, shown, onShow }: { run: RunView; now: number; shown: number | null; onShow: (id: number | null) => void }) {
  return html`<table class="list-table hosts-table">
    <thead><tr>
      <th scope="col">Host</th><th scope="col">IP address</th><th scope="col">State</th><th scope="col">Exit</th>
      <th scope="col">Took</th><th scope="col">How it ended</th><th scope="col"><span class="sr-only">Log</span></th>
    </tr></thead>
    <tbody>${run.hosts.map((h) => html`<tr key=${h.machine_id} data-host=${h.machine_id} data-state=${h.state}>
      <td data-label="Host"><a class="break" href=${machineHref(h.machine_id)}>${h.hostname}</a></td>
      <td data-label="IP address" class="mono">${h.ip_address}</td>
      <td data-label="State"><${StateTag} state=${h.state} /></td>
      <td data-label="Exit" class="num">${h.exit_code ?? (h.signal ? `signal ${h.signal}` : "—")}</td>
      <td data-label="Took" class="num">${lengthOf(h.started_at, h.ended_at, h.duration_seconds, now)}</td>
      <td data-label="How it ended"><span class="cell break">${h.message ?? ""}${h.truncated ? " (output truncated)" : ""}</span></td>
      <td class="row-actions"><button type="button" class="small" aria-pressed=${shown === h.machine_id}
        onClick=${() => onShow(shown === h.machine_id ? null : h.machine_id)}>${shown === h.machine_id ? "All hosts" : `Only ${h.hostname}`}</button></td>
    </tr>`)}</tbody>
  </table>`;
}

function LogPane({ output, run, shown }: { output: RunOutput; run: RunView; shown: number | null }) {
  const ref = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  const names = new Map(run.hosts.map((h) => [h.machine_id, h.hostname]));
  const lines = shown === null ? output.lines : output.lines.filter((l) => l.machine_id === shown);
  const drawn = lines.slice(-SHOWN_LINES);
  // Follows the end while the reader is there; stays put once they scroll up to read.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  });
  const onScroll = () => {
    const el = ref.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return html`${lines.length > drawn.length ? html`<p class="hint">The last ${SHOWN_LINES.toLocaleString()} of ${lines.length.toLocaleString()} lines.</p>` : null}
    <pre class="run-log" ref=${ref} onScroll=${onScroll} tabindex="0" aria-label="Output" data-lines=${drawn.length}>${drawn.length
      ? drawn.map((l) => html`<div class=${`log-line ${l.stream}`} data-host=${l.machine_id}>${shown === null ? html`<span class="log-host">${names.get(l.machine_id) ?? l.machine_id}</span>` : null}${l.text}</div>`)
      : html`<span class="muted">No output${run.status === "running" ? " yet" : ""}.</span>`}</pre>`;
}

export function RunPage({ id, role, now }: { id: number; role: Role | null; now: number }) {
  const [record] = useLoad<Run | null>(`/api/runs/${id}?output=false`, 0, null);
  const missing = record.state === "ok" && record.value === null;
  const [live, output] = useRunLog(id, !missing);
  const [shown, setShown] = useState<number | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [cancelAsked, setCancelAsked] = useState(false);
  const run = live.run;
  const back = html`<p><a href=${runsHref({})} class="back">← All runs</a></p>`;
  if (missing) return html`<section class="page-section">${back}<h2 tabindex="-1">Run ${id}</h2><p>There is no such run.</p></section>`;
  const cancel = async () => {
    await api(`/api/runs/${id}/cancel`, { method: "POST" });
    setCancelAsked(true);
    setCancelling(false);
  };
  const r = run ?? (record.state === "ok" ? record.value : null);
  const script = record.state === "ok" ? record.value?.script : undefined;
  const asked = cancelAsked || !!r?.cancel_requested_at;
  return html`<section class="page-section run-page" aria-labelledby="run-h">${back}
    <div class="detail-head">
      <h2 id="run-h" tabindex="-1" class="break">Run ${id}${r ? html` of <a href=${runsHref({ job: r.job_id ?? undefined })}>${r.job_name}</a>` : null}</h2>
      ${r ? html`<span data-run-status=${r.status}><${StateTag} state=${r.status} /></span>` : null}
      <${LogBadge} conn=${live.conn} />
      ${r && r.status === "running" && may.runJobs(role)
        ? html`<button type="button" class="danger" aria-disabled=${asked} onClick=${() => asked || setCancelling(true)}>${asked ? "Cancelling…" : "Cancel run"}</button>`
        : null}
    </div>
    ${r
      ? html`<dl class="facts compact">
          <dt>Started</dt><dd><time datetime=${r.created_at} title=${exactTime(r.created_at)}>${localDateTime(r.created_at)}</time> by ${r.started_by}${r.trigger === "schedule" ? " (on its schedule)" : ""}</dd>
          <dt>Took</dt><dd>${lengthOf(r.created_at, r.ended_at, r.duration_seconds, now)}${r.ended_at ? "" : " so far"}</dd>
          ${r.message ? html`<dt>Outcome</dt><dd class="break">${r.message}</dd>` : null}
          ${r.cancelled_by ? html`<dt>Cancelled by</dt><dd class="break">${r.cancelled_by}</dd>` : null}
          ${Object.keys(r.parameters).length
            ? html`<dt>Parameters</dt><dd>${Object.entries(r.parameters).map(([k, v]) => html`<div class="break"><span class="mono">${k}</span>=<span class="mono">${v}</span></div>`)}</dd>`
            : null}
          <dt>How</dt><dd>at most ${r.parallelism} at a time, ${r.timeout} s per host${r.stop_on_failure ? ", stop on failure" : ""}</dd>
        </dl>`
      : html`<p class="muted">Loading the run…</p>`}
    ${record.state === "error" ? loadNotice(record, "the run") : null}
    ${script !== undefined ? html`<details class="script"><summary>Script</summary><pre class="run-script">${script}</pre></details>` : null}
    <h3>Hosts</h3>
    ${run ? (run.hosts.length ? html`<${Hosts} run=${run} now=${now} shown=${shown} onShow=${setShown} />` : html`<p class="muted">No machine matched.</p>`) : null}
    <div class="log-head">
      <h3 id="log-h">Output</h3>
      ${run && run.hosts.length > 1
        ? html`<span class="log-filter"><label for="log-host">Show</label>
            <select id="log-host" value=${shown === null ? "" : String(shown)} onChange=${(e: Event) => setShown(valueOf(e) ? Number(valueOf(e)) : null)}>
              <option value="">all hosts</option>
              ${run.hosts.map((h) => html`<option value=${String(h.machine_id)}>${h.hostname}</option>`)}
            </select></span>`
        : null}
    </div>
    ${run && output ? html`<${LogPane} output=${output} run=${run} shown=${shown} />` : null}
    ${cancelling
      ? html`<${Confirm} id="cancel-run" title=${`Cancel run ${id}?`} confirm="Yes, cancel it" busy="Cancelling…" onConfirm=${cancel} onClose=${() => setCancelling(false)}>
          <p>Running scripts get TERM (KILL 2 s later); hosts not started yet are not started.</p>
        </${Confirm}>`
      : null}
  </section>`;
}
