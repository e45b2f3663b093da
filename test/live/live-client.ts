// A dashboard's view of /ws/status for tests: a real WebSocket (Bun's global client) that
// records every frame, puts the snapshot's parts together (as the page does, with the protocol's
// SnapshotReader), flattens batches into events and checks nothing itself.
import type { Machine } from "../../src/api/machines/model.ts";
import { SnapshotReader, type LiveEvent, type ServerMessage, type SnapshotOrder } from "../../src/live/protocol.ts";

type Hello = Extract<ServerMessage, { type: "hello" }>;
/** The snapshot as the dashboard reads it, once its last part is in: its seq, and its rows as machines. */
interface Snapshot {
  seq: number;
  machines: Machine[];
  /** Its size on the wire (characters of JSON, all parts). */
  length: number;
  /** How many messages it came in. */
  parts: number;
  /** The order the server says the rows are in. */
  order: SnapshotOrder | undefined;
}

export class LiveClient {
  readonly frames: ServerMessage[] = [];
  readonly events: LiveEvent[] = [];
  hello: Hello | undefined;
  snapshot: Snapshot | undefined;
  /** A snapshot part that did not fit the snapshot being read (the page would start over). */
  strayPart = false;
  #reader: SnapshotReader | null = null;
  #parts = { count: 0, length: 0 };
  closeEvent: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      const text = String(ev.data);
      const msg = JSON.parse(text) as ServerMessage;
      this.frames.push(msg);
      if (msg.type === "hello") this.hello = msg;
      else if (msg.type === "snapshot") {
        this.#reader = new SnapshotReader(msg);
        this.#parts = { count: 0, length: 0 };
        this.#part(text, true);
      } else if (msg.type === "snapshot_rows") this.#part(text, this.#reader?.add(msg) ?? false);
      else if (this.#reader) this.#reader.heldEvents.push(...(msg.type === "batch" ? msg.events : [msg]));
      else if (msg.type === "batch") this.events.push(...msg.events);
      else this.events.push(msg);
    };
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        this.closeEvent = { code: ev.code, reason: ev.reason };
        resolve(this.closeEvent);
      });
    });
  }

  #part(text: string, fits: boolean): void {
    const reader = this.#reader;
    if (!fits || !reader) {
      this.strayPart = true;
      return;
    }
    this.#parts = { count: this.#parts.count + 1, length: this.#parts.length + text.length };
    if (!reader.complete) return;
    this.#reader = null;
    this.snapshot = { seq: reader.seq, machines: reader.machines, length: this.#parts.length, parts: this.#parts.count, order: reader.order };
    this.events.push(...reader.heldEvents);
  }

  /** Opens a socket; resolves once it is open (or closed without opening). */
  static async open(url: string, init?: string[] | { headers: Record<string, string> }): Promise<LiveClient> {
    const ws = Array.isArray(init) || init === undefined ? new WebSocket(url, init) : new WebSocket(url, init as never);
    const client = new LiveClient(ws);
    await Promise.race([new Promise((resolve) => ws.addEventListener("open", resolve)), client.closed]);
    return client;
  }

  /** Opens a socket and waits for hello + snapshot (`ms`: longer for a big fleet on a busy machine). */
  static async connect(url: string, init?: string[] | { headers: Record<string, string> }, ms?: number): Promise<LiveClient> {
    const client = await LiveClient.open(url, init);
    await client.waitFor(() => client.snapshot !== undefined, "hello + snapshot", ms);
    return client;
  }

  /** Waits (bounded) until `done()` holds, checking after every frame and every 10 ms. */
  async waitFor(done: () => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (this.closeEvent && !done()) throw new Error(`socket closed (${this.closeEvent.code} ${this.closeEvent.reason}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms (${this.frames.length} frames, ${this.events.length} events)`);
      await Bun.sleep(10);
    }
  }

  close(): void {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, "test done");
  }
}

/** What the server answers a WebSocket upgrade request, as plain HTTP (status and JSON body). */
export async function upgradeAnswer(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
  });
  const body = res.status === 101 ? null : await res.json().catch(() => null);
  return { status: res.status, body };
}
