// The delivery log (operators and admins): every message vxman queued for a channel, whether it
// went out, how many tries it took, what the receiver last answered and when the next try is.
// Read-only; it follows along every 10 s while open.
import { useState } from "preact/hooks";
import { exactTime, localDateTime } from "../lib/format.ts";
import type { Channel, Delivery } from "../lib/outages.ts";
import { TimeAgo } from "./bits.ts";
import { Field, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

const RELOAD_MS = 10_000;
const STATUSES = ["pending", "sending", "sent", "failed"] as const;

function Answer({ d }: { d: Delivery }) {
  if (!d.last_status && !d.last_detail) return html`<span class="muted">—</span>`;
  return html`<span class="cell break"><span class="mono">${d.last_status ?? ""}</span>${d.last_detail ? html` <span class="muted">${d.last_detail}</span>` : null}</span>`;
}

export function DeliveryLog({ channels, now, version }: { channels?: Channel[]; now: number; version: number }) {
  const [channelId, setChannelId] = useState("");
  const [status, setStatus] = useState("");
  const query = new URLSearchParams({ limit: "100" });
  if (channelId) query.set("channel_id", channelId);
  if (status) query.set("status", status);
  const [log, reload] = useLoad<{ items: Delivery[] }>(`/api/notifications?${query}`, `${version}:${Math.floor(now / RELOAD_MS)}`);
  return html`<div class="delivery-log">
    <div class="form inline-form" role="search" aria-label="Filter the delivery log">
      ${channels
        ? html`<${Field} id="log-channel" label="Channel">
            <select value=${channelId} onChange=${(e: Event) => setChannelId(valueOf(e))}>
              <option value="">All channels</option>
              ${channels.map((c) => html`<option value=${String(c.id)}>${c.name}</option>`)}
            </select>
          </${Field}>`
        : null}
      <${Field} id="log-status" label="Status">
        <select value=${status} onChange=${(e: Event) => setStatus(valueOf(e))}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </${Field}>
      <div class="field submit"><button type="button" onClick=${reload}>Refresh</button></div>
    </div>
    ${log.state !== "ok"
      ? loadNotice(log, "the delivery log")
      : log.value.items.length === 0
        ? html`<p class="muted">Nothing sent${channelId || status ? " that matches" : " yet"}.</p>`
        : html`<table class="list-table deliveries">
            <thead><tr><th scope="col">Queued</th><th scope="col">Channel</th><th scope="col">Message</th><th scope="col">Status</th>
              <th scope="col" class="num">Tries</th><th scope="col">Last answer</th><th scope="col">Next try</th></tr></thead>
            <tbody>${log.value.items.map((d) => html`<tr key=${d.id} data-delivery=${d.id} data-status=${d.status}>
              <td data-label="Queued"><time datetime=${d.created_at} title=${exactTime(d.created_at)}>${localDateTime(d.created_at)}</time></td>
              <td data-label="Channel"><span class="cell break">${d.channel_name}</span></td>
              <td data-label="Message"><span class="cell break"><span class="tag">${d.kind.replace("_", " ")}</span> ${d.title}${d.group && d.group !== "test" ? html` <span class="muted">(${d.group})</span>` : null}</span></td>
              <td data-label="Status"><span class=${`tag state-${d.status}`}>${d.status}</span></td>
              <td data-label="Tries" class="num">${d.attempts}</td>
              <td data-label="Last answer"><${Answer} d=${d} /></td>
              <td data-label="Next try">${d.next_attempt_at ? html`<${TimeAgo} iso=${d.next_attempt_at} now=${now} />` : html`<span class="muted">—</span>`}</td>
            </tr>`)}</tbody>
          </table>`}
  </div>`;
}
