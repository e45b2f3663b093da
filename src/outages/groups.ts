// Labels and built-in groups: how machines are selected (by channels, silences, jobs) and
// grouped into one message. Pure functions.
//
// A label is a short `key=value` string. Every machine also belongs to built-in groups, spelt
// as people read them: its VNI ("vni 4096", from extra_data.vni) when it has one, and its subnet
// ("subnet 198.18.0.0/24", at a prefix length set by SUBNET_PREFIX_V4 / _V6).
import { isIPv4 } from "node:net";

export const LABEL_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.\\-/]{0,62}=[^\\u0000-\\u001f,]{0,128}$";
const LABEL = new RegExp(LABEL_PATTERN);
export const MAX_LABELS = 32;

export const isLabel = (label: string): boolean => LABEL.test(label);

/** Labels as stored: unique, in a stable order (sorted), a key given twice keeps its last value. */
export function normalizeLabels(labels: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const label of labels) byKey.set(label.slice(0, label.indexOf("=")), label);
  return [...byKey.values()].sort();
}

export interface Grouped {
  ip_address: string;
  extra_data: Record<string, unknown>;
  labels: readonly string[];
}

export interface GroupOptions {
  /** "vni-or-subnet" (default), "vni", "subnet", or "label:KEY". */
  groupBy: string;
  subnetPrefixV4: number;
  subnetPrefixV6: number;
}

/** The VNI a machine reported, when it is a whole number. */
export function vniOf(m: Grouped): number | null {
  const v = m.extra_data.vni;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,8}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 && n < 1 << 24 ? n : null;
}

/** "subnet 198.18.0.0/24" for an address at the configured prefix length. */
export function subnetOf(ip: string, o: Pick<GroupOptions, "subnetPrefixV4" | "subnetPrefixV6">): string {
  return isIPv4(ip) ? `subnet ${maskV4(ip, o.subnetPrefixV4)}/${o.subnetPrefixV4}` : `subnet ${maskV6(ip, o.subnetPrefixV6)}/${o.subnetPrefixV6}`;
}

/** Every built-in group a machine is in. */
export function groupsOf(m: Grouped, o: GroupOptions): string[] {
  const vni = vniOf(m);
  return [...(vni === null ? [] : [`vni ${vni}`]), subnetOf(m.ip_address, o)];
}

/** The group a machine's messages are grouped by (GROUP_BY): {by, value} and its key. */
export function groupFor(m: Grouped, o: GroupOptions): { by: string; value: string; key: string } {
  const vni = vniOf(m);
  if (o.groupBy.startsWith("label:")) {
    const key = o.groupBy.slice("label:".length);
    const value = m.labels.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? "(none)";
    return { by: key, value, key: `${key}=${value}` };
  }
  if (o.groupBy !== "subnet" && vni !== null) return { by: "vni", value: String(vni), key: `vni ${vni}` };
  if (o.groupBy === "vni") return { by: "vni", value: "(none)", key: "vni (none)" };
  const subnet = subnetOf(m.ip_address, o).slice("subnet ".length);
  return { by: "subnet", value: subnet, key: `subnet ${subnet}` };
}

function maskV4(ip: string, prefix: number): string {
  const n = ip.split(".").reduce((acc, part) => (acc << 8) | Number(part), 0) >>> 0;
  const masked = prefix === 0 ? 0 : (n & (~0 << (32 - prefix))) >>> 0;
  return [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join(".");
}

function maskV6(ip: string, prefix: number): string {
  const [head = "", tail] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const words = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right].map((w) => parseInt(w || "0", 16));
  const masked = words.map((w, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : w & ((0xffff << (16 - bits)) & 0xffff);
  });
  return compressV6(masked);
}

/** RFC 5952 text: the longest run of zero words (two or more) becomes "::". */
function compressV6(words: number[]): string {
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { start: i, len: j - i };
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.start === -1) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.len).join(":")}`;
}
