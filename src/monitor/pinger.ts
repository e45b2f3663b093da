// The ICMP engine every caller shares: one socket per address family for all probes, sends on
// the calling thread (sendto is non-blocking), receives in a Worker (receiver.worker.ts).
//
// A probe is matched by family + echo id + sequence + the address that answered. Timeouts are
// decided against the Worker's "watermark" (everything queued before it has been read), not
// the main thread's clock, so a busy main thread can delay a result but never turn a reply
// that arrived in time into a timeout. The Worker is asked for a watermark only when a probe is
// past its deadline (one timer, at the earliest deadline): replies that come in time cost no
// timer and no message beyond their own batch.
import { existsSync } from "node:fs";
import { IN_COMPILED_BINARY } from "../compiled.ts";
import * as c from "./libc.ts";
import { closeIcmpSocket, IcmpUnavailableError, keepOnlyEchoId, openIcmpSocket, type IcmpSocket, type SocketKind } from "./icmp-socket.ts";
import { describeIcmpError, newEchoRequest, setEchoIdSeq } from "./packet.ts";
import { CONTROL_STOP, CONTROL_WANT_WATERMARK, RECORD_BYTES, RECORD_REPLY, RecordBuffer, type ReceiverInit, type ReceiverMessage } from "./receiver-protocol.ts";
import { formatAddress, parseTarget, type Family, type Target } from "./sockaddr.ts";
import { SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN, writeSockaddr } from "./sockaddr.ts";
import { ProbeQueue, TimeoutQueues } from "./probe-queues.ts";

export { IcmpUnavailableError };
export type ProbeOutcome = "reply" | "timeout" | "unreachable";

export interface ProbeResult {
  ip: string;
  outcome: ProbeOutcome;
  rttMs: number | null;
  /** Why, when not a plain reply/timeout: e.g. "host unreachable from 198.18.0.1". */
  detail?: string;
}

export interface PingerOptions {
  /** Probes outstanding at most; more probe() calls wait for a slot, first come first served. */
  maxInFlight: number;
}

export interface PingerStats {
  sent: number;
  replies: number;
  timeouts: number;
  unreachable: number;
  /** Sends that failed for a reason other than "no route" (those count as unreachable). */
  errors: number;
}

/** One probe, from probe() to its result. Kept small: thousands are alive at once. */
export interface Probe {
  ip: string;
  target: Target;
  timeoutMs: number;
  seq: number;
  sentAt: number;
  deadline: number;
  done: boolean;
  resolve: (r: ProbeResult) => void;
}

/** The sending half of one address family. */
class Channel {
  readonly packet: Uint8Array;
  /** sendto's destination, rewritten per send: no allocation per probe. */
  readonly sockaddr: Uint8Array;
  readonly bySeq: (Probe | undefined)[] = new Array(65536);
  private nextSeq = Math.floor(Math.random() * 65536);
  constructor(
    readonly socket: IcmpSocket,
    readonly id: number,
  ) {
    this.packet = newEchoRequest(socket.family);
    this.sockaddr = new Uint8Array(socket.family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
  }

  /** A sequence number no outstanding probe uses (maxInFlight < 65536 guarantees one). */
  claimSeq(p: Probe): number {
    while (this.bySeq[this.nextSeq]) this.nextSeq = (this.nextSeq + 1) & 0xffff;
    const seq = this.nextSeq;
    this.nextSeq = (seq + 1) & 0xffff;
    this.bySeq[seq] = p;
    return seq;
  }
}

/** Echo ids of raw sockets in this process, so two Pingers never share one. */
const idsInUse = new Set<number>();
const MAX_IN_FLIGHT = 60_000;
const READY_TIMEOUT_MS = 5_000;
/** If the Worker ever stops reporting, probes still end: this long past their deadline. */
const FALLBACK_GRACE_MS = 1_000;
const SEND_RETRY_MS = 2;

export class Pinger {
  readonly stats: PingerStats = { sent: 0, replies: 0, timeouts: 0, unreachable: 0, errors: 0 };
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  /** Signalled after a control flag is set: the Worker sleeps on it and the sockets. */
  private readonly wakeFd = c.openWakeFd();
  private readonly waiting = new ProbeQueue();
  private readonly retrying = new ProbeQueue();
  private readonly timeouts = new TimeoutQueues();
  private active = 0;
  private pumping = false;
  private closing: Promise<void> | undefined;
  /** Armed at the earliest deadline of a sent probe while any is pending (it also keeps the
   *  process alive while probes pend). */
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryAt = Infinity;
  /** When a watermark was asked for and not yet received (monotonic ms), else null. */
  private watermarkAskedAt: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private workerFailure: string | undefined;
  private stopped: (() => void) | undefined;

  private constructor(
    private readonly maxInFlight: number,
    private readonly v4: Channel,
    private readonly v6: Channel | undefined,
    /** Why IPv6 probes cannot be sent, when v6 is undefined. */
    readonly ipv6Unavailable: string | undefined,
    private readonly worker: Worker,
  ) {}

  /** Open both sockets and start the receiver. Throws IcmpUnavailableError without ICMP access. */
  static async open(opts: PingerOptions): Promise<Pinger> {
    const workerUrl = receiverWorkerUrl(); // before any socket is opened: it may throw
    if (!(opts.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1, got ${opts.maxInFlight}`);
    const max = Math.min(MAX_IN_FLIGHT, Math.floor(opts.maxInFlight));
    // ~1 KiB of kernel buffer per reply in flight (a small packet's skb costs about that).
    const rcvbuf = Math.max(256 * 1024, max * 1024);
    const s4 = openIcmpSocket(4, rcvbuf);
    let s6: IcmpSocket | undefined;
    let v6Reason: string | undefined;
    try {
      s6 = openIcmpSocket(6, rcvbuf);
    } catch (err) {
      // A host without IPv6 still pings IPv4; v6 probes then say why they cannot be sent.
      v6Reason = (err as Error).message;
    }
    const v4 = new Channel(s4, s4.kernelId ?? claimId());
    const v6 = s6 && new Channel(s6, s6.kernelId ?? claimId());
    for (const ch of [v4, v6]) if (ch) keepOnlyEchoId(ch.socket, ch.id);
    const worker = new Worker(workerUrl);
    const pinger = new Pinger(max, v4, v6, v6Reason, worker);
    await pinger.startReceiver().catch(async (err) => {
      await pinger.close();
      throw err;
    });
    return pinger;
  }

  /** Socket kind of IPv4 (IPv6 normally matches; see `modes`). */
  get mode(): SocketKind {
    return this.v4.socket.kind;
  }

  get modes(): { v4: SocketKind; v6: SocketKind | null } {
    return { v4: this.v4.socket.kind, v6: this.v6?.socket.kind ?? null };
  }

  /** Receive buffer the kernel granted per socket, bytes. */
  get receiveBufferBytes(): number {
    return this.v4.socket.receiveBufferBytes;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Set when the receiver Worker died: probes then end as timeouts. For logs and /health. */
  get receiverFailure(): string | undefined {
    return this.workerFailure;
  }

  /** Ping `ip` once. Resolves with the outcome; rejects only for a malformed address or after close(). */
  probe(ip: string, timeoutMs: number): Promise<ProbeResult> {
    if (this.closing) return Promise.reject(new Error("Pinger is closed"));
    const target = parseTarget(ip, (zone) => c.libc.if_nametoindex(zone));
    if (!target) return Promise.reject(new TypeError(`not an IP address: ${JSON.stringify(ip)}`));
    if (!(timeoutMs > 0 && timeoutMs < Infinity)) return Promise.reject(new RangeError(`timeout must be a positive number of ms, got ${timeoutMs}`));
    if (target.family === 6 && !this.v6) {
      this.stats.unreachable++;
      return Promise.resolve({ ip, outcome: "unreachable", rttMs: null, detail: `IPv6 unavailable: ${this.ipv6Unavailable}` });
    }
    return new Promise((resolve) => {
      const p: Probe = { ip, target, timeoutMs, seq: -1, sentAt: 0, deadline: 0, done: false, resolve };
      this.waiting.push(p);
      this.pump();
    });
  }

  /** Stop the Worker, close both sockets; probes still pending resolve as timeouts. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Start waiting probes while slots are free. Iterative: a failed send frees its slot at once. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    while (this.active < this.maxInFlight && this.waiting.length > 0 && !this.closing) {
      const p = this.waiting.shift()!;
      this.active++;
      const ch = this.channel(p.target.family);
      p.seq = ch.claimSeq(p);
      this.send(p);
    }
    this.pumping = false;
  }

  private send(p: Probe): void {
    const ch = this.channel(p.target.family);
    setEchoIdSeq(ch.packet, p.target.family, ch.id, p.seq);
    const sa = writeSockaddr(ch.sockaddr, p.target);
    p.sentAt = c.monotonicMs();
    const n = c.libc.sendto(ch.socket.fd, ch.packet, ch.packet, c.MSG_DONTWAIT, sa, sa.length);
    if (Number(n) >= 0) {
      this.stats.sent++;
      p.deadline = p.sentAt + p.timeoutMs;
      this.timeouts.add(p);
      this.expireBy(p.deadline);
      return;
    }
    const err = c.errno();
    if (err === c.EAGAIN || err === c.ENOBUFS || err === c.EINTR) {
      if (p.deadline === 0) p.deadline = p.sentAt + p.timeoutMs; // how long it may keep trying
      return this.retryLater(p);
    }
    if (err === c.EHOSTUNREACH || err === c.ENETUNREACH) {
      const why = err === c.EHOSTUNREACH ? "no route to host" : "network unreachable";
      return this.finish(p, "unreachable", null, `${why} (${c.errnoName(err)} on send)`);
    }
    this.stats.errors++;
    this.finish(p, "unreachable", null, `send failed: ${c.describeErrno(err)}`);
  }

  /** The socket's send buffer is full: try again shortly, until the probe's own deadline. */
  private retryLater(p: Probe): void {
    if (c.monotonicMs() >= p.deadline) return this.finish(p, "timeout", null, "send buffer stayed full");
    this.retrying.push(p);
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      const batch = this.retrying.drain();
      for (const q of batch) if (!q.done) this.send(q);
    }, SEND_RETRY_MS);
  }

  private channel(family: Family): Channel {
    return family === 4 ? this.v4 : this.v6!;
  }

  // ---- receiving -----------------------------------------------------------------------------

  private startReceiver(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("ICMP receiver worker did not start")), READY_TIMEOUT_MS);
      this.worker.onmessage = (e: MessageEvent<ReceiverMessage>) => {
        const m = e.data;
        if (m.type === "batch") this.onBatch(m.records, m.count, m.watermark);
        else if (m.type === "ready") (clearTimeout(timer), resolve());
        else if (m.type === "stopped") this.stopped?.();
        else if (m.type === "fatal") this.onWorkerFailure(m.message, reject);
      };
      this.worker.onerror = (e) => this.onWorkerFailure(e.message, reject);
      const sockets = [this.v4, this.v6].filter((ch) => ch !== undefined);
      const init: ReceiverInit = {
        sockets: sockets.map((ch) => ({ fd: ch.socket.fd, family: ch.socket.family, kind: ch.socket.kind, id: ch.id })),
        control: this.control.buffer as SharedArrayBuffer,
        wakeFd: this.wakeFd,
      };
      this.worker.postMessage(init);
      // A Pinger alone never keeps the process alive; pending probes do (their expiry timer).
      // (Bun's Worker has unref(); the DOM lib typings in tsconfig do not know it.)
      (this.worker as unknown as { unref(): void }).unref();
    });
  }

  private onWorkerFailure(message: string, reject: (e: Error) => void): void {
    this.workerFailure = message;
    reject(new Error(`ICMP receiver worker failed: ${message}`));
    this.stopped?.();
  }

  private onBatch(buffer: ArrayBuffer, count: number, watermark: number): void {
    const records = new RecordBuffer(buffer);
    for (let i = 0, at = 0; i < count; i++, at += RECORD_BYTES) this.onRecord(records, at);
    if (this.watermarkAskedAt !== null && watermark >= this.watermarkAskedAt) this.watermarkAskedAt = null;
    this.expire(watermark);
    this.armExpiry();
  }

  private onRecord(records: RecordBuffer, at: number): void {
    const family = records.family(at);
    const ch = family === 4 ? this.v4 : this.v6;
    const p = ch?.id === records.id(at) ? ch.bySeq[records.seq(at)] : undefined;
    // Same id and seq but another address: a reply meant for a different probe or program.
    if (!p || p.done || p.sentAt === 0 || !records.addressIs(at, p.target.bytes)) return;
    if (records.kind(at) === RECORD_REPLY) {
      // Microseconds are what the clock can vouch for, and what every place that shows or stores
      // an RTT then agrees on (the database keeps it as a float4).
      const rtt = Math.round(Math.max(0, records.receivedAt(at) - p.sentAt) * 1000) / 1000;
      // Arrived after the deadline (read late, not yet expired): a timeout, as it would have
      // been had the watermark got there first.
      return rtt <= p.timeoutMs ? this.finish(p, "reply", rtt) : this.finish(p, "timeout", null);
    }
    const r = records.read(at);
    const why = describeIcmpError(family, r.type, r.code);
    this.finish(p, "unreachable", null, r.reporter.length ? `${why} from ${formatAddress(r.reporter)}` : why);
  }

  private expire(upTo: number): void {
    for (const p of this.timeouts.expired(upTo)) this.finish(p, "timeout", null);
  }

  // ---- completion ----------------------------------------------------------------------------

  private finish(p: Probe, outcome: ProbeOutcome, rttMs: number | null, detail?: string): void {
    if (p.done) return;
    p.done = true;
    if (p.seq >= 0) {
      // It held a slot (it was started): free the slot and the sequence number.
      const ch = this.channel(p.target.family);
      if (ch.bySeq[p.seq] === p) ch.bySeq[p.seq] = undefined;
      this.active--;
    }
    if (outcome === "reply") this.stats.replies++;
    else if (outcome === "timeout") this.stats.timeouts++;
    else this.stats.unreachable++;
    p.resolve(detail === undefined ? { ip: p.ip, outcome, rttMs } : { ip: p.ip, outcome, rttMs, detail });
    this.pump();
  }

  // ---- timeouts ------------------------------------------------------------------------------

  /** Make sure the expiry timer fires by `deadline` (a later one fires, finds nothing, re-arms). */
  private expireBy(deadline: number): void {
    if (deadline >= this.expiryAt || this.closing) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = deadline;
    this.expiryTimer = setTimeout(() => this.onExpiryTimer(), Math.max(0, deadline - c.monotonicMs()));
  }

  /** The next time the timer is needed: the earliest pending deadline (to ask the Worker how far
   *  it has read); while an answer is awaited, FALLBACK_GRACE_MS past it (to stop waiting). */
  private armExpiry(): void {
    const earliest = this.timeouts.earliestDeadline();
    if (earliest === undefined) return;
    const asked = this.watermarkAskedAt;
    this.expireBy(asked === null ? earliest : Math.max(earliest, asked) + FALLBACK_GRACE_MS);
  }

  private onExpiryTimer(): void {
    this.expiryTimer = undefined;
    this.expiryAt = Infinity;
    const now = c.monotonicMs();
    // No answer from the Worker (it died, or is stuck): probes still end, FALLBACK_GRACE_MS late.
    if (this.watermarkAskedAt !== null) this.expire(now - FALLBACK_GRACE_MS);
    const earliest = this.timeouts.earliestDeadline();
    if (earliest !== undefined && earliest <= now && this.watermarkAskedAt === null) this.askWatermark(now);
    this.armExpiry();
  }

  /** A probe is past its deadline: has its reply been read? The Worker answers with a watermark. */
  private askWatermark(now: number): void {
    this.watermarkAskedAt = now;
    Atomics.store(this.control, CONTROL_WANT_WATERMARK, 1);
    c.wake(this.wakeFd);
  }

  private async shutDown(): Promise<void> {
    for (const p of [...this.waiting.drain(), ...this.retrying.drain(), ...this.timeouts.drain()]) {
      this.finish(p, "timeout", null, "pinger closed");
    }
    clearTimeout(this.retryTimer);
    clearTimeout(this.expiryTimer);
    const stopped = new Promise<void>((resolve) => (this.stopped = resolve));
    Atomics.store(this.control, CONTROL_STOP, 1);
    c.wake(this.wakeFd);
    // The Worker notices at once; never wait on it forever.
    if (!this.workerFailure) await Promise.race([stopped, Bun.sleep(2_000)]);
    this.worker.terminate();
    c.libc.close(this.wakeFd);
    for (const ch of [this.v4, this.v6]) {
      if (!ch) continue;
      closeIcmpSocket(ch.socket);
      if (ch.socket.kernelId === undefined) idsInUse.delete(ch.id);
    }
  }
}

/**
 * Where the receiver Worker's code is. From source: next to this file. In the compiled binary
 * every module's import.meta.url is the binary's entry (file:///$bunfs/root/vxman), and each
 * extra --compile entrypoint (scripts/build.ts lists this Worker) is embedded at its path
 * relative to the build root, the entrypoints' common folder, with a .js extension.
 */
function receiverWorkerUrl(): string {
  if (!IN_COMPILED_BINARY) return new URL("./receiver.worker.ts", import.meta.url).href;
  const candidates = ["./monitor/receiver.worker.js", "./src/monitor/receiver.worker.js"].map((p) => new URL(p, import.meta.url));
  const found = candidates.find((u) => existsSync(u.pathname));
  if (!found) throw new Error("the ICMP receiver worker is not in this binary: build it with scripts/build.ts, which makes src/monitor/receiver.worker.ts a --compile entrypoint");
  return found.href;
}

function claimId(): number {
  for (;;) {
    const id = 1 + Math.floor(Math.random() * 65535);
    if (!idsInUse.has(id)) return idsInUse.add(id), id;
  }
}
