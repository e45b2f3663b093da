// Small pieces shared by the list and the detail view.
import type { Machine } from "../../src/api/machines/model.ts";
import { exactTime, relativeTime } from "../lib/format.ts";
import { html } from "./html.ts";

/** Status by shape and word as well as colour: ● active, ○ unreachable. */
export function StatusLabel({ status }: { status: Machine["status"] }) {
  return status === "active"
    ? html`<span class="status status-active"><span class="dot" aria-hidden="true">●</span> active</span>`
    : html`<span class="status status-unreachable"><span class="dot" aria-hidden="true">○</span> unreachable</span>`;
}

/** "2 min ago", with the exact time on hover (title) and for machines (datetime). `now` is the
 *  page's clock, which redraws it every few seconds; the words use the time it is drawn at, or a
 *  machine seen a moment ago, redrawn for that, would read "in 7 s". */
export function TimeAgo({ iso, now }: { iso: string | null; now: number }) {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime=${iso} title=${exactTime(iso)}>${relativeTime(iso, Math.max(now, Date.now()))}</time>`;
}

export const machineHref = (id: number) => `#/machines/${id}`;
