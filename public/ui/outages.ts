// The outages page: what is down now, grouped the way notifications group it (VNI, else subnet),
// with how many and since when; and the history below it, newest first, a page at a time (each
// older page asked for with `before`). Both follow the live list: asked for again a second after
// statuses change (at most every 3 s while they keep changing), and every 30 s.
import { useState } from "preact/hooks";
import { exactTime, formatDuration, localDateTime } from "../lib/format.ts";
import type { Outage } from "../lib/outages.ts";
import { listHref } from "../lib/route.ts";
import type { MachineStore } from "../lib/store.ts";
import { machineHref } from "./bits.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad, useSettled } from "./load.ts";
import { OutageTable } from "./outage-list.ts";

const HISTORY_PAGE = 50;
const RELOAD_MS = 30_000;
/** Machines named under each group; the rest are a link to the list. */
const NAMED_PER_GROUP = 20;
const NO_GROUP = "no group";

interface Group {
  name: string;
  outages: Outage[];
  since: string;
}

/** Open outages by the first of each machine's groups (its VNI when it has one), biggest first. */
export function groupOutages(open: Outage[]): Group[] {
  const groups = new Map<string, Outage[]>();
  for (const o of open) {
    const name = o.groups[0] ?? NO_GROUP;
    groups.set(name, [...(groups.get(name) ?? []), o]);
  }
  return [...groups].map(([name, outages]) => ({
    name,
    outages: outages.sort((a, b) => a.started_at.localeCompare(b.started_at)),
    since: outages.reduce((first, o) => (o.started_at < first ? o.started_at : first), outages[0]!.started_at),
  })).sort((a, b) => b.outages.length - a.outages.length || a.name.localeCompare(b.name));
}

function OpenGroup({ group, now }: { group: Group; now: number }) {
  const n = group.outages.length;
  const rest = n - NAMED_PER_GROUP;
  return html`<section class="outage-group" data-group=${group.name} aria-label=${`${group.name}: ${n} down`}>
    <h4 class="outage-group-head">
      <span class="break">${group.name}</span>
      <span class="tag state-down">${n} down</span>
      <span class="muted">since <time datetime=${group.since} title=${exactTime(group.since)}>${localDateTime(group.since)}</time>${" "}
        (${formatDuration((now - Date.parse(group.since)) / 1000)})</span>
    </h4>
    <ul class="outage-machines">
      ${group.outages.slice(0, NAMED_PER_GROUP).map((o) => html`<li key=${o.id} data-outage=${o.id}>
        <a class="break" href=${machineHref(o.machine_id)}>${o.hostname}</a> <span class="mono muted">${o.ip_address}</span>
        <span class="muted"> · down ${formatDuration((now - Date.parse(o.started_at)) / 1000)}</span>
      </li>`)}
    </ul>
    ${group.name !== NO_GROUP
      ? html`<p><a href=${listHref({ group: group.name, status: "unreachable" })}>${rest > 0 ? `…and ${rest} more: ` : ""}show them in the machine list</a></p>`
      : null}
  </section>`;
}

function OpenOutages({ version, now }: { version: string; now: number }) {
  const [open] = useLoad<{ items: Outage[] }>("/api/outages?open=true&limit=1000", version);
  if (open.state !== "ok") return loadNotice(open, "open outages");
  const groups = groupOutages(open.value.items);
  if (!groups.length) return html`<p class="banner ok" role="status">Nothing is down.</p>`;
  const total = open.value.items.length;
  return html`<p class="muted" aria-live="polite">${total} ${total === 1 ? "machine" : "machines"} down in ${groups.length} ${groups.length === 1 ? "group" : "groups"}${total === 1000 ? " (the first 1,000)" : ""}.</p>
    ${groups.map((g) => html`<${OpenGroup} key=${g.name} group=${g} now=${now} />`)}`;
}

function History({ version, now }: { version: string; now: number }) {
  // The ids each older page starts before; the first page (none) follows the live list.
  const [cursors, setCursors] = useState<number[]>([]);
  const before = cursors.at(-1);
  const [page] = useLoad<{ items: Outage[] }>(`/api/outages?limit=${HISTORY_PAGE}${before ? `&before=${before}` : ""}`, before ? 0 : version);
  if (page.state !== "ok") return loadNotice(page, "the outage history");
  const items = page.value.items;
  return html`${items.length ? html`<${OutageTable} outages=${items} now=${now} showMachine=${true} />` : html`<p class="muted">No outages recorded${before ? " before these" : ""}.</p>`}
    <div class="pager">
      ${cursors.length ? html`<button type="button" onClick=${() => setCursors(cursors.slice(0, -1))}>Newer outages</button>` : null}
      ${items.length === HISTORY_PAGE ? html`<button type="button" onClick=${() => setCursors([...cursors, items.at(-1)!.id])}>Older outages</button>` : null}
    </div>`;
}

export function OutagesPage({ store, now }: { store: MachineStore; now: number }) {
  const changes = useSettled(`${store.statusVersion}:${store.membersVersion}`, 1000, 3000);
  const version = `${changes}:${Math.floor(now / RELOAD_MS)}`;
  return html`<section class="page-section" aria-labelledby="outages-h">
    <h2 id="outages-h" tabindex="-1">Outages</h2>
    <h3>Down now</h3>
    <${OpenOutages} version=${version} now=${now} />
    <h3>History</h3>
    <${History} version=${version} now=${now} />
  </section>`;
}
