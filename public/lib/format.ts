// How times and round trips read on screen.

/** "just now", "42 s ago", "2 min ago", "3 h ago", "5 d ago" (and "in 10 s" for the future). */
export function relativeTime(iso: string | null, now: number): string {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  let text: string;
  if (s < 5) return "just now"; // a clock a little ahead of ours is not news
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86_400) text = `${Math.floor(s / 3600)} h`;
  else text = `${Math.floor(s / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

// One formatter, made once: Date.toLocaleString builds a new one per call, which at a few
// dozen rows per scroll frame is most of the frame.
const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

const exactCache = new Map<string, string>();

/** The exact time, for a tooltip: local time and the ISO form the server sent. Remembered,
 *  since every visible row asks again on every redraw. */
export function exactTime(iso: string | null): string {
  if (!iso) return "never";
  let text = exactCache.get(iso);
  if (text === undefined) {
    if (exactCache.size > 20_000) exactCache.clear();
    text = `${localTime.format(Date.parse(iso))} (${iso})`;
    exactCache.set(iso, text);
  }
  return text;
}

export function localDateTime(iso: string): string {
  return localTime.format(Date.parse(iso));
}

export function formatRtt(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** A value from extra_data as text: strings as they are, anything else as JSON. */
export function valueText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A length of time people read at a glance: "45 s", "5 min 7 s", "3 h 12 min", "2 d 4 h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86_400)} d${Math.floor((s % 86_400) / 3600) ? ` ${Math.floor((s % 86_400) / 3600)} h` : ""}`;
}

/** Uptime as a percentage, never rounded up to 100 % while something was down: "99.95 %". */
export function formatPercent(value: number | undefined): string {
  if (value === undefined) return "—";
  if (value >= 100) return "100 %";
  return `${(Math.floor(value * 100) / 100).toFixed(value >= 99 ? 2 : 1).replace(/\.?0+$/, "")} %`;
}
