// One machine: its fields, labels, notes, uptime, extra_data, RTT chart, outages and events, and
// what the viewer's role may do to it. The machine itself comes from the live store, so the page
// follows status changes and its strip of checks (and says so when the machine is deleted).
import { useEffect } from "preact/hooks";
import type { Event as LogEvent } from "../../src/api/events/model.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { formatRtt, valueText } from "../lib/format.ts";
import type { Outage, Uptime } from "../lib/outages.ts";
import { may, type Role } from "../lib/session.ts";
import { StatusLabel, TimeAgo } from "./bits.ts";
import { RttChart, type Sample } from "./chart.ts";
import { EventList } from "./events.ts";
import { html } from "./html.ts";
import { MachineLabels } from "./labels.ts";
import { loadNotice, useLoad, useSettled } from "./load.ts";
import { CheckNow, Notes } from "./machine-actions.ts";
import { MachineSshSection } from "./machine-ssh.ts";
import { GroupLinks, OutageTable } from "./outage-list.ts";
import { CheckStrip, stripText } from "./strip.ts";
import { UptimeFigures } from "./uptime.ts";

function Samples({ id }: { id: number }) {
  // 404 also while the samples route does not exist yet: nothing to draw either way.
  const [samples] = useLoad<{ items: Sample[] }>(`/api/machines/${id}/samples?limit=500`, 0, { items: [] });
  if (samples.state !== "ok") return loadNotice(samples, "samples");
  if (!samples.value.items.length) return html`<p class="muted">No samples yet.</p>`;
  return html`<${RttChart} samples=${samples.value.items} />`;
}

// Both lists are asked for again once a change has settled: the live status comes before the
// server has written the event and the outage that follow from it.
function Events({ id, version }: { id: number; version: string }) {
  const [events] = useLoad<{ items: LogEvent[] }>(`/api/events?machine_id=${id}&limit=50`, useSettled(version, 1000, 3000));
  if (events.state !== "ok") return loadNotice(events, "events");
  if (!events.value.items.length) return html`<p class="muted">No events.</p>`;
  return html`<${EventList} events=${events.value.items} />`;
}

function Outages({ id, version, now }: { id: number; version: string; now: number }) {
  const [outages] = useLoad<{ items: Outage[] }>(`/api/outages?machine_id=${id}&limit=50`, useSettled(version, 1000, 3000));
  if (outages.state !== "ok") return loadNotice(outages, "outages");
  if (!outages.value.items.length) return html`<p class="muted">No outages recorded.</p>`;
  return html`<${OutageTable} outages=${outages.value.items} now=${now} showMachine=${false} />`;
}

export function Detail({ id, machine, uptime, now, role, onDelete, onChanged }: {
  id: number; machine: Machine | undefined; uptime: Uptime | undefined; now: number; role: Role | null; onDelete: (m: Machine) => void; onChanged: (m: Machine) => void }) {
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
    ["Recent checks", html`<span class="strip-line"><${CheckStrip} checks=${m.recent_checks} large=${true} /> <span class="muted">${stripText(m.recent_checks)}</span></span>`],
    ["Groups", html`<${GroupLinks} groups=${m.groups} />`],
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
      ${may.deleteMachines(role) && m.status === "unreachable" ? html`<button type="button" class="danger" onClick=${() => onDelete(m)}>Delete machine</button>` : null}
    </div>
    ${may.check(role) ? html`<${CheckNow} machine=${m} />` : null}
    <dl class="facts">${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
    ${may.silence(role) ? html`<p><a href=${`#/silences?machine=${m.id}`}>Silence this machine…</a></p>` : null}
    <h3>Labels</h3>
    <${MachineLabels} machine=${m} canEdit=${may.editLabels(role)} onSaved=${onChanged} />
    <h3>Notes</h3>
    <${Notes} machine=${m} canEdit=${may.editNotes(role)} onSaved=${onChanged} />
    <h3>SSH (for jobs)</h3>
    <${MachineSshSection} id=${m.id} role=${role} now=${now} />
    <h3>Uptime</h3>
    <${UptimeFigures} uptime=${uptime} />
    <h3>System information</h3>
    ${extra.length
      ? html`<dl class="facts extra">${extra.map(([k, v]) => html`<dt class="break">${k}</dt><dd class="break">${valueText(v)}</dd>`)}</dl>`
      : html`<p class="muted">The machine sent none.</p>`}
    <h3>Round-trip time</h3>
    <${Samples} id=${m.id} />
    <h3>Outages</h3>
    <${Outages} id=${m.id} version=${m.status} now=${now} />
    <h3>Events</h3>
    <${Events} id=${m.id} version=${`${m.updated_at}|${m.status}`} />
  </section>`;
}
