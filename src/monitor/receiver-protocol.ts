// Between the pinger (main thread) and its receiver Worker (receiver.worker.ts).
// Replies cross as fixed-size records in one transferable ArrayBuffer per batch: no per-reply
// objects cross the thread boundary. Control goes the other way through shared memory.
import type { Family } from "./sockaddr.ts";


export const CONTROL_STOP = 0;
/** Set (then the wake fd signalled) when the main thread has probes past their deadline: the
 *  receiver then posts how far it has read (a watermark), even with no records to post. */
export const CONTROL_WANT_WATERMARK = 1;

export interface ReceiverSocket {
  fd: number;
  family: Family;
  kind: "raw" | "dgram";
  /** Our echo id on this socket: the Worker drops records for other ids (other pingers). */
  id: number;
}

export interface ReceiverInit {
  sockets: ReceiverSocket[];
  /** Int32Array over a SharedArrayBuffer: [CONTROL_STOP, CONTROL_WANT_WATERMARK]. */
  control: SharedArrayBuffer;
  /** An eventfd the main thread signals after setting a control flag: the receiver sleeps in
   *  poll() on it and the sockets, with no timeout, so an idle receiver never wakes. */
  wakeFd: number;
}

export type ReceiverMessage =
  | { type: "ready" }
  /** watermark: every packet queued before it has been read (this batch or earlier). */
  | { type: "batch"; count: number; records: ArrayBuffer; watermark: number }
  | { type: "stopped" }
  | { type: "fatal"; message: string };

export const RECORD_BYTES = 48;
export const RECORD_REPLY = 1;
export const RECORD_ERROR = 2;

export interface ReceivedRecord {
  kind: typeof RECORD_REPLY | typeof RECORD_ERROR;
  family: Family;
  id: number;
  seq: number;
  /** Arrival time on the monotonic clock (libc.monotonicMs): the kernel's timestamp, converted. */
  receivedAt: number;
  /** Reply: who answered. Error: where the original request was going. */
  address: Uint8Array;
  /** Error: ICMP type/code (0/0 for a local error) and who reported it (may be empty). */
  type: number;
  code: number;
  reporter: Uint8Array;
}

/** Records in one batch buffer, read and written in place (nothing allocated per reply). */
export class RecordBuffer {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: ArrayBuffer) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  kind = (at: number) => this.bytes[at]!;
  family = (at: number): Family => (this.bytes[at + 1] === 6 ? 6 : 4);
  id = (at: number) => this.view.getUint16(at + 4);
  seq = (at: number) => this.view.getUint16(at + 6);
  receivedAt = (at: number) => this.view.getFloat64(at + 8);

  /** Does the record's address (reply: who answered; error: the request's destination) equal `addr`? */
  addressIs(at: number, addr: Uint8Array): boolean {
    for (let i = 0; i < addr.length; i++) if (this.bytes[at + 16 + i] !== addr[i]) return false;
    return true;
  }

  write(at: number, r: ReceivedRecord): void {
    const b = this.bytes;
    b[at] = r.kind;
    b[at + 1] = r.family;
    b[at + 2] = r.type;
    b[at + 3] = r.code;
    this.view.setUint16(at + 4, r.id);
    this.view.setUint16(at + 6, r.seq);
    this.view.setFloat64(at + 8, r.receivedAt);
    b.fill(0, at + 16, at + RECORD_BYTES);
    b.set(r.address.length > 16 ? r.address.subarray(0, 16) : r.address, at + 16);
    b.set(r.reporter.length > 16 ? r.reporter.subarray(0, 16) : r.reporter, at + 32);
  }

  read(at: number): ReceivedRecord {
    const family = this.family(at);
    const len = family === 4 ? 4 : 16;
    const reporter = this.bytes.slice(at + 32, at + 32 + len);
    return {
      kind: this.kind(at) === RECORD_ERROR ? RECORD_ERROR : RECORD_REPLY,
      family,
      type: this.bytes[at + 2]!,
      code: this.bytes[at + 3]!,
      id: this.id(at),
      seq: this.seq(at),
      receivedAt: this.receivedAt(at),
      address: this.bytes.slice(at + 16, at + 16 + len),
      reporter: reporter.some((b) => b !== 0) ? reporter : new Uint8Array(0),
    };
  }
}
