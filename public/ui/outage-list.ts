// Outages as a table (a card per outage on phones): when a machine went down, when it came back
// (or that it is still down, or was deleted while down) and for how long. A machine's page lists
// its own; the outages page lists everyone's, with the machine and its groups.
import { exactTime, formatDuration, localDateTime } from "../lib/format.ts";
import type { Outage } from "../lib/outages.ts";
import { listHref } from "../lib/route.ts";
import { machineHref } from "./bits.ts";
import { html } from "./html.ts";

function Ended({ o }: { o: Outage }) {
  if (!o.ended_at) return html`<strong class="status-unreachable">still down</strong>`;
  const when = html`<time datetime=${o.ended_at} title=${exactTime(o.ended_at)}>${localDateTime(o.ended_at)}</time>`;
  return o.ended_by === "deleted" ? html`<span class="cell">${when} <span class="tag">deleted</span></span>` : when;
}

/** How long: for an open outage, so far (the server's figure is as of the answer). */
const lengthOf = (o: Outage, now: number) => formatDuration(o.ended_at ? o.duration_seconds : (now - Date.parse(o.started_at)) / 1000);

export function GroupLinks({ groups }: { groups: string[] }) {
  if (!groups.length) return html`<span class="muted">—</span>`;
  return html`<span class="cell">${groups.map((g, i) => html`${i ? ", " : ""}<a href=${listHref({ group: g })}>${g}</a>`)}</span>`;
}

export function OutageTable({ outages, now, showMachine }: { outages: Outage[]; now: number; showMachine: boolean }) {
  return html`<table class="list-table outages-table">
    <thead><tr>
      ${showMachine ? html`<th scope="col">Machine</th><th scope="col">Groups</th>` : null}
      <th scope="col">Down at</th><th scope="col">Back at</th><th scope="col">For</th>
    </tr></thead>
    <tbody>${outages.map((o) => html`<tr key=${o.id} data-outage=${o.id} class=${o.ended_at ? "" : "open"}>
      ${showMachine
        ? html`<td data-label="Machine"><span class="cell break"><a href=${machineHref(o.machine_id)}>${o.hostname}</a> <span class="mono muted">${o.ip_address}</span></span></td>
            <td data-label="Groups"><${GroupLinks} groups=${o.groups} /></td>`
        : null}
      <td data-label="Down at"><time datetime=${o.started_at} title=${exactTime(o.started_at)}>${localDateTime(o.started_at)}</time></td>
      <td data-label="Back at"><${Ended} o=${o} /></td>
      <td data-label="For" class="num">${lengthOf(o, now)}</td>
    </tr>`)}</tbody>
  </table>`;
}
