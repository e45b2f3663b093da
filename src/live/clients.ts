// The open dashboard sockets: how many each client IP holds (WS_MAX_PER_IP) and how far behind
// each one is. Messages go out through Bun's pub/sub (serialised once for all sockets), so the
// per-socket bound is enforced here: before each publish, a socket whose unsent bytes exceed its
// allowance is cut. It reconnects and starts over from a fresh snapshot, which is both cheaper
// and more correct than queueing without end or silently dropping messages.
import type { ServerWebSocket } from "bun";

/** Unsent bytes a socket may hold beyond the snapshot part it was last sent before it counts as
 *  stuck. Bun drops, without a word, what is published to a socket holding more than its
 *  backpressureLimit (16 MiB by default): this plus one part (~1 MiB) stays well under it, so a
 *  socket is cut here, and reconnects, before Bun would silently lose a change for it. */
export const BACKPRESSURE_LIMIT = 4 * 1024 * 1024;

interface Client {
  ip: string;
  /** The upgrade request's headers: its credentials are checked again when access may have changed. */
  headers: Record<string, string | undefined>;
  /** BACKPRESSURE_LIMIT plus the snapshot part this socket was last sent: a slow link still gets
   *  to download a big part without being cut by the first change that follows it. */
  allowance: number;
  /** Called once the socket has taken what it was sent (or is gone): the next snapshot part waits on it. */
  onTaken?: () => void;
}

export class Clients {
  readonly #all = new Map<ServerWebSocket<unknown>, Client>();
  readonly #perIp = new Map<string, number>();

  constructor(
    private readonly maxPerIp: number,
    private readonly backpressureLimit = BACKPRESSURE_LIMIT,
  ) {}

  get size(): number {
    return this.#all.size;
  }

  /** Registers the socket, or says why not (the reason fits a close frame: < 123 bytes). */
  admit(ws: ServerWebSocket<unknown>, ip: string, headers: Record<string, string | undefined> = {}): string | null {
    const held = this.#perIp.get(ip) ?? 0;
    if (held >= this.maxPerIp) return `too many live connections from ${ip.slice(0, 45)} (WS_MAX_PER_IP=${this.maxPerIp})`;
    this.#perIp.set(ip, held + 1);
    this.#all.set(ws, { ip, headers, allowance: this.backpressureLimit });
    return null;
  }

  has(ws: ServerWebSocket<unknown>): boolean {
    return this.#all.has(ws);
  }

  /** A snapshot part of `bytes` is about to go out: the socket may hold it on top of the limit. */
  sendingPart(ws: ServerWebSocket<unknown>, bytes: number): void {
    const client = this.#all.get(ws);
    if (client) client.allowance = this.backpressureLimit + bytes;
  }

  /** Resolves once the socket has taken everything it was sent, or is gone; at the earliest after
   *  one turn of the event loop, so other requests are answered between snapshot parts. */
  taken(ws: ServerWebSocket<unknown>): Promise<void> {
    const client = this.#all.get(ws);
    if (!client || ws.getBufferedAmount() === 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => (client.onTaken = resolve));
  }

  /** Bun's drain: the socket took some of what waited. */
  drained(ws: ServerWebSocket<unknown>): void {
    const client = this.#all.get(ws);
    if (!client?.onTaken || ws.getBufferedAmount() > 0) return;
    client.onTaken();
    client.onTaken = undefined;
  }

  remove(ws: ServerWebSocket<unknown>): void {
    const client = this.#all.get(ws);
    if (!client) return;
    client.onTaken?.();
    this.#all.delete(ws);
    const held = (this.#perIp.get(client.ip) ?? 1) - 1;
    if (held > 0) this.#perIp.set(client.ip, held);
    else this.#perIp.delete(client.ip);
  }

  /** Cuts every socket that has not taken what it was already sent. Returns how many. */
  dropLagging(): number {
    let dropped = 0;
    for (const ws of [...this.#all.keys()]) if (this.cutIfLagging(ws)) dropped++;
    return dropped;
  }

  /** Cuts this socket if it has not taken what it was already sent (before sending it more). */
  cutIfLagging(ws: ServerWebSocket<unknown>): boolean {
    const client = this.#all.get(ws);
    if (!client || ws.getBufferedAmount() <= client.allowance) return false;
    // terminate, not close: a close frame would queue behind the bytes it is not reading.
    this.remove(ws);
    ws.terminate();
    return true;
  }

  /** Bytes queued in the server for all sockets together (not yet taken by the kernel). */
  bufferedBytes(): number {
    let sum = 0;
    for (const ws of this.#all.keys()) sum += ws.getBufferedAmount();
    return sum;
  }

  /** Every open socket with the headers it was opened with. */
  entries(): [ServerWebSocket<unknown>, Record<string, string | undefined>][] {
    return [...this.#all].map(([ws, c]) => [ws, c.headers]);
  }

  closeAll(code: number, reason: string): void {
    for (const ws of [...this.#all.keys()]) {
      this.remove(ws);
      ws.close(code, reason);
    }
  }
}
