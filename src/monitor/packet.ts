// ICMP / ICMPv6 echo and error packets: build, checksum, parse. Pure functions, no I/O.
// Parsers never throw on short or garbled input: they return undefined, because anything on
// the network (or another program's raw socket traffic) can land in our receive buffer.
import type { Family } from "./sockaddr.ts";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP_HEADER = 8;
const IPV6_HEADER = 40;
/** Echo data after the 8-byte header: 56 bytes, the size ping and fping send by default. */
export const ECHO_DATA_BYTES = 56;
export const ECHO_PACKET_BYTES = ICMP_HEADER + ECHO_DATA_BYTES;

/** RFC 1071 Internet checksum of bytes [start, end), ready to store big-endian. */
export function checksum(buf: Uint8Array, start = 0, end = buf.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * A reusable echo request: the data pattern is written once, then only id/seq/checksum change
 * per probe, so sending allocates nothing.
 */
export function newEchoRequest(family: Family): Uint8Array {
  const pkt = new Uint8Array(ECHO_PACKET_BYTES);
  pkt[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
  for (let i = 0; i < ECHO_DATA_BYTES; i++) pkt[ICMP_HEADER + i] = 0x20 + (i % 64);
  return pkt;
}

/**
 * Stamp id and sequence. IPv4 needs our checksum; for ICMPv6 the kernel always computes it
 * (it covers a pseudo-header with the source address, which only the kernel knows).
 */
export function setEchoIdSeq(pkt: Uint8Array, family: Family, id: number, seq: number): void {
  pkt[2] = pkt[3] = 0;
  pkt[4] = id >> 8;
  pkt[5] = id & 0xff;
  pkt[6] = seq >> 8;
  pkt[7] = seq & 0xff;
  if (family === 4) {
    const sum = checksum(pkt);
    pkt[2] = sum >> 8;
    pkt[3] = sum & 0xff;
  }
}

export type IcmpMessage =
  | { kind: "reply"; id: number; seq: number }
  | {
      kind: "error";
      type: number;
      code: number;
      /** From the embedded original echo request: where it was going, and its id/seq. */
      id: number;
      seq: number;
      destination: Uint8Array;
    };

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/**
 * Offset of the IPv4 payload, or undefined when this is not a sane IPv4 header carrying
 * `protocol`. Raw IPv4 sockets hand us the IP header; datagram (ping) sockets do not.
 */
export function ipv4PayloadOffset(pkt: Uint8Array, start = 0, protocol = IPPROTO_ICMP): number | undefined {
  if (pkt.length < start + 20) return undefined;
  const vihl = pkt[start]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || pkt.length < start + ihl) return undefined;
  if (pkt[start + 9] !== protocol) return undefined;
  return start + ihl;
}

/** Parse a received ICMPv4 packet (with its IP header when `withIpHeader`). */
export function parseIcmp4(pkt: Uint8Array, withIpHeader: boolean): IcmpMessage | undefined {
  const at = withIpHeader ? ipv4PayloadOffset(pkt) : 0;
  if (at === undefined || pkt.length < at + ICMP_HEADER) return undefined;
  const type = pkt[at]!;
  if (type === ICMP_ECHO_REPLY) {
    // A raw socket sees packets before the kernel checks them: verify the checksum ourselves.
    if (checksum(pkt, at) !== 0) return undefined;
    return { kind: "reply", id: u16(pkt, at + 4), seq: u16(pkt, at + 6) };
  }
  if (type !== ICMP_DEST_UNREACH && type !== ICMP_TIME_EXCEEDED) return undefined;
  // The error quotes the IP header of our request and at least its first 8 bytes (RFC 792).
  const inner = at + ICMP_HEADER;
  const echoAt = ipv4PayloadOffset(pkt, inner);
  if (echoAt === undefined || pkt.length < echoAt + ICMP_HEADER) return undefined;
  if (pkt[echoAt] !== ICMP_ECHO_REQUEST) return undefined;
  return {
    kind: "error",
    type,
    code: pkt[at + 1]!,
    id: u16(pkt, echoAt + 4),
    seq: u16(pkt, echoAt + 6),
    destination: pkt.slice(inner + 16, inner + 20),
  };
}

/** Parse a received ICMPv6 packet (IPv6 sockets never include the IPv6 header). */
export function parseIcmp6(pkt: Uint8Array): IcmpMessage | undefined {
  if (pkt.length < ICMP_HEADER) return undefined;
  const type = pkt[0]!;
  if (type === ICMP6_ECHO_REPLY) return { kind: "reply", id: u16(pkt, 4), seq: u16(pkt, 6) };
  if (type !== ICMP6_DEST_UNREACH && type !== ICMP6_TIME_EXCEEDED) return undefined;
  const inner = ICMP_HEADER;
  const echoAt = inner + IPV6_HEADER;
  if (pkt.length < echoAt + ICMP_HEADER) return undefined;
  // We never send extension headers, so the quoted request follows the fixed header directly.
  if (pkt[inner]! >> 4 !== 6 || pkt[inner + 6] !== IPPROTO_ICMPV6) return undefined;
  if (pkt[echoAt] !== ICMP6_ECHO_REQUEST) return undefined;
  return {
    kind: "error",
    type,
    code: pkt[1]!,
    id: u16(pkt, echoAt + 4),
    seq: u16(pkt, echoAt + 6),
    destination: pkt.slice(inner + 24, inner + 40),
  };
}

export function parseIcmp(pkt: Uint8Array, family: Family, withIpHeader: boolean): IcmpMessage | undefined {
  return family === 4 ? parseIcmp4(pkt, withIpHeader) : parseIcmp6(pkt);
}

const UNREACH4: Record<number, string> = {
  0: "network unreachable",
  1: "host unreachable",
  2: "protocol unreachable",
  3: "port unreachable",
  4: "fragmentation needed",
  5: "source route failed",
  6: "destination network unknown",
  7: "destination host unknown",
  9: "network administratively prohibited",
  10: "host administratively prohibited",
  11: "network unreachable for TOS",
  12: "host unreachable for TOS",
  13: "communication administratively prohibited",
};
const UNREACH6: Record<number, string> = {
  0: "no route to destination",
  1: "communication administratively prohibited",
  2: "beyond scope of source address",
  3: "address unreachable",
  4: "port unreachable",
  5: "source address failed ingress/egress policy",
  6: "reject route to destination",
};

/** Operator wording for an ICMP error, e.g. "host unreachable". */
export function describeIcmpError(family: Family, type: number, code: number): string {
  if (family === 4 && type === ICMP_TIME_EXCEEDED) return "time to live exceeded";
  if (family === 6 && type === ICMP6_TIME_EXCEEDED) return "hop limit exceeded";
  const table = family === 4 ? UNREACH4 : UNREACH6;
  return table[code] ?? `destination unreachable (code ${code})`;
}

// ---- Errors on datagram (ping) sockets -------------------------------------------------------
// A ping socket gets no ICMP errors as packets: with IP_RECVERR the kernel queues them on the
// socket's error queue, read with recvmsg(MSG_ERRQUEUE). The data is our original echo request,
// msg_name its destination, and a control message carries struct sock_extended_err.

const SO_EE_ORIGIN_ICMP = 2;
const SO_EE_ORIGIN_ICMP6 = 3;

export interface ExtendedError {
  /** ICMP type/code when the error came from an ICMP message; undefined for local errors. */
  icmp?: { type: number; code: number };
  errno: number;
  /** Who sent the ICMP error (SO_EE_OFFENDER), when known. */
  offender?: Uint8Array;
}

/** Find the IP_RECVERR / IPV6_RECVERR control message in recvmsg's control buffer. */
export function parseExtendedError(control: Uint8Array, length: number): ExtendedError | undefined {
  const view = new DataView(control.buffer, control.byteOffset, Math.min(length, control.byteLength));
  for (let at = 0; at + 16 <= view.byteLength; ) {
    const len = view.getUint32(at, true); // cmsg_len is a size_t; its high half is 0 here
    if (len < 16 || at + len > view.byteLength) return undefined;
    const level = view.getInt32(at + 8, true);
    const type = view.getInt32(at + 12, true);
    if ((level === 0 && type === 11) || (level === 41 && type === 25)) return readExtendedError(view, at + 16, at + len);
    at += (len + 7) & ~7;
  }
  return undefined;
}

function readExtendedError(view: DataView, at: number, end: number): ExtendedError | undefined {
  if (at + 16 > end) return undefined;
  const origin = view.getUint8(at + 4);
  const err: ExtendedError = { errno: view.getUint32(at, true) };
  if (origin === SO_EE_ORIGIN_ICMP || origin === SO_EE_ORIGIN_ICMP6) {
    err.icmp = { type: view.getUint8(at + 5), code: view.getUint8(at + 6) };
  }
  const sa = at + 16;
  const family = sa + 2 <= end ? view.getUint16(sa, true) : 0;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (family === 2 && sa + 8 <= end) err.offender = bytes.slice(sa + 4, sa + 8);
  if (family === 10 && sa + 24 <= end) err.offender = bytes.slice(sa + 8, sa + 24);
  return err;
}
