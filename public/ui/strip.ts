// A machine's last checks as a strip of marks, oldest on the left: green for an answer, red (and
// taller) for none, so colour is not the only difference. One SVG with two paths, whatever the
// number of checks, and the paths are remembered per pattern: the list redraws dozens of strips
// on every live update while scrolling through 10,000 machines.
import { RECENT_CHECKS } from "../../src/live/protocol.ts";
import { html } from "./html.ts";

const STEP = 3; // a mark 2 wide and a gap of 1
const WIDTH = RECENT_CHECKS * STEP - 1;
const HEIGHT = 12;

interface Drawn {
  answered: string;
  missed: string;
  said: string;
}
const drawn = new Map<string, Drawn>();

function draw(checks: string): Drawn {
  let d = drawn.get(checks);
  if (d) return d;
  // Right-aligned: the newest check is always at the right end, however many there are yet.
  const offset = (RECENT_CHECKS - checks.length) * STEP;
  let answered = "";
  let missed = "";
  let ok = 0;
  for (let i = 0; i < checks.length; i++) {
    const x = offset + i * STEP;
    if (checks[i] === "1") {
      ok++;
      answered += `M${x} 4h2v8h-2z`;
    } else missed += `M${x} 0h2v12h-2z`;
  }
  const said = checks.length ? `${ok} of ${checks.length} recent checks answered` : "No checks yet";
  d = { answered, missed, said };
  if (drawn.size > 5000) drawn.clear();
  drawn.set(checks, d);
  return d;
}

/** The strip, with its meaning as text for screen readers and on hover. */
export function CheckStrip({ checks, large = false }: { checks: string; large?: boolean }) {
  const d = draw(checks);
  return html`<span class=${large ? "strip large" : "strip"} role="img" aria-label=${d.said} title=${d.said}>
    <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
      <path class="base" d=${`M0 ${HEIGHT - 0.5}h${WIDTH}`} />
      ${d.answered ? html`<path class="ok" d=${d.answered} />` : null}
      ${d.missed ? html`<path class="bad" d=${d.missed} />` : null}
    </svg>
  </span>`;
}

/** "28 of 30 recent checks answered" (or "No checks yet"). */
export const stripText = (checks: string): string => draw(checks).said;
