// What every channel says, in plain text: one line per machine, cut to fit the target's size
// limit. Each channel escapes these lines for its own markup (only the HTML escape, which two
// channels share, lives here).
//
// Machines send their hostnames and labels themselves, so every such string is made one line
// (control and invisible formatting characters become spaces) and short before it is shown: a
// newline in a label must not forge a line of the message, and a long one must not push the
// rest out.
import type { Notification, NotificationKind, NotifiedMachine } from "./channel.ts";

const MAX_LABELS_SHOWN = 8;
const MAX_LABEL_CHARS = 64;

/** One line, at most `max` characters: C0/C1 controls, line and paragraph separators, and format
 *  characters (bidi overrides, zero-width) become spaces. */
export function oneLine(value: string, max = 200): string {
  const flat = value.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** "45s", "12m 5s", "3h 4m", "2d 5h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: [number, string][] = [[Math.floor(s / 86_400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return "0s";
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`).join(" ");
}

/** "2024-05-01 12:03:07 UTC"; anything unparsable is shown as given (one line). */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? oneLine(iso, 40) : `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "node-07 198.18.0.7 (vni 4096): down since 2024-05-01 12:03:07 UTC (5m) · role=db, rack=r1" */
export function machineLine(machine: NotifiedMachine, at: string): string {
  const where = `${oneLine(machine.hostname, 255)} ${oneLine(machine.ip_address, 45)} (${oneLine(machine.group, 80)})`;
  const facts = [state(machine, at), machine.detail ? oneLine(machine.detail) : ""].filter(Boolean).join("; ");
  const labels = machine.labels.slice(0, MAX_LABELS_SHOWN).map((l) => oneLine(l, MAX_LABEL_CHARS));
  if (machine.labels.length > MAX_LABELS_SHOWN) labels.push(`+${machine.labels.length - MAX_LABELS_SHOWN} more`);
  return `${where}${facts ? `: ${facts}` : ""}${labels.length ? ` · ${labels.join(", ")}` : ""}`;
}

function state(machine: NotifiedMachine, at: string): string {
  if (machine.status === "unreachable" && machine.since) {
    const downFor = (Date.parse(at) - Date.parse(machine.since)) / 1000;
    return `down since ${formatTime(machine.since)}${Number.isFinite(downFor) && downFor > 0 ? ` (${formatDuration(downFor)})` : ""}`;
  }
  if (machine.outage_seconds !== null) return `back after ${formatDuration(machine.outage_seconds)}`;
  return machine.status === "unreachable" ? "unreachable" : "";
}

/**
 * The body as lines: one per machine (or the notification's own text when it names none),
 * each passed through `escape`, as many as fit in `maxChars` (counting the newlines between
 * them), then "…and N more" for the rest. The cut is made on escaped text, because escaping
 * makes lines longer and the limit is the target's.
 */
export function bodyLines(message: Notification, maxChars: number, escape: (line: string) => string = (s) => s): string[] {
  const source = message.machines.length
    ? message.machines.map((m) => machineLine(m, message.at))
    : message.text.split(/\r\n|\r|\n/).map((line) => oneLine(line, 500)).filter(Boolean);
  const notListed = message.machines.length ? Math.max(0, message.total - message.machines.length) : 0;
  const lines: string[] = [];
  let used = 0;
  for (const [i, line] of source.entries()) {
    const escaped = escape(line);
    const rest = source.length - i - 1 + notListed;
    const reserve = rest > 0 ? 30 : 0; // room for the "…and N more" line
    if (used + escaped.length + 1 + reserve > maxChars) break;
    lines.push(escaped);
    used += escaped.length + 1;
  }
  const more = source.length - lines.length + notListed;
  if (more > 0) lines.push(escape(`…and ${more} more`));
  return lines;
}

export type Tone = "bad" | "good" | "info";

/** Whether a message reports trouble, its end, or just news: picks colours, icons and priorities. */
export function tone(kind: NotificationKind): Tone {
  if (kind === "unreachable" || kind === "still_unreachable" || kind === "run_failed") return "bad";
  return kind === "recovered" ? "good" : "info";
}

/** One line made inert for Markdown readers (CommonMark, Mattermost, Teams): a backslash before
 *  each inline marker (emphasis, code, links, the escape itself), and before a marker that would
 *  open a heading, quote or list at the start of the line. */
export function escapeMarkdown(line: string): string {
  return line.replace(/[\\`*_~[\]]/g, "\\$&").replace(/^([#>+-])/, "\\$1");
}

/** Text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
