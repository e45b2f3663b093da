// A dashboard's view of /ws/status for tests: a real WebSocket (Bun's global client) that
// records every frame, flattens batches into events and checks nothing itself.
import type { Machine } from "../../src/api/machines/model.ts";
import { snapshotMachines, type LiveEvent, type ServerMessage } from "../../src/live/protocol.ts";

type Hello = Extract<ServerMessage, { type: "hello" }>;
/** The snapshot as the dashboard reads it: its seq, and its rows as machines. */
interface Snapshot {
  seq: number;
  machines: Machine[];
  /** Its size on the wire (characters of JSON). */
  length: number;
}

export class LiveClient {
  readonly frames: ServerMessage[] = [];
  readonly events: LiveEvent[] = [];
  hello: Hello | undefined;
  snapshot: Snapshot | undefined;
  closeEvent: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      const text = String(ev.data);
      const msg = JSON.parse(text) as ServerMessage;
      this.frames.push(msg);
      if (msg.type === "hello") this.hello = msg;
      else if (msg.type === "snapshot") this.snapshot = { seq: msg.seq, machines: snapshotMachines(msg), length: text.length };
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
