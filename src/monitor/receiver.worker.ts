// The receive side of the ICMP engine, on its own thread: a blocking poll/recvmmsg loop that
// hands the main thread batches of fixed-size records. Whatever the main thread is doing (a
// long GC, a big JSON response), replies are read here, so the socket buffers never fill.
//
// RTTs come from the kernel's arrival timestamp of each packet (SO_TIMESTAMPNS), moved onto
// the monotonic clock the main thread stamps sends with. So neither a busy main thread nor
// this loop's own batching (it lets a burst gather for COALESCE_MS, then reads it with a few
// recvmmsg calls) adds to a measured RTT.
//
// It wakes only for work: a reply (the sockets' kernel filter drops other programs' replies,
// icmp-socket.ts), or the main thread's signal on an eventfd. The loop never returns to this
// Worker's event loop, so the signal comes with flags in shared memory: CONTROL_STOP asks it to
// stop; CONTROL_WANT_WATERMARK asks how far it has read (the watermark that expires timeouts on
// the main thread, which asks only when a probe is past its deadline).
import { ptr } from "bun:ffi";
import * as c from "./libc.ts";
import { ICMP6_ECHO_REQUEST, ICMP_ECHO_REQUEST, parseExtendedError, parseIcmp } from "./packet.ts";
import { CONTROL_STOP, CONTROL_WANT_WATERMARK, RECORD_BYTES, RECORD_ERROR, RECORD_REPLY, RecordBuffer } from "./receiver-protocol.ts";
import type { ReceivedRecord, ReceiverInit, ReceiverMessage, ReceiverSocket } from "./receiver-protocol.ts";
import { sockaddrAddress } from "./sockaddr.ts";

/** How long a burst may gather before it is read and posted: delays results, never RTTs. */
const COALESCE_MS = 1;
const BATCH_RECORDS = 256;
/** recvmmsg calls per socket per pass, so one flooded socket cannot starve the other. */
const DRAIN_CALLS = 32;
const EMPTY = new Uint8Array(0);

declare var self: Worker;

self.onmessage = (event: MessageEvent<ReceiverInit>) => {
  self.onmessage = null;
  try {
    new Receiver(event.data).run();
    self.postMessage({ type: "stopped" } satisfies ReceiverMessage);
  } catch (err) {
    self.postMessage({ type: "fatal", message: String((err as Error)?.stack ?? err) } satisfies ReceiverMessage);
  }
};

class Receiver {
  private readonly control: Int32Array;
  private readonly pollfds: Int32Array;
  private readonly pollEvents: Int16Array;
  private readonly pollTimeout = new Uint32Array(4); // struct timespec
  private readonly packets = new PacketReader();
  private readonly errQueue = new ErrorQueueReader();
  private readonly batch = new RecordBuffer(new ArrayBuffer(BATCH_RECORDS * RECORD_BYTES));
  private count = 0;

  constructor(private readonly init: ReceiverInit) {
    this.control = new Int32Array(init.control);
    // struct pollfd { int fd; short events; short revents; }, one per socket and the wake fd last
    const fds = [...init.sockets.map((s) => s.fd), init.wakeFd];
    this.pollfds = new Int32Array(fds.length * 2);
    this.pollEvents = new Int16Array(this.pollfds.buffer);
    fds.forEach((fd, i) => {
      this.pollfds[i * 2] = fd;
      this.pollEvents[i * 4 + 2] = c.POLLIN;
    });
  }

  run(): void {
    self.postMessage({ type: "ready" } satisfies ReceiverMessage);
    let watermark = c.monotonicMs();
    let wanted = false;
    while (Atomics.load(this.control, CONTROL_STOP) === 0) {
      this.poll(null);
      if (this.woken()) wanted = Atomics.exchange(this.control, CONTROL_WANT_WATERMARK, 0) === 1 || wanted;
      let polledAt = c.monotonicMs();
      let complete = this.drainReady();
      if (this.count > 0) {
        // Replies come in bursts: let this one gather, then read all of it in a few calls.
        c.sleepMs(COALESCE_MS);
        this.poll(0);
        polledAt = c.monotonicMs();
        complete = this.drainReady();
      }
      // Everything queued before polledAt has been read, unless a drain stopped early.
      if (complete) watermark = polledAt;
      if (this.count > 0 || (wanted && complete)) this.post(watermark);
      if (complete) wanted = false;
    }
  }

  /** Wait for the sockets or the wake fd; null: as long as it takes. */
  private poll(ms: number | null): void {
    if (ms !== null) {
      this.pollTimeout[0] = Math.floor(ms / 1000);
      this.pollTimeout[2] = Math.round((ms % 1000) * 1e6);
    }
    if (c.libc.ppoll(this.pollfds, this.pollfds.length / 2, ms === null ? null : this.pollTimeout, null) < 0) {
      const err = c.errno();
      if (err !== c.EINTR) throw new Error(`ppoll: ${c.describeErrno(err)}`);
    }
  }

  /** Whether the main thread signalled (the signal is cleared). */
  private woken(): boolean {
    const last = this.init.sockets.length;
    if (!(this.pollEvents[last * 4 + 3]! & c.POLLIN)) return false;
    c.clearWake(this.init.wakeFd);
    return true;
  }

  /** Read every socket poll() found ready; false when a socket had more than one pass reads. */
  private drainReady(): boolean {
    let complete = true;
    this.init.sockets.forEach((s, i) => {
      const revents = this.pollEvents[i * 4 + 3]!;
      if (revents & c.POLLIN) complete = this.drainPackets(s) && complete;
      if (revents & c.POLLERR) complete = this.drainErrors(s) && complete;
    });
    return complete;
  }

  private drainPackets(s: ReceiverSocket): boolean {
    const withIpHeader = s.kind === "raw" && s.family === 4;
    for (let call = 0; call < DRAIN_CALLS; call++) {
      const n = this.packets.read(s.fd);
      for (let i = 0; i < n; i++) {
        const msg = parseIcmp(this.packets.data(i), s.family, withIpHeader);
        if (!msg || msg.id !== s.id) continue; // not an answer to us (other pingers, other programs)
        const receivedAt = this.packets.receivedAt(i);
        const from = sockaddrAddress(this.packets.name(i));
        if (msg.kind === "reply") this.add({ kind: RECORD_REPLY, family: s.family, id: msg.id, seq: msg.seq, receivedAt, address: from, type: 0, code: 0, reporter: EMPTY });
        else this.add({ kind: RECORD_ERROR, family: s.family, id: msg.id, seq: msg.seq, receivedAt, address: msg.destination, type: msg.type, code: msg.code, reporter: from });
      }
      if (n < PacketReader.SLOTS) return true; // a short read: the queue was empty
    }
    return false;
  }

  /** A ping socket's ICMP errors, from its error queue (see packet.ts parseExtendedError). */
  private drainErrors(s: ReceiverSocket): boolean {
    const request = s.family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
    for (let i = 0; i < DRAIN_CALLS; i++) {
      const e = this.errQueue.read(s.fd);
      if (e === "empty") return true;
      if (!e?.icmp) continue; // a local error (no ICMP type to report): the probe times out
      const echo = e.data; // our echo request, as sent
      if (echo.length < 8 || echo[0] !== request || ((echo[4]! << 8) | echo[5]!) !== s.id) continue;
      const seq = (echo[6]! << 8) | echo[7]!;
      this.add({ kind: RECORD_ERROR, family: s.family, id: s.id, seq, receivedAt: e.receivedAt, address: e.destination, type: e.icmp.type, code: e.icmp.code, reporter: e.offender ?? EMPTY });
    }
    return false;
  }

  private add(r: ReceivedRecord): void {
    this.batch.write(this.count * RECORD_BYTES, r);
    // A full batch mid-drain goes out at once, without a watermark (the drain is not finished).
    if (++this.count === BATCH_RECORDS) this.post(-Infinity);
  }

  /** Post the records held (a copy sized to them, transferred) and how far reading has got. */
  private post(watermark: number): void {
    const records = this.batch.buffer.slice(0, this.count * RECORD_BYTES) as ArrayBuffer;
    self.postMessage({ type: "batch", count: this.count, records, watermark } satisfies ReceiverMessage, [records]);
    this.count = 0;
  }
}

const u64 = (view: BigUint64Array, at: number, value: number) => (view[at] = BigInt(value));

/**
 * recvmmsg over SLOTS fixed buffers: struct mmsghdr[SLOTS] (msghdr + msg_len, 64 bytes each),
 * one iovec, sockaddr and control buffer per slot. Built once; only the in/out lengths are
 * reset per call.
 */
class PacketReader {
  static readonly SLOTS = 64;
  private static readonly DATA = 1024; // an error quoting our whole request fits (Linux quotes ≤ 576)
  private static readonly NAME = 32;
  private static readonly CONTROL = 64;
  private readonly bytes = new Uint8Array(PacketReader.SLOTS * (PacketReader.DATA + PacketReader.NAME + PacketReader.CONTROL));
  private readonly headers = new ArrayBuffer(PacketReader.SLOTS * 64);
  private readonly header32 = new Uint32Array(this.headers);
  private readonly iovecs = new BigUint64Array(PacketReader.SLOTS * 2);
  private readonly controlView = new DataView(this.bytes.buffer);
  /** realtime minus monotonic, measured per read: converts kernel timestamps. */
  private clockOffset = 0;

  constructor() {
    const S = PacketReader;
    const base = ptr(this.bytes);
    const h = new BigUint64Array(this.headers);
    for (let i = 0; i < S.SLOTS; i++) {
      u64(this.iovecs, i * 2, base + this.dataAt(i));
      u64(this.iovecs, i * 2 + 1, S.DATA);
      u64(h, i * 8, base + this.nameAt(i)); // msg_name
      u64(h, i * 8 + 2, ptr(this.iovecs) + i * 16); // msg_iov
      u64(h, i * 8 + 3, 1); // msg_iovlen
      u64(h, i * 8 + 4, base + this.controlAt(i)); // msg_control
    }
  }

  /** Messages read (0 when none were waiting). */
  read(fd: number): number {
    for (let i = 0; i < PacketReader.SLOTS; i++) {
      this.header32[i * 16 + 2] = PacketReader.NAME; // msg_namelen
      this.header32[i * 16 + 10] = PacketReader.CONTROL; // msg_controllen (low half)
    }
    const n = c.libc.recvmmsg(fd, this.header32, PacketReader.SLOTS, c.MSG_DONTWAIT, null);
    this.clockOffset = c.realtimeMs() - c.monotonicMs();
    return n > 0 ? n : 0;
  }

  data(i: number): Uint8Array {
    const len = this.header32[i * 16 + 14]!; // msg_len
    return this.bytes.subarray(this.dataAt(i), this.dataAt(i) + Math.min(len, PacketReader.DATA));
  }

  name(i: number): Uint8Array {
    return this.bytes.subarray(this.nameAt(i), this.nameAt(i) + PacketReader.NAME);
  }

  /** Kernel arrival time on the monotonic clock; "now" if the timestamp is missing. */
  receivedAt(i: number): number {
    const at = this.controlAt(i);
    const v = this.controlView;
    const len = this.header32[i * 16 + 10]!;
    if (len < 32 || v.getInt32(at + 8, true) !== c.SOL_SOCKET || v.getInt32(at + 12, true) !== c.SO_TIMESTAMPNS) return c.monotonicMs();
    const sec = v.getUint32(at + 16, true) + v.getUint32(at + 20, true) * 2 ** 32;
    return sec * 1000 + v.getUint32(at + 24, true) / 1e6 - this.clockOffset;
  }

  private dataAt = (i: number) => i * PacketReader.DATA;
  private nameAt = (i: number) => PacketReader.SLOTS * PacketReader.DATA + i * PacketReader.NAME;
  private controlAt = (i: number) => PacketReader.SLOTS * (PacketReader.DATA + PacketReader.NAME) + i * PacketReader.CONTROL;
}

/** recvmsg(MSG_ERRQUEUE) with a msghdr built once over fixed buffers. */
class ErrorQueueReader {
  private readonly name = new Uint8Array(28);
  private readonly data = new Uint8Array(512);
  private readonly control = new Uint8Array(512);
  private readonly iov = new BigUint64Array(2);
  // struct msghdr: name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad)
  private readonly msg = new BigUint64Array(7);

  constructor() {
    u64(this.iov, 0, ptr(this.data));
    u64(this.iov, 1, this.data.length);
    u64(this.msg, 0, ptr(this.name));
    u64(this.msg, 2, ptr(this.iov));
    u64(this.msg, 3, 1);
    u64(this.msg, 4, ptr(this.control));
  }

  read(fd: number) {
    u64(this.msg, 1, this.name.length);
    u64(this.msg, 5, this.control.length);
    u64(this.msg, 6, 0);
    const n = Number(c.libc.recvmsg(fd, this.msg, c.MSG_ERRQUEUE | c.MSG_DONTWAIT));
    if (n < 0) return c.errno() === c.EAGAIN ? ("empty" as const) : undefined;
    const receivedAt = c.monotonicMs(); // errors are rare and RTT-less: "now" is good enough
    const err = parseExtendedError(this.control, Number(this.msg[5]));
    if (!err) return undefined;
    return { ...err, receivedAt, data: this.data.subarray(0, n), destination: sockaddrAddress(this.name).slice() };
  }
}
