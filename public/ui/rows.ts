// One machine in the list: a table row on a desktop, a card on a phone. Both are positioned by
// the windowed list (translateY through the CSSOM: the CSP forbids style attributes in markup),
// and redrawn only when one of their props changed: every check of every machine is a live
// update, and the list would otherwise redraw each visible row (strip, chips, uptime) for each.
import { Component, type VNode } from "preact";
import type { Machine } from "../../src/api/machines/model.ts";
import { formatRtt } from "../lib/format.ts";
import type { Uptime } from "../lib/outages.ts";
import { machineHref, StatusLabel, TimeAgo } from "./bits.ts";
import { html } from "./html.ts";
import { LabelChips } from "./labels.ts";
import { CheckStrip } from "./strip.ts";
import { UptimeCell } from "./uptime.ts";

export interface RowProps {
  machine: Machine;
  uptime: Uptime | undefined;
  index: number;
  top: number;
  now: number;
  flash: string;
  canDelete: boolean;
  onDelete: (m: Machine) => void;
}

/** Chips a row has room for; the rest are counted ("+3") and listed on hover. */
const ROW_CHIPS = 4;

const rtt = (m: Machine) => (m.status === "active" ? formatRtt(m.last_rtt_ms) : "—");

function DeleteButton({ machine, onDelete }: { machine: Machine; onDelete: (m: Machine) => void }) {
  return html`<button type="button" class="danger small" aria-label=${`Delete ${machine.hostname} (${machine.ip_address})`}
    onClick=${() => onDelete(machine)}>Delete</button>`;
}

/** `render` as a component that skips a redraw when no prop changed (a machine object is
 *  replaced whenever it changes). preact/compat's memo, without compat in the bundle. */
export function unlessChanged<P extends object>(render: (props: P) => VNode) {
  return class extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const now = this.props as P;
      for (const k in next) if (next[k] !== now[k]) return true;
      return false;
    }
    override render(props: P): VNode {
      return render(props);
    }
  };
}

export const TableRow = unlessChanged(function TableRow({ machine: m, uptime, index, top, now, flash, canDelete, onDelete }: RowProps) {
  return html`<div role="row" class=${`row ${flash}`} aria-rowindex=${index + 2} data-id=${m.id}
      style=${{ transform: `translateY(${top}px)` }}>
    <div role="cell" class="c-host"><a href=${machineHref(m.id)} title=${m.hostname}>${m.hostname}</a></div>
    <div role="cell" class="c-ip mono" title=${m.ip_address}>${m.ip_address}</div>
    <div role="cell" class="c-mac mono">${m.mac_address}</div>
    <div role="cell" class="c-labels"><${LabelChips} labels=${m.labels} max=${ROW_CHIPS} /></div>
    <div role="cell" class="c-status"><${StatusLabel} status=${m.status} /></div>
    <div role="cell" class="c-checks"><${CheckStrip} checks=${m.recent_checks} /></div>
    <div role="cell" class="c-rtt num">${rtt(m)}</div>
    <div role="cell" class="c-uptime num"><${UptimeCell} uptime=${uptime} /></div>
    <div role="cell" class="c-seen"><${TimeAgo} iso=${m.last_seen} now=${now} /></div>
    <div role="cell" class="c-act">${canDelete && m.status === "unreachable" ? html`<${DeleteButton} machine=${m} onDelete=${onDelete} />` : null}</div>
  </div>`;
});

export const Card = unlessChanged(function Card({ machine: m, uptime, index, top, now, flash, canDelete, onDelete, setSize }: RowProps & { setSize: number }) {
  return html`<li class=${`card ${flash}`} aria-posinset=${index + 1} aria-setsize=${setSize} data-id=${m.id} style=${{ transform: `translateY(${top}px)` }}>
    <div class="card-top">
      <${StatusLabel} status=${m.status} />
      ${canDelete && m.status === "unreachable" ? html`<${DeleteButton} machine=${m} onDelete=${onDelete} />` : null}
    </div>
    <a class="card-host" href=${machineHref(m.id)} title=${m.hostname}>${m.hostname}</a>
    <div class="card-line mono" title=${m.ip_address}>${m.ip_address}</div>
    <div class="card-line mono">${m.mac_address}</div>
    <div class="card-line muted">RTT ${rtt(m)} · seen <${TimeAgo} iso=${m.last_seen} now=${now} /></div>
    <div class="card-checks"><${CheckStrip} checks=${m.recent_checks} /> <span class="muted">24 h</span> <${UptimeCell} uptime=${uptime} /></div>
    <div class="card-labels"><${LabelChips} labels=${m.labels} /></div>
  </li>`;
});
