// A machine's last checks as a strip of marks, oldest on the left: green for an answer, red (and
// taller) for none, so colour is not the only difference. One element per strip, drawn by CSS:
// each colour is a gradient of its runs of marks (a few stops, remembered per pattern), and a
// mask cuts the runs into marks. The list mounts dozens of strips per frame while scrolling
// through 10,000 machines; an SVG each cost a fifth more per frame.
import { RECENT_CHECKS } from "../../src/live/protocol.ts";
import { html } from "./html.ts";

const SLOT = 100 / RECENT_CHECKS; // percent of the strip per check

interface Drawn {
  style: { "--answered"?: string; "--missed"?: string };
  said: string;
}
const drawn = new Map<string, Drawn>();

/** The runs of `mark` in `checks` as a gradient of `colour`, or undefined when there are none.
 *  Right-aligned: the newest check is always at the right end, however many there are yet. */
function runs(checks: string, mark: string, colour: string): string | undefined {
  const offset = RECENT_CHECKS - checks.length;
  const stops: string[] = [];
  let end = 0;
  for (let i = 0; i < checks.length; ) {
    if (checks[i] !== mark) {
      i++;
      continue;
    }
    let j = i;
    while (j < checks.length && checks[j] === mark) j++;
    const from = ((offset + i) * SLOT).toFixed(3);
    const to = ((offset + j) * SLOT).toFixed(3);
    stops.push(`transparent ${end.toFixed(3)}% ${from}%`, `${colour} ${from}% ${to}%`);
    end = (offset + j) * SLOT;
    i = j;
  }
  return stops.length ? `linear-gradient(to right, ${stops.join(", ")}, transparent ${end.toFixed(3)}% 100%)` : undefined;
}

function draw(checks: string): Drawn {
  let d = drawn.get(checks);
  if (d) return d;
  const ok = checks.split("1").length - 1;
  d = {
    style: { "--answered": runs(checks, "1", "var(--ok)"), "--missed": runs(checks, "0", "var(--bad)") },
    said: checks.length ? `${ok} of ${checks.length} recent checks answered` : "No checks yet",
  };
  if (drawn.size > 5000) drawn.clear();
  drawn.set(checks, d);
  return d;
}

/** The strip, with its meaning as text for screen readers and on hover. Its colours are set
 *  through the CSSOM (a style object), which the CSP allows; a style attribute it would not. */
export function CheckStrip({ checks, large = false }: { checks: string; large?: boolean }) {
  const d = draw(checks);
  return html`<span class=${large ? "strip large" : "strip"} role="img" aria-label=${d.said} title=${d.said} style=${d.style}></span>`;
}

/** "28 of 30 recent checks answered" (or "No checks yet"). */
export const stripText = (checks: string): string => draw(checks).said;
