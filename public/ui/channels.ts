// Notification channels, for admins: the list, adding and changing one (channel-form.ts), a test
// message now (and what the receiver answered), deleting one; below, the delivery log. Operators
// see only the delivery log: what was sent, not where or with which secrets.
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import type { Channel } from "../lib/outages.ts";
import { may, type Role } from "../lib/session.ts";
import { ChannelForm, EVENTS } from "./channel-form.ts";
import { isSet, KINDS } from "./channel-kinds.ts";
import { DeliveryLog } from "./deliveries.ts";
import { Confirm } from "./dialogs.ts";
import { Failure, useAction } from "./forms.ts";
import { html } from "./html.ts";
import { LabelChips } from "./labels.ts";
import { loadNotice, useLoad } from "./load.ts";
import { GroupLinks } from "./outage-list.ts";

interface TestResult {
  ok: boolean;
  status: string;
  detail: string;
}

/** A setting as it may be shown: secrets only as set or not. */
function settingText(value: unknown): string {
  if (isSet(value)) return "set";
  if (typeof value === "object" && value !== null && (value as { set?: unknown }).set === false) return "not set";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object" && value !== null) return Object.keys(value).map((k) => `${k}: ${settingText((value as Record<string, unknown>)[k])}`).join(", ");
  return String(value);
}

function ChannelItem({ c, onEdit, onDelete, onTested }: { c: Channel; onEdit: () => void; onDelete: () => void; onTested: () => void }) {
  const test = useAction();
  const [result, setResult] = useState<TestResult | null>(null);
  const send = () =>
    test.run(async () => {
      setResult(null);
      setResult(await api<TestResult>(`/api/channels/${c.id}/test`, { method: "POST" }));
      onTested();
    });
  const filter = c.filter as { labels?: string[]; groups?: string[] };
  const words = (e: string) => EVENTS.find(([k]) => k === e)?.[1] ?? e;
  return html`<li class="item channel" data-channel=${c.id}>
    <div class="item-main">
      <div><strong class="break channel-name">${c.name}</strong> <span class="tag">${KINDS[c.kind]?.label ?? c.kind}</span>
        <span class=${`tag state-${c.enabled ? "active" : "disabled"}`}>${c.enabled ? "enabled" : "disabled"}</span></div>
      <dl class="facts compact">
        <dt>Tells about</dt><dd>${c.events.map(words).join(", ")}</dd>
        <dt>Machines</dt><dd>${filter.labels?.length || filter.groups?.length
          ? html`${filter.labels?.length ? html`labelled <${LabelChips} labels=${filter.labels} />` : null}
              ${filter.groups?.length ? html` in <${GroupLinks} groups=${filter.groups} />` : null}`
          : "all"}</dd>
        ${Object.entries(c.settings).map(([k, v]) => html`<dt>${k}</dt><dd class="break">${settingText(v)}</dd>`)}
        <dt>At most</dt><dd>${c.max_per_minute} a minute</dd>
      </dl>
      <p class="test-result" role="status" aria-live="polite">
        ${result
          ? html`<span class=${result.ok ? "status-active" : "status-unreachable"}>${result.ok ? "✓ Test delivered" : "✗ Test failed"}: <span class="mono">${result.status}</span></span>
              <span class="muted break"> ${result.detail}</span>`
          : null}
      </p>
      <${Failure} action=${test} />
    </div>
    <div class="item-actions">
      <button type="button" aria-label=${`Send a test to ${c.name}`} aria-disabled=${test.busy} onClick=${send}>${test.busy ? "Sending…" : "Send test"}</button>
      <button type="button" aria-label=${`Edit ${c.name}`} onClick=${onEdit}>Edit</button>
      <button type="button" class="danger" aria-label=${`Delete ${c.name}`} onClick=${onDelete}>Delete</button>
    </div>
  </li>`;
}

function Channels({ now }: { now: number }) {
  const [list, reload] = useLoad<{ items: Channel[] }>("/api/channels");
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  const [deleting, setDeleting] = useState<Channel | null>(null);
  const [said, setSaid] = useState("");
  // Bumped when something new is in the delivery log (a test), so it shows without waiting.
  const [sent, setSent] = useState(0);
  const saved = (_c: Channel, text: string) => {
    setSaid(text);
    setEditing(null);
    reload();
  };
  const remove = async () => {
    await api(`/api/channels/${deleting!.id}`, { method: "DELETE" });
    setSaid(`Channel "${deleting!.name}" deleted.`);
    setDeleting(null);
    reload();
  };
  const channels = list.state === "ok" ? list.value.items : [];
  return html`<p class="status-line" role="status" aria-live="polite">${said}</p>
    ${list.state !== "ok"
      ? loadNotice(list, "channels")
      : channels.length === 0
        ? html`<p class="muted">No channels yet: nobody is told when machines go down.</p>`
        : html`<ul class="items">${channels.map((c) => editing !== "new" && editing?.id === c.id
            ? html`<li class="item" key=${c.id}><${ChannelForm} channel=${c} onSaved=${saved} onCancel=${() => setEditing(null)} /></li>`
            : html`<${ChannelItem} key=${c.id} c=${c} onEdit=${() => setEditing(c)} onDelete=${() => setDeleting(c)} onTested=${() => setSent((n) => n + 1)} />`)}</ul>`}
    <h3 id="new-channel-h">Add a channel</h3>
    ${editing === "new"
      ? html`<${ChannelForm} onSaved=${saved} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="primary" onClick=${() => setEditing("new")}>Add a channel</button>`}
    <h3>Delivery log</h3>
    <${DeliveryLog} channels=${channels} now=${now} version=${sent} />
    ${deleting
      ? html`<${Confirm} id="delete-channel" title=${`Delete the channel "${deleting.name}"?`} confirm="Delete" busy="Deleting…" onConfirm=${remove} onClose=${() => setDeleting(null)}>
          <p>Nothing more is sent there, including messages still waiting for a retry. Its deliveries stay in the log.</p>
        </${Confirm}>`
      : null}`;
}

export function ChannelsPage({ role, now }: { role: Role | null; now: number }) {
  const admin = may.manageChannels(role);
  return html`<section class="page-section" aria-labelledby="channels-h">
    <h2 id="channels-h" tabindex="-1">${admin ? "Notification channels" : "Delivery log"}</h2>
    ${admin
      ? html`<${Channels} now=${now} />`
      : html`<p class="muted">What vxman sent, and how it went. Admins set up where messages go.</p>
          <${DeliveryLog} now=${now} version=${0} />`}
  </section>`;
}
