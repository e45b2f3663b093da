// The machine list: summary counts, search, filters (status, label, group), sort, and the
// windowed table (desktop, ≥ 768 px) or cards (phone).
import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import type { MachineStore } from "../lib/store.ts";
import { filterMachines, labelsAndGroups, SORT_LABELS, sortMachines, type SortKey, type StatusFilter, type ViewOptions } from "../lib/view.ts";
import { html } from "./html.ts";
import { Card, TableRow, unlessChanged } from "./rows.ts";
import type { UptimeBook } from "./uptime.ts";
import { assignSlots, useMinWidth, useWindow } from "./window.ts";

export const COLUMN_CLASS: Record<SortKey, string> = {
  hostname: "c-host",
  ip_address: "c-ip",
  mac_address: "c-mac",
  status: "c-status",
  last_rtt_ms: "c-rtt",
  last_seen: "c-seen",
};

/** Row heights in px; style.css sizes rows from the --row-h this sets. */
const TABLE_ROW_PX = 44;
const CARD_PX = 228;
/** Labels offered as you type in the label filter: enough to choose from, few enough to be cheap. */
const LABEL_CHOICES = 200;

interface ListProps {
  store: MachineStore;
  version: number;
  view: ViewOptions;
  setView: (v: ViewOptions) => void;
  now: number;
  uptime: UptimeBook;
  canDelete: boolean;
  onDelete: (m: Machine) => void;
}

function Summary({ store, view, setView }: Pick<ListProps, "store" | "view" | "setView">) {
  const c = useMemo(() => store.counts(), [store, store.membersVersion, store.statusVersion]);
  const pick = (status: StatusFilter) => () => setView({ ...view, status: view.status === status ? "all" : status });
  return html`<div class="summary" aria-label="Summary">
    <button type="button" class="count" aria-pressed=${view.status === "all"} onClick=${() => setView({ ...view, status: "all" })}>
      <span class="count-n" data-count="total">${c.total}</span> total</button>
    <button type="button" class="count count-active" aria-pressed=${view.status === "active"} onClick=${pick("active")}>
      <span class="count-n" data-count="active">${c.active}</span> <span aria-hidden="true">●</span> active</button>
    <button type="button" class="count count-unreachable" aria-pressed=${view.status === "unreachable"} onClick=${pick("unreachable")}>
      <span class="count-n" data-count="unreachable">${c.unreachable}</span> <span aria-hidden="true">○</span> unreachable</button>
  </div>`;
}

// Redrawn only when the view, the layout or the fleet's members change, not at every live update
// (its group and label choices are hundreds of options at 100,000 machines).
const Toolbar = unlessChanged(function Toolbar({ store, members, view, setView, wide }: Pick<ListProps, "store" | "view" | "setView"> & { members: number; wide: boolean }) {
  const choices = useMemo(() => labelsAndGroups(store.machines), [store, members]);
  // A group chosen by a link (the outages page) is offered even while no machine is in it.
  const groups = view.group && !choices.groups.some(([g]) => g === view.group) ? [...choices.groups, [view.group, 0] as [string, number]] : choices.groups;
  return html`<div class="toolbar">
    <label class="field grow">
      <span class="label">Search</span>
      <input type="search" value=${view.query} placeholder="hostname, IP, MAC or label" autocomplete="off" spellcheck=${false}
        onInput=${(e: Event) => setView({ ...view, query: (e.target as HTMLInputElement).value })} />
    </label>
    <label class="field">
      <span class="label">Status</span>
      <select value=${view.status} onChange=${(e: Event) => setView({ ...view, status: (e.target as HTMLSelectElement).value as StatusFilter })}>
        <option value="all">All</option>
        <option value="active">● Active</option>
        <option value="unreachable">○ Unreachable</option>
      </select>
    </label>
    <label class="field">
      <span class="label">Label</span>
      <input type="search" list="label-choices" value=${view.label ?? ""} placeholder="key=value or key" autocomplete="off" autocapitalize="none" spellcheck=${false}
        onInput=${(e: Event) => setView({ ...view, label: (e.target as HTMLInputElement).value })} />
      <datalist id="label-choices">${choices.labels.slice(0, LABEL_CHOICES).map(([l]) => html`<option value=${l} />`)}</datalist>
    </label>
    <label class="field">
      <span class="label">Group</span>
      <select value=${view.group ?? ""} onChange=${(e: Event) => setView({ ...view, group: (e.target as HTMLSelectElement).value })}>
        <option value="">All groups</option>
        ${groups.map(([g, n]) => html`<option value=${g}>${g} (${n})</option>`)}
      </select>
    </label>
    ${wide
      ? null
      : html`<label class="field">
          <span class="label">Sort</span>
          <select value=${`${view.sort}:${view.descending ? "desc" : "asc"}`}
            onChange=${(e: Event) => {
              const [sort, dir] = (e.target as HTMLSelectElement).value.split(":");
              setView({ ...view, sort: sort as SortKey, descending: dir === "desc" });
            }}>
            ${(Object.keys(SORT_LABELS) as SortKey[]).flatMap((k) => [
              html`<option value=${`${k}:asc`}>${SORT_LABELS[k]} ↑</option>`,
              html`<option value=${`${k}:desc`}>${SORT_LABELS[k]} ↓</option>`,
            ])}
          </select>
        </label>`}
  </div>`;
});

function HeaderCell({ k, view, setView }: { k: SortKey } & Pick<ListProps, "view" | "setView">) {
  const active = view.sort === k;
  const sort = active ? (view.descending ? "descending" : "ascending") : "none";
  const toggle = () => setView({ ...view, sort: k, descending: active ? !view.descending : false });
  return html`<div role="columnheader" class=${COLUMN_CLASS[k]} aria-sort=${sort}>
    <button type="button" class="sort" onClick=${toggle}>${SORT_LABELS[k]}<span class="arrow" aria-hidden="true">${active ? (view.descending ? " ▼" : " ▲") : ""}</span></button>
  </div>`;
}

/** The machine whose row in `list` has the keyboard focus, if one has. */
function focusedMachine(list: HTMLElement | null): number | undefined {
  const el = document.activeElement;
  if (!list || !el || !list.contains(el)) return undefined;
  const id = el.closest("[data-id]")?.getAttribute("data-id");
  return id ? Number(id) : undefined;
}

function Rows({ items, wide, now, store, uptime, canDelete, onDelete, total }: {
  items: number[]; wide: boolean; total: number } & Pick<ListProps, "now" | "store" | "uptime" | "canDelete" | "onDelete">) {
  const ref = useRef<HTMLDivElement>(null);
  const rowPx = wide ? TABLE_ROW_PX : CARD_PX;
  const { start, end } = useWindow(ref, items.length, rowPx);
  const shown: number[] = [];
  for (let i = start; i < end && i < items.length; i++) shown.push(items[i]!);
  // Rows are keyed by their element (slot), not by machine: see assignSlots.
  const slotsRef = useRef(new Map<number, number>());
  const slots = (slotsRef.current = assignSlots(slotsRef.current, shown, focusedMachine(ref.current)));
  const rows = [];
  for (let k = 0; k < shown.length; k++) {
    const m = store.machines.get(shown[k]!);
    if (!m) continue;
    const i = start + k;
    const props = { key: slots.get(m.id), machine: m, uptime: uptime.get(m.id), index: i, top: i * rowPx, now, flash: store.flashClass(m.id), canDelete, onDelete };
    rows.push(wide ? html`<${TableRow} ...${props} />` : html`<${Card} ...${props} setSize=${total} />`);
  }
  // A style *object*: Preact applies it through the CSSOM (style.setProperty), which the CSP
  // allows; a style attribute in markup it would block.
  const size = { height: `${items.length * rowPx}px`, "--row-h": `${rowPx}px` };
  return wide
    ? html`<div role="rowgroup" class="rows" ref=${ref} style=${size}>${rows}</div>`
    : html`<ul class="rows cards" ref=${ref} style=${size} aria-label="Machines">${rows}</ul>`;
}

export function MachineList(props: ListProps) {
  const { store, version, view, setView } = props;
  const wide = useMinWidth(768);
  // Sorted again only when a change can move a machine in this order (and then starting from
  // the previous order, so nearly linear); filtered after. Rows read each machine from the store,
  // so a status update that moves nothing just redraws the visible rows.
  const orderVersion =
    view.sort === "status" ? store.statusVersion : view.sort === "last_seen" || view.sort === "last_rtt_ms" ? store.timingVersion : 0;
  const sortedRef = useRef<{ key: string; ids: number[] }>({ key: "", ids: [] });
  const sorted = useMemo(() => {
    const key = `${view.sort}:${view.descending}`;
    const previous = sortedRef.current.key === key ? sortedRef.current.ids : [];
    // The snapshot's own order, while it holds, is this sort's (src/live/dashboard-order.ts).
    const inOrder = store.order?.sort === view.sort && store.order.descending === view.descending;
    sortedRef.current = { key, ids: inOrder ? [...store.machines.keys()] : sortMachines(store.machines, view.sort, view.descending, previous) };
    return sortedRef.current.ids;
  }, [store, store.membersVersion, orderVersion, view.sort, view.descending]);
  const filterVersion = view.status === "all" ? 0 : store.statusVersion;
  const items = useMemo(
    () => filterMachines(store.machines, sorted, view),
    [store, sorted, filterVersion, view.query, view.status, view.label, view.group],
  );
  const firstRender = useRef(false);
  useLayoutEffect(() => {
    if (firstRender.current || !store.loaded) return;
    firstRender.current = true;
    // For the benches: when the first full list was on screen. The frame that draws this commit
    // is drawn after the animation-frame callbacks, before the task they post. (A plain effect
    // runs after that frame already, and its animation frame is the next one: ~a frame late.)
    requestAnimationFrame(() => setTimeout(() => performance.mark("vxman:first-render")));
  }, [store.loaded, version]);
  const filtered = items.length !== store.machines.size;
  return html`<section class="machines" aria-labelledby="machines-h">
    <h2 id="machines-h" tabindex="-1">Machines</h2>
    <${Summary} store=${store} view=${view} setView=${setView} />
    <${Toolbar} store=${store} members=${store.membersVersion} view=${view} setView=${setView} wide=${wide} />
    <p class="shown muted" aria-live="polite">
      ${!store.loaded ? "Loading…" : filtered ? `Showing ${items.length} of ${store.machines.size}` : `${items.length} machines`}
    </p>
    ${store.loaded && store.machines.size === 0
      ? html`<p class="empty">No machines yet. A machine joins with <code>curl -fsS http://${location.host}/register.sh | sh</code>.</p>`
      : wide
        ? html`<div role="table" class="table" aria-label="Machines" aria-rowcount=${items.length + 1}>
            <div role="rowgroup" class="thead"><div role="row" class="row head" aria-rowindex="1">
              ${(["hostname", "ip_address", "mac_address"] as SortKey[]).map((k) => html`<${HeaderCell} key=${k} k=${k} view=${view} setView=${setView} />`)}
              <div role="columnheader" class="c-labels">Labels</div>
              <${HeaderCell} k="status" view=${view} setView=${setView} />
              <div role="columnheader" class="c-checks" title="The last 30 checks, oldest first">Checks</div>
              <${HeaderCell} k="last_rtt_ms" view=${view} setView=${setView} />
              <div role="columnheader" class="c-uptime num" title="Uptime over the last 24 hours (7 and 30 days on hover)">Uptime</div>
              <${HeaderCell} k="last_seen" view=${view} setView=${setView} />
              <div role="columnheader" class="c-act"><span class="sr-only">Actions</span></div>
            </div></div>
            <${Rows} items=${items} wide=${true} total=${items.length} ...${props} />
          </div>`
        : html`<${Rows} items=${items} wide=${false} total=${items.length} ...${props} />`}
  </section>`;
}
