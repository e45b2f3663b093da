// IP address text <-> bytes, and the sockaddr_in / sockaddr_in6 structs sendto() takes.
// Pure: no I/O (a zone name like "%eth0" is resolved by the caller-supplied function).
// No node:net either: loading it (and the streams it pulls in) costs ~20 ms of CPU in each
// thread that imports this file, the ICMP receiver Worker and `vxman ping` included.

export type Family = 4 | 6;

export interface Target {
  family: Family;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** IPv6 scope (interface index) for link-local addresses given with a zone; else 0. */
  scopeId: number;
}

const AF_INET = 2;
const AF_INET6 = 10;
export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;

/**
 * Parse an IP literal. IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4: a raw ICMPv6 socket
 * cannot reach it, and it names the same host. Returns undefined for anything else.
 */
export function parseTarget(ip: string, zoneIndex: (zone: string) => number = () => 0): Target | undefined {
  const v4 = ipv4Bytes(ip);
  if (v4) return { family: 4, bytes: v4, scopeId: 0 };
  const percent = ip.indexOf("%");
  const zone = percent < 0 ? undefined : ip.slice(percent + 1);
  if (zone !== undefined && !ZONE.test(zone)) return undefined;
  const bytes = ipv6Bytes(percent < 0 ? ip : ip.slice(0, percent));
  if (!bytes) return undefined;
  if (isV4Mapped(bytes)) return { family: 4, bytes: bytes.slice(12), scopeId: 0 };
  return { family: 6, bytes, scopeId: zone ? (/^\d+$/.test(zone) ? Number(zone) : zoneIndex(zone)) : 0 };
}

/**
 * Strict dotted quad (no leading zeros, like node:net isIPv4) → 4 bytes, else undefined.
 * Hand-rolled because it runs once per probe: no regex, no split, one small allocation.
 */
function ipv4Bytes(ip: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const ch = i < ip.length ? ip.charCodeAt(i) : 46; // a final "." closes the last part
    if (ch >= 48 && ch <= 57) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + ch - 48;
      if (++digits > 3 || value > 255) return undefined;
    } else if (ch === 46 && digits > 0 && part < 4) {
      out[part++] = value;
      value = digits = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

/** A zone (scope) after "%": what node:net's isIPv6 accepts there. */
const ZONE = /^[0-9a-zA-Z.:-]+$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * 16 bytes from IPv6 text, "::" and a dotted IPv4 tail included, else undefined. As strict as
 * node:net's isIPv6 ("::" stands for at least one zero group; no leading zeros in the IPv4
 * tail): test/monitor/sockaddr.test.ts compares the two, and the bytes with glibc's inet_pton.
 */
function ipv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const left = hexWords(halves[0]!, !compressed);
  const right = compressed ? hexWords(halves[1]!, true) : [];
  if (!left || !right) return undefined;
  const given = left.length + right.length;
  if (compressed ? given > 7 : given !== 8) return undefined;
  const words = [...left, ...new Array<number>(8 - given).fill(0), ...right];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** The 16-bit words of "a:b:c" (empty text: none). A dotted IPv4 may be the last group only
 *  when `endsAddress` (it is the address's end). */
function hexWords(part: string, endsAddress: boolean): number[] | undefined {
  if (part === "") return [];
  const groups = part.split(":");
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (endsAddress && i === groups.length - 1 && g.includes(".")) {
      const b = ipv4Bytes(g);
      if (!b) return undefined;
      words.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    } else if (HEX_GROUP.test(g)) words.push(parseInt(g, 16));
    else return undefined;
  }
  return words;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** A new struct sockaddr_in / sockaddr_in6 for `t`; port 0 (ICMP has none). */
export function encodeSockaddr(t: Target): Uint8Array {
  return writeSockaddr(new Uint8Array(t.family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN), t);
}

/** Fill `sa` (zeroed, the family's size; reused per send) for `t`. Little-endian host. */
export function writeSockaddr(sa: Uint8Array, t: Target): Uint8Array {
  sa[0] = t.family === 4 ? AF_INET : AF_INET6;
  sa.set(t.bytes, t.family === 4 ? 4 : 8);
  if (t.family === 6) {
    sa[24] = t.scopeId & 0xff;
    sa[25] = (t.scopeId >>> 8) & 0xff;
    sa[26] = (t.scopeId >>> 16) & 0xff;
    sa[27] = t.scopeId >>> 24;
  }
  return sa;
}

/** The port of a sockaddr_in/in6 (network order on the wire); ping sockets put their echo id here. */
export function sockaddrPort(sa: Uint8Array): number {
  return (sa[2]! << 8) | sa[3]!;
}

/** Address bytes of a sockaddr_in/in6 as filled by recvfrom() (a view, not a copy). */
export function sockaddrAddress(sa: Uint8Array): Uint8Array {
  const family = sa[0]! | (sa[1]! << 8);
  return family === AF_INET6 ? sa.subarray(8, 24) : sa.subarray(4, 8);
}

/** Dotted quad, or RFC 5952 IPv6 text (longest zero run compressed, lower case). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (isV4Mapped(bytes)) return `::ffff:${bytes.subarray(12).join(".")}`;
  let best = -1;
  let bestLen = 1; // a single zero word is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}
