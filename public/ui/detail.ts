// One machine: its fields, extra_data, RTT chart and events. The machine itself comes from the
// live store, so the page follows status changes (and says so when the machine is deleted).
import { useEffect, useState } from "preact/hooks";
import type { Event as MachineEvent } from "../../src/api/events/model.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { api, ApiFailure } from "../lib/api.ts";
import { formatRtt, localDateTime, valueText } from "../lib/format.ts";
import { StatusLabel, TimeAgo } from "./bits.ts";
import { RttChart, type Sample } from "./chart.ts";
import { html } from "./html.ts";

type Load<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "error"; message: string };

function useLoad<T>(path: string, deps: unknown[], onMissing?: T): Load<T> {
  const [result, setResult] = useState<Load<T>>({ state: "loading" });
  useEffect(() => {
    let live = true;
    api<T>(path).then(
      (value) => live && setResult({ state: "ok", value }),
      (err) => {
        if (!live) return;
        if (onMissing !== undefined && err instanceof ApiFailure && err.status === 404) setResult({ state: "ok", value: onMissing });
        else setResult({ state: "error", message: (err as Error).message });
      },
    );
    return () => {
      live = false;
    };
  }, deps);
  return result;
}

function Samples({ id }: { id: number }) {
  // 404 also while the samples route does not exist yet: nothing to draw either way.
  const samples = useLoad<{ items: Sample[] }>(`/api/machines/${id}/samples?limit=500`, [id], { items: [] });
  if (samples.state === "loading") return html`<p class="muted">Loading samples…</p>`;
  if (samples.state === "error") return html`<p class="error" role="alert">${samples.message}</p>`;
  if (!samples.value.items.length) return html`<p class="muted">No samples yet.</p>`;
  return html`<${RttChart} samples=${samples.value.items} />`;
}

function Events({ id, version }: { id: number; version: string }) {
  const events = useLoad<{ items: MachineEvent[] }>(`/api/events?machine_id=${id}&limit=50`, [id, version]);
  if (events.state === "loading") return html`<p class="muted">Loading events…</p>`;
  if (events.state === "error") return html`<p class="error" role="alert">${events.message}</p>`;
  if (!events.value.items.length) return html`<p class="muted">No events.</p>`;
  return html`<ol class="events">
    ${events.value.items.map(
      (e) => html`<li key=${e.id}>
        <time datetime=${e.at} title=${e.at}>${localDateTime(e.at)}</time>
        <strong class=${`kind kind-${e.kind}`}>${e.kind}</strong>
        ${Object.keys(e.details).length ? html`<pre class="details">${JSON.stringify(e.details, null, 2)}</pre>` : null}
      </li>`,
    )}
  </ol>`;
}

export function Detail({ id, machine, now, canDelete, onDelete }: {
  id: number; machine: Machine | undefined; now: number; canDelete: boolean; onDelete: (m: Machine) => void }) {
  useEffect(() => {
    scrollTo(0, 0);
    document.getElementById("detail-h")?.focus();
  }, [id]);
  const back = html`<p><a href="#/" class="back">← All machines</a></p>`;
  if (!machine) {
    return html`<section class="detail" aria-labelledby="detail-h">${back}
      <h2 id="detail-h" tabindex="-1">Machine ${id}</h2>
      <p>This machine is no longer registered (or never was). A deleted machine's record stays in the event log:</p>
      <${Events} id=${id} version="gone" />
    </section>`;
  }
  const m = machine;
  const fields: [string, unknown][] = [
    ["Status", html`<${StatusLabel} status=${m.status} />`],
    ["IP address", html`<span class="mono">${m.ip_address}</span>`],
    ["MAC", html`<span class="mono">${m.mac_address}</span>`],
    ["Last RTT", formatRtt(m.last_rtt_ms)],
    ["Last seen", html`<${TimeAgo} iso=${m.last_seen} now=${now} />`],
    ["Last checked", html`<${TimeAgo} iso=${m.last_checked_at} now=${now} />`],
    ["Next check", html`<${TimeAgo} iso=${m.next_check_at} now=${now} />`],
    ["Failed checks in a row", String(m.consecutive_failures)],
    ["Registered", html`<${TimeAgo} iso=${m.created_at} now=${now} />`],
    ["Updated", html`<${TimeAgo} iso=${m.updated_at} now=${now} />`],
    ["Id", String(m.id)],
  ];
  const extra = Object.entries(m.extra_data);
  return html`<section class="detail" aria-labelledby="detail-h">${back}
    <div class="detail-head">
      <h2 id="detail-h" tabindex="-1" class="break">${m.hostname}</h2>
      ${canDelete && m.status === "unreachable" ? html`<button type="button" class="danger" onClick=${() => onDelete(m)}>Delete machine</button>` : null}
    </div>
    <dl class="facts">${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
    <h3>System information</h3>
    ${extra.length
      ? html`<dl class="facts extra">${extra.map(([k, v]) => html`<dt class="break">${k}</dt><dd class="break">${valueText(v)}</dd>`)}</dl>`
      : html`<p class="muted">The machine sent none.</p>`}
    <h3>Round-trip time</h3>
    <${Samples} id=${m.id} />
    <h3>Events</h3>
    <${Events} id=${m.id} version=${`${m.updated_at}|${m.status}`} />
  </section>`;
}
