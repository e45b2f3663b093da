// Silences: which machines are muted now, which will be (a later start or a schedule's next
// window), who made each and why; operators and admins create them and end them early. Messages
// held by a silence are sent when it ends if the trouble is still there, never dropped.
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { exactTime, formatDuration, localDateTime } from "../lib/format.ts";
import type { Silence } from "../lib/outages.ts";
import { may, type Role } from "../lib/session.ts";
import type { MachineStore } from "../lib/store.ts";
import { machineHref, TimeAgo } from "./bits.ts";
import { Confirm } from "./dialogs.ts";
import { html } from "./html.ts";
import { LabelChips } from "./labels.ts";
import { loadNotice, useLoad } from "./load.ts";
import { GroupLinks } from "./outage-list.ts";
import { SilenceForm } from "./silence-form.ts";

/** Silences change state by the clock (a window opens, one ends): asked for again this often. */
const RELOAD_MS = 30_000;

type State = "active" | "scheduled" | "ended";

const stateOf = (s: Silence): State => (s.expired_at || (!s.active && !s.next_starts_at) ? "ended" : s.active ? "active" : "scheduled");

const At = ({ iso }: { iso: string }) => html`<time datetime=${iso} title=${exactTime(iso)}>${localDateTime(iso)}</time>`;

function Selects({ s, store }: { s: Silence; store: MachineStore }) {
  return html`<dl class="facts compact">
    ${s.machine_ids.length
      ? html`<dt>Machines</dt><dd>${s.machine_ids.map((id, i) => {
          const m = store.machines.get(id);
          return html`${i ? ", " : ""}${m ? html`<a class="break" href=${machineHref(id)}>${m.hostname}</a>` : html`<span class="muted">machine ${id} (gone)</span>`}`;
        })}</dd>`
      : null}
    ${s.labels.length ? html`<dt>Labels (all)</dt><dd><${LabelChips} labels=${s.labels} /></dd>` : null}
    ${s.groups.length ? html`<dt>Groups (any)</dt><dd><${GroupLinks} groups=${s.groups} /></dd>` : null}
  </dl>`;
}

function When({ s, now }: { s: Silence; now: number }) {
  const state = stateOf(s);
  const schedule = s.schedule
    ? html`<div>On a schedule: <code>${s.schedule.cron}</code> (${s.schedule.timezone}), each window ${formatDuration(s.schedule.duration_seconds)}</div>`
    : null;
  if (state === "ended") return html`<div>Ended <${At} iso=${s.expired_at ?? s.ends_at ?? s.created_at} /></div>${schedule}`;
  return html`
    ${state === "active" && s.active_until ? html`<div>Active until <${At} iso=${s.active_until} /> (<${TimeAgo} iso=${s.active_until} now=${now} />)</div>` : null}
    ${state === "active" && !s.active_until ? html`<div>Active, with no end</div>` : null}
    ${state === "scheduled" && s.next_starts_at ? html`<div>${s.schedule ? "Next window" : "Starts"} <${At} iso=${s.next_starts_at} /> (<${TimeAgo} iso=${s.next_starts_at} now=${now} />)${!s.schedule && s.ends_at ? html`, until <${At} iso=${s.ends_at} />` : null}</div>` : null}
    ${state === "active" && s.next_starts_at ? html`<div>Then next window <${At} iso=${s.next_starts_at} /></div>` : null}
    ${schedule}`;
}

function SilenceItem({ s, store, now, canEnd, onEnd }: { s: Silence; store: MachineStore; now: number; canEnd: boolean; onEnd: (s: Silence) => void }) {
  const state = stateOf(s);
  return html`<li class="item silence" data-silence=${s.id} data-state=${state}>
    <div class="item-main">
      <div class="silence-head"><strong>Silence ${s.id}</strong> <span class=${`tag state-${state}`}>${state}</span></div>
      <${Selects} s=${s} store=${store} />
      <${When} s=${s} now=${now} />
      <div class="muted">by <span class="actor-name break">${s.created_by}</span> · <${TimeAgo} iso=${s.created_at} now=${now} /></div>
      ${s.comment ? html`<p class="silence-comment break">${s.comment}</p>` : null}
    </div>
    ${canEnd && state !== "ended" ? html`<button type="button" aria-label=${`End silence ${s.id} now`} onClick=${() => onEnd(s)}>End now</button>` : null}
  </li>`;
}

const order = (s: Silence) => ({ active: 0, scheduled: 1, ended: 2 })[stateOf(s)];

export function SilencesPage({ store, now, role, machine }: { store: MachineStore; now: number; role: Role | null; machine?: number }) {
  const [showEnded, setShowEnded] = useState(false);
  const [ending, setEnding] = useState<Silence | null>(null);
  const [said, setSaid] = useState("");
  const [list, reload] = useLoad<{ items: Silence[] }>(`/api/silences${showEnded ? "?all=true" : ""}`, Math.floor(now / RELOAD_MS));
  const canEdit = may.silence(role);
  const end = async () => {
    await api(`/api/silences/${ending!.id}`, { method: "DELETE" });
    setSaid(`Silence ${ending!.id} ended.`);
    setEnding(null);
    reload();
  };
  const items = list.state === "ok" ? [...list.value.items].sort((a, b) => order(a) - order(b) || b.id - a.id) : [];
  return html`<section class="page-section" aria-labelledby="silences-h">
    <h2 id="silences-h" tabindex="-1">Silences</h2>
    <p class="muted">While a silence covers a machine, its messages wait; if the trouble is still there when the silence ends, they are sent then.</p>
    <p class="status-line" role="status" aria-live="polite">${said}</p>
    <label class="check"><input type="checkbox" checked=${showEnded} onChange=${(e: Event) => setShowEnded((e.target as HTMLInputElement).checked)} /> Show ended silences</label>
    ${list.state !== "ok"
      ? loadNotice(list, "silences")
      : items.length
        ? html`<ul class="items">${items.map((s) => html`<${SilenceItem} key=${s.id} s=${s} store=${store} now=${now} canEnd=${canEdit} onEnd=${setEnding} />`)}</ul>`
        : html`<p class="muted">No silences${showEnded ? "" : " active or to come"}.</p>`}
    ${canEdit
      ? html`<h3 id="new-silence-h">New silence</h3>
          <${SilenceForm} key=${machine ?? "any"} store=${store} machine=${machine} onCreated=${(s: Silence) => {
            setSaid(`Silence ${s.id} created${s.active ? ": active now" : ""}.`);
            reload();
          }} />`
      : null}
    ${ending
      ? html`<${Confirm} id="end-silence" title=${`End silence ${ending.id} now?`} confirm="End now" busy="Ending…" onConfirm=${end} onClose=${() => setEnding(null)}>
          <p>Messages it holds back are sent if what they are about is still true.</p>
        </${Confirm}>`
      : null}
  </section>`;
}
