// Opening the ICMP sockets: raw (needs CAP_NET_RAW) with a kernel type filter, else an
// unprivileged datagram "ping" socket where net.ipv4.ping_group_range allows it, else a typed
// error that says how to fix it.
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import * as c from "./libc.ts";
import { ICMP6_DEST_UNREACH, ICMP6_ECHO_REPLY, ICMP6_TIME_EXCEEDED, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_TIME_EXCEEDED } from "./packet.ts";
import { encodeSockaddr, sockaddrPort, type Family } from "./sockaddr.ts";

export type SocketKind = "raw" | "dgram";

export interface IcmpSocket {
  fd: number;
  family: Family;
  kind: SocketKind;
  /** A ping socket's echo id: the kernel overwrites ours with the socket's local "port". */
  kernelId?: number;
  /** SO_RCVBUF as the kernel reports it (it doubles what is asked, for bookkeeping). */
  receiveBufferBytes: number;
}

const HOW_TO_FIX = [
  "vxman needs CAP_NET_RAW, or unprivileged ICMP sockets allowed for its group. Any one of:",
  "  - under systemd, in the [Service] section: AmbientCapabilities=CAP_NET_RAW",
  "  - on the binary: setcap cap_net_raw+ep /usr/local/bin/vxman   (use the path vxman runs from)",
  '  - for every group: sysctl -w net.ipv4.ping_group_range="0 2147483647"   (persist it in /etc/sysctl.d/)',
  '  - in a container: docker or podman run --sysctl net.ipv4.ping_group_range="0 2147483647"   (its own network only)',
].join("\n");

/** No ICMP socket could be opened. `message` says why; `howToFix` says what to change. */
export class IcmpUnavailableError extends Error {
  readonly howToFix = HOW_TO_FIX;
  constructor(reason: string) {
    super(`cannot open an ICMP socket: ${reason}`);
    this.name = "IcmpUnavailableError";
  }
}

const PROTO = { 4: c.IPPROTO_ICMP, 6: c.IPPROTO_ICMPV6 } as const;
const DOMAIN = { 4: c.AF_INET, 6: c.AF_INET6 } as const;

/**
 * Open the family's socket. Throws IcmpUnavailableError when neither kind can be opened, with
 * both errnos in the message.
 */
export function openIcmpSocket(family: Family, receiveBufferBytes: number): IcmpSocket {
  const raw = c.libc.socket(DOMAIN[family], c.SOCK_RAW | c.SOCK_CLOEXEC, PROTO[family]);
  if (raw >= 0) return setUpRaw(raw, family, receiveBufferBytes);
  const rawErr = c.errno();
  const dgram = c.libc.socket(DOMAIN[family], c.SOCK_DGRAM | c.SOCK_CLOEXEC, PROTO[family]);
  if (dgram >= 0) return setUpDgram(dgram, family, receiveBufferBytes);
  const dgramErr = c.errno();
  throw new IcmpUnavailableError(
    `IPv${family} raw socket: ${c.describeErrno(rawErr)}; ` +
      `IPv${family} datagram (ping) socket: ${c.describeErrno(dgramErr)}${pingGroupNote(dgramErr)}`,
  );
}

/**
 * A raw socket receives every ICMP reply on the host, other programs' too (another pinger, a
 * monitoring agent): a busy host sends thousands a second. Past this filter (classic BPF) the
 * kernel queues only echo replies carrying our echo id, and errors (rare; matched later): the
 * receiver then wakes for our replies only. Best effort: without it the receiver still drops
 * foreign replies itself. Datagram (ping) sockets need none: the kernel demultiplexes by id.
 */
export function keepOnlyEchoId(s: IcmpSocket, id: number): boolean {
  if (s.kind !== "raw") return true;
  const program = echoIdFilter(s.family, id);
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (8-byte aligned pointer)
  const fprog = new BigUint64Array([BigInt(program.length / 8), BigInt(ptr(program))]);
  return c.libc.setsockopt(s.fd, c.SOL_SOCKET, c.SO_ATTACH_FILTER, fprog, fprog.byteLength) === 0;
}

// Classic BPF opcodes (linux/filter.h).
const LD_B_ABS = 0x30, LD_H_ABS = 0x28, LD_B_IND = 0x50, LD_H_IND = 0x48, LDX_B_MSH = 0xb1, JEQ_K = 0x15, RET_K = 0x06;

/** "Not an echo reply, or an echo reply with our id": accept; anything else: drop. An IPv4 raw
 *  socket sees the IP header first (X = its length); an IPv6 one starts at the ICMPv6 header. */
function echoIdFilter(family: Family, id: number): Uint8Array {
  const reply = family === 4 ? ICMP_ECHO_REPLY : ICMP6_ECHO_REPLY;
  const header: [number, number, number, number][] = family === 4 ? [[LDX_B_MSH, 0, 0, 0], [LD_B_IND, 0, 0, 0]] : [[LD_B_ABS, 0, 0, 0]];
  const rest: [number, number, number, number][] = [
    [JEQ_K, 0, 2, reply], // not a reply: accept
    [family === 4 ? LD_H_IND : LD_H_ABS, 0, 0, 4], // the echo id
    [JEQ_K, 0, 1, id],
    [RET_K, 0, 0, 0xffff_ffff],
    [RET_K, 0, 0, 0],
  ];
  const code = [...header, ...rest];
  const bytes = new Uint8Array(code.length * 8);
  const view = new DataView(bytes.buffer);
  code.forEach(([op, jt, jf, k], i) => {
    view.setUint16(i * 8, op, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k, true);
  });
  return bytes;
}

export function closeIcmpSocket(s: IcmpSocket): void {
  c.libc.close(s.fd);
}

function setUpRaw(fd: number, family: Family, rcvbuf: number): IcmpSocket {
  // Only replies and the errors that can answer an echo request reach us; the kernel drops
  // the rest (including our own echo requests looping back on lo) before they are queued.
  const ok = family === 4 ? setFilter4(fd) : setFilter6(fd);
  if (ok !== 0) return fail(fd, `ICMP type filter: ${c.describeErrno(ok)}`);
  return { fd, family, kind: "raw", receiveBufferBytes: setCommonOptions(fd, rcvbuf) };
}

function setUpDgram(fd: number, family: Family, rcvbuf: number): IcmpSocket {
  // Bind to port 0 so the kernel picks our echo id now, and we can match replies by it.
  const any = encodeSockaddr({ family, bytes: new Uint8Array(family === 4 ? 4 : 16), scopeId: 0 });
  if (c.libc.bind(fd, any, any.length) !== 0) return fail(fd, `bind: ${c.describeErrno(c.errno())}`);
  const name = new Uint8Array(28);
  if (c.libc.getsockname(fd, name, new Uint32Array([name.length])) !== 0) {
    return fail(fd, `getsockname: ${c.describeErrno(c.errno())}`);
  }
  // ICMP errors arrive on the error queue only with RECVERR; without it they are dropped.
  const err = family === 4 ? c.setIntOption(fd, c.IPPROTO_IP, c.IP_RECVERR, 1) : c.setIntOption(fd, c.IPPROTO_IPV6, c.IPV6_RECVERR, 1);
  if (err !== 0) return fail(fd, `RECVERR: ${c.describeErrno(err)}`);
  return { fd, family, kind: "dgram", kernelId: sockaddrPort(name), receiveBufferBytes: setCommonOptions(fd, rcvbuf) };
}

/**
 * Options both kinds get: kernel receive timestamps (the receiver reads replies in batches;
 * the RTT must not depend on when), and buffers sized for the replies in flight.
 */
function setCommonOptions(fd: number, rcvbuf: number): number {
  const err = c.setIntOption(fd, c.SOL_SOCKET, c.SO_TIMESTAMPNS, 1);
  if (err !== 0) return fail(fd, `SO_TIMESTAMPNS: ${c.describeErrno(err)}`);
  return sizeBuffers(fd, rcvbuf);
}

function fail(fd: number, what: string): never {
  c.libc.close(fd);
  throw new IcmpUnavailableError(what);
}

/** ICMP_FILTER: a bit set means "drop this type". */
function setFilter4(fd: number): number {
  const pass = (1 << ICMP_ECHO_REPLY) | (1 << ICMP_DEST_UNREACH) | (1 << ICMP_TIME_EXCEEDED);
  const mask = new Uint32Array([~pass >>> 0]);
  return c.libc.setsockopt(fd, c.SOL_RAW, c.ICMP_FILTER, mask, 4) === 0 ? 0 : c.errno();
}

/** ICMP6_FILTER: 256 bits, a bit set means "block" (ICMP6_FILTER_SETBLOCKALL, then SETPASS). */
function setFilter6(fd: number): number {
  const filter = new Uint32Array(8).fill(0xffffffff);
  for (const type of [ICMP6_ECHO_REPLY, ICMP6_DEST_UNREACH, ICMP6_TIME_EXCEEDED]) {
    filter[type >> 5]! &= ~(1 << (type & 31));
  }
  return c.libc.setsockopt(fd, c.IPPROTO_ICMPV6, c.ICMP6_FILTER, filter, 32) === 0 ? 0 : c.errno();
}

/**
 * Receive buffer for the replies in flight. SO_RCVBUFFORCE (root/CAP_NET_ADMIN) may exceed
 * net.core.rmem_max; otherwise SO_RCVBUF is capped there. Best effort: a smaller buffer only
 * risks drops under bursts, so failure here is not fatal.
 */
function sizeBuffers(fd: number, rcvbuf: number): number {
  if (c.setIntOption(fd, c.SOL_SOCKET, c.SO_RCVBUFFORCE, rcvbuf) !== 0) c.setIntOption(fd, c.SOL_SOCKET, c.SO_RCVBUF, rcvbuf);
  const sndbuf = Math.min(rcvbuf, 4 << 20);
  if (c.setIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUFFORCE, sndbuf) !== 0) c.setIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUF, sndbuf);
  return c.getIntOption(fd, c.SOL_SOCKET, c.SO_RCVBUF) ?? 0;
}

/** Why a ping socket was refused, in the operator's terms. */
function pingGroupNote(err: number): string {
  if (err !== c.EACCES && err !== c.EPERM) return "";
  let range = "unknown";
  try {
    range = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8").trim().replace(/\s+/, " ");
  } catch {
    // unreadable /proc: say what we can
  }
  const gid = process.getgid?.() ?? "?";
  return ` (group ${gid} is not in net.ipv4.ping_group_range "${range}")`;
}
