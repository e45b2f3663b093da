// The RTT history of one machine as an SVG line: answered checks on the line, failed checks as
// red marks along the bottom. Drawn from attributes only (no style attributes: the CSP).
import type { RefObject } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { formatRtt } from "../lib/format.ts";
import { html } from "./html.ts";

export interface Sample {
  checked_at: string;
  rtt_ms: number | null;
}

/** Drawn at the width it is shown (so labels keep their size on a phone), between these. */
const MIN_W = 280;
const MAX_W = 760;
const H = 180;
const PAD = { left: 56, right: 8, top: 10, bottom: 24 };

/** A round upper bound for the y axis: 1, 2 or 5 × 10^n. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function useWidth(): [RefObject<HTMLElement | null>, number] {
  const ref = useRef<HTMLElement | null>(null);
  const [width, setWidth] = useState(600);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(MIN_W, Math.min(MAX_W, Math.round(el.clientWidth))));
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    measure();
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function RttChart({ samples }: { samples: Sample[] }) {
  const [ref, W] = useWidth();
  const points = samples
    .map((s) => ({ t: Date.parse(s.checked_at), rtt: s.rtt_ms }))
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  const ok = points.filter((p) => p.rtt !== null).map((p) => p.rtt!);
  const t0 = points[0]?.t ?? 0;
  const t1 = points.at(-1)?.t ?? 1;
  const max = niceMax(Math.max(0, ...ok));
  const x = (t: number) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (rtt: number) => PAD.top + (1 - rtt / max) * (H - PAD.top - PAD.bottom);
  // One polyline per run of answered checks: a failure breaks the line.
  const runs: string[] = [];
  let run: string[] = [];
  for (const p of points) {
    if (p.rtt === null) {
      if (run.length) runs.push(run.join(" "));
      run = [];
    } else run.push(`${x(p.t).toFixed(1)},${y(p.rtt).toFixed(1)}`);
  }
  if (run.length) runs.push(run.join(" "));
  const failed = points.filter((p) => p.rtt === null);
  const avg = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
  const summary = `${points.length} ${points.length === 1 ? "check" : "checks"}, ${failed.length} failed` +
    (ok.length ? `; RTT min ${formatRtt(Math.min(...ok))}, average ${formatRtt(avg)}, max ${formatRtt(Math.max(...ok))}` : "");
  const time = (t: number) => new Date(t).toLocaleTimeString();
  return html`<figure class="chart" ref=${ref}>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`RTT over time: ${summary}`} preserveAspectRatio="xMidYMid meet">
      <line class="axis" x1=${PAD.left} y1=${H - PAD.bottom} x2=${W - PAD.right} y2=${H - PAD.bottom} />
      <line class="grid" x1=${PAD.left} y1=${PAD.top} x2=${W - PAD.right} y2=${PAD.top} />
      <text class="tick" x=${PAD.left - 6} y=${PAD.top + 4} text-anchor="end">${formatRtt(max)}</text>
      <text class="tick" x=${PAD.left - 6} y=${H - PAD.bottom} text-anchor="end">0</text>
      <text class="tick" x=${PAD.left} y=${H - 6}>${time(t0)}</text>
      <text class="tick" x=${W - PAD.right} y=${H - 6} text-anchor="end">${time(t1)}</text>
      ${runs.map((pts) => (pts.includes(" ") ? html`<polyline class="line" points=${pts} />` : html`<circle class="point" r="2.5" cx=${pts.split(",")[0]} cy=${pts.split(",")[1]} />`))}
      ${failed.map((p) => html`<line class="fail" x1=${x(p.t)} x2=${x(p.t)} y1=${H - PAD.bottom} y2=${H - PAD.bottom - 8} />`)}
    </svg>
    <figcaption class="muted">${summary}</figcaption>
  </figure>`;
}
