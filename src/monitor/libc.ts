// The few libc calls the ICMP engine needs, through bun:ffi (one dlopen per thread: the main
// thread sends, the receiver Worker receives, each with its own copy of this module).
//
// Linux x86_64/aarch64 only: the constants and struct layouts below are Linux's.
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

// ssize_t results as i64_fast: a plain number (no BigInt) for every value these calls return.
const lib = dlopen("libc.so.6", {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  sendto: { args: ["i32", "buffer", "buffer_length", "i32", "ptr", "u32"], returns: FFIType.i64_fast },
  recvfrom: { args: ["i32", "buffer", "buffer_length", "i32", "ptr", "ptr"], returns: FFIType.i64_fast },
  recvmsg: { args: ["i32", "ptr", "i32"], returns: FFIType.i64_fast },
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  ppoll: { args: ["ptr", "u64", "ptr", "ptr"], returns: "i32" },
  clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  nanosleep: { args: ["ptr", "ptr"], returns: "i32" },
  if_nametoindex: { args: ["cstring"], returns: "u32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast },
  write: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast },
  strerror: { args: ["i32"], returns: "cstring" },
  __errno_location: { args: [], returns: "ptr" },
});

export const libc = lib.symbols;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const SOL_SOCKET = 1;
export const SOL_RAW = 255;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_TIMESTAMPNS = 35; // also the control message type (SCM_TIMESTAMPNS)
export const SO_ATTACH_FILTER = 26;
export const ICMP_FILTER = 1; // SOL_RAW, IPv4 raw sockets
export const ICMP6_FILTER = 1; // IPPROTO_ICMPV6
export const IP_RECVERR = 11;
export const IPV6_RECVERR = 25;
export const MSG_DONTWAIT = 0x40;
export const MSG_ERRQUEUE = 0x2000;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;

export const EPERM = 1;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EINVAL = 22;
export const EPROTONOSUPPORT = 93;
export const EAFNOSUPPORT = 97;
export const ENETUNREACH = 101;
export const ENOBUFS = 105;
export const EHOSTUNREACH = 113;

const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: "EPERM", [EINTR]: "EINTR", [EAGAIN]: "EAGAIN", [EACCES]: "EACCES", [EINVAL]: "EINVAL",
  [EPROTONOSUPPORT]: "EPROTONOSUPPORT", [EAFNOSUPPORT]: "EAFNOSUPPORT", [ENETUNREACH]: "ENETUNREACH",
  [ENOBUFS]: "ENOBUFS", [EHOSTUNREACH]: "EHOSTUNREACH",
};

// errno is thread-local: the pointer is fetched once per thread (each thread loads this module).
let errnoPtr: Pointer | null = null;

/** errno of the last failed libc call on this thread. Read it right after the call. */
export function errno(): number {
  errnoPtr ??= lib.symbols.__errno_location() as Pointer | null;
  return errnoPtr === null ? 0 : read.i32(errnoPtr, 0);
}

/** "EPERM" (or "errno 71" for one we have no name for). */
export function errnoName(code: number): string {
  return ERRNO_NAMES[code] ?? `errno ${code}`;
}

/** "EPERM (Operation not permitted)". */
export function describeErrno(code: number): string {
  return `${errnoName(code)} (${lib.symbols.strerror(code) ?? "unknown error"})`;
}

// Two u32 halves per field: reading the BigInt64 pair would allocate two BigInts per call.
const timespec = new Uint32Array(4);

/**
 * CLOCK_MONOTONIC in milliseconds: the one clock both threads share. A send timestamp taken on
 * the main thread and a receive timestamp taken in the Worker are comparable, and neither
 * moves with wall-clock adjustments. (performance.now() and Bun.nanoseconds() count from each
 * thread's own start, so they are not comparable across threads.)
 */
export function monotonicMs(): number {
  return clockMs(CLOCK_MONOTONIC);
}

/** CLOCK_REALTIME in ms: the clock of kernel packet timestamps (SO_TIMESTAMPNS). */
export function realtimeMs(): number {
  return clockMs(CLOCK_REALTIME);
}

function clockMs(clock: number): number {
  lib.symbols.clock_gettime(clock, timespec);
  return (timespec[0]! + timespec[1]! * 2 ** 32) * 1000 + timespec[2]! / 1e6;
}

const sleepFor = new Uint32Array(4);

/** Block this thread (only ever the receiver Worker's) for `ms`. */
export function sleepMs(ms: number): void {
  sleepFor[0] = Math.floor(ms / 1000);
  sleepFor[2] = Math.round((ms % 1000) * 1e6);
  lib.symbols.nanosleep(sleepFor, null);
}

/** setsockopt with an int value; returns 0 or the errno. */
export function setIntOption(fd: number, level: number, name: number, value: number): number {
  const rc = lib.symbols.setsockopt(fd, level, name, new Int32Array([value]), 4);
  return rc === 0 ? 0 : errno();
}

export function getIntOption(fd: number, level: number, name: number): number | undefined {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  return lib.symbols.getsockopt(fd, level, name, value, len) === 0 ? value[0] : undefined;
}

const one = new BigUint64Array([1n]);
const drained = new BigUint64Array(1);

/** A non-blocking eventfd: another thread's poll() wakes when it is signalled (wake), until
 *  it is cleared (clearWake). */
export function openWakeFd(): number {
  const fd = lib.symbols.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw new Error(`eventfd: ${describeErrno(errno())}`);
  return fd;
}

export function wake(fd: number): void {
  lib.symbols.write(fd, one, 8);
}

export function clearWake(fd: number): void {
  lib.symbols.read(fd, drained, 8);
}
