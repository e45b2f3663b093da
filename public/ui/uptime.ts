// Uptime of every machine (GET /api/uptime: percent of the last 24 h, 7 d and 30 d not in an
// outage), asked for once a minute for the whole dashboard, never per row or per render. The
// first ask waits for the machine list: at 100,000 machines both are megabytes that the server
// makes and the page reads on one thread each, and the list is what the viewer came for.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { formatPercent } from "../lib/format.ts";
import type { Uptime } from "../lib/outages.ts";
import { html } from "./html.ts";

const UPTIME_POLL_MS = 60_000;

export type UptimeBook = ReadonlyMap<number, Uptime>;

export function useUptime(start: boolean): UptimeBook {
  const [book, setBook] = useState<UptimeBook>(() => new Map());
  useEffect(() => {
    if (!start) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const { items } = await api<{ items: Uptime[] }>("/api/uptime");
        if (live) setBook(new Map(items.map((u) => [u.machine_id, u])));
      } catch {
        // The last figures stay on screen; the next round asks again.
      }
      if (live) timer = setTimeout(load, UPTIME_POLL_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [start]);
  return book;
}

const spelled = (u: Uptime) => `Uptime: last 24 h ${formatPercent(u.day)}, 7 days ${formatPercent(u.week)}, 30 days ${formatPercent(u.month)}`;

/** The last 24 hours' figure, the week's and month's on hover. */
export function UptimeCell({ uptime }: { uptime: Uptime | undefined }) {
  if (!uptime) return html`<span class="muted" title="Uptime not known yet">—</span>`;
  return html`<span class=${uptime.day < 100 ? "uptime dented" : "uptime"} title=${spelled(uptime)}>${formatPercent(uptime.day)}</span>`;
}

/** All three figures, for a machine's page. */
export function UptimeFigures({ uptime }: { uptime: Uptime | undefined }) {
  if (!uptime) return html`<p class="muted">Uptime is not known yet.</p>`;
  return html`<dl class="uptime-figures">
    <div><dt>24 hours</dt><dd>${formatPercent(uptime.day)}</dd></div>
    <div><dt>7 days</dt><dd>${formatPercent(uptime.week)}</dd></div>
    <div><dt>30 days</dt><dd>${formatPercent(uptime.month)}</dd></div>
  </dl>`;
}
