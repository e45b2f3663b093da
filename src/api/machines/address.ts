// What a machine may register as: pure rules for IP, MAC, hostname and extra_data, so the
// route, the monitor and the tests share one definition. Each check returns a reason a person
// understands, or null when the value is fine.
import { isIPv4, isIPv6 } from "node:net";

export type IpFamily = 4 | 6;

/** The IP rule: an address vxman can ping. Returns the reason it is not, or null. */
export function ipProblem(ip: string): string | null {
  if (isIPv4(ip)) {
    const [a] = ip.split(".").map(Number) as [number];
    if (a === 0) return "0.0.0.0/8 is not a host address";
    if (a >= 224 && a <= 239) return "multicast addresses cannot be registered";
    if (ip === "255.255.255.255") return "the broadcast address cannot be registered";
    return null;
  }
  if (isIPv6(ip)) {
    if (ip.includes("%")) return "zone ids (%eth0) are not accepted; register a global or unique-local address";
    // Judged on the eight groups, not the spelling: ::ffff:1.2.3.4, 0::ffff:102:304 and
    // 0:0:0:0:0:ffff:1.2.3.4 are one address, and so are ::, 0::0 and 0:0:0:0:0:0:0:0.
    const g = ipv6Groups(ip);
    const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
    if (zeros(5) && g[5] === 0xffff) return "IPv4-mapped IPv6: register the IPv4 address itself";
    if (zeros(8)) return ":: is not a host address";
    if (zeros(6) && !(g[6] === 0 && g[7] === 1)) return "IPv4-compatible IPv6 (::a.b.c.d) is deprecated: register the IPv4 address itself";
    if (g[0]! >> 8 === 0xff) return "multicast addresses cannot be registered";
    if ((g[0]! & 0xffc0) === 0xfe80) return "link-local IPv6 needs an interface to be reached; register a global or unique-local address";
    return null;
  }
  return "must be an IPv4 address (198.18.0.7) or an IPv6 address (2001:db8::7)";
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted IPv4 part is two groups). */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s ? s.split(":").map((h) => parseInt(h, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

export function ipFamily(ip: string): IpFamily {
  return isIPv4(ip) ? 4 : 6;
}

// Colon or dash separated (aa:bb:cc:dd:ee:ff, AA-BB-...) or Cisco dotted (aabb.ccdd.eeff).
export const MAC_PATTERN = "^(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\\1){4}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4})$";

/** Any accepted notation → lower-case colon form. Assumes MAC_PATTERN already matched. */
export function normalizeMac(mac: string): string {
  const hex = mac.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
  return hex.match(/../g)!.join(":");
}

// RFC 1123: dot-separated labels of letters, digits and hyphens, 1–63 characters, not starting
// or ending with a hyphen. The length limit (255) is checked separately.
export const HOSTNAME_PATTERN = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";

export const EXTRA_DATA_MAX_BYTES = 8 * 1024;
export const EXTRA_DATA_MAX_DEPTH = 8;

/**
 * extra_data is small system information (os, arch, VNI…): an object of at most 8 KiB as JSON,
 * nested at most 8 deep, with text PostgreSQL's jsonb can store (no NUL, no lone surrogates).
 */
export function extraDataProblem(value: Record<string, unknown>): string | null {
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > EXTRA_DATA_MAX_BYTES) return `is ${bytes} bytes as JSON; the limit is ${EXTRA_DATA_MAX_BYTES}`;
  return valueProblem(value, 1);
}

function valueProblem(v: unknown, depth: number): string | null {
  if (typeof v === "string") return textProblem(v);
  if (v === null || typeof v !== "object") return null;
  if (depth > EXTRA_DATA_MAX_DEPTH) return `is nested more than ${EXTRA_DATA_MAX_DEPTH} levels deep`;
  for (const [k, item] of Object.entries(v)) {
    const problem = textProblem(k) ?? valueProblem(item, depth + 1);
    if (problem) return problem;
  }
  return null;
}

function textProblem(s: string): string | null {
  if (s.includes("\u0000")) return "contains a NUL character, which cannot be stored";
  if (!s.isWellFormed()) return "contains an unpaired UTF-16 surrogate, which is not valid Unicode";
  return null;
}
