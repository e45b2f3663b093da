// The dashboard's end of /ws/status: connect, take the snapshot, apply numbered events, and on
// any break (server restart, network, a gap in seq, being cut for lagging) reconnect with
// exponential backoff and start over from a fresh snapshot. The browser's session cookie opens the
// socket (same origin); a refused one (401 before the upgrade) looks like any other close, so the
// page asks GET /api/session on every break rather than knocking forever.
import type { MonitoringState } from "../../src/api/health/index.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { LIVE_PROTOCOL, snapshotMachines, type LiveEvent, type ServerMessage } from "../../src/live/protocol.ts";

export type LiveState =
  | { kind: "connecting" }
  | { kind: "connected" }
  | { kind: "reconnecting"; inSeconds: number; reason: string };

export interface LiveHandlers {
  hello(state: MonitoringState & { version: string }): void;
  snapshot(machines: Machine[]): void;
  events(events: LiveEvent[]): void;
  state(state: LiveState): void;
}

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

export function backoffDelay(attempt: number): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  // Jitter: after a server restart, every open dashboard should not knock at the same instant.
  return Math.round(base * (0.5 + Math.random() / 2));
}

/** Words for a close: the server's reason when it gave one. */
export function closeReason(ev: CloseEvent): string {
  if (ev.reason) return ev.reason;
  if (ev.code === 1006) return "connection lost";
  return `closed (${ev.code})`;
}

/** A WebSocket address on this page's own server (the session cookie goes with it). */
export const socketUrl = (path: string) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;

export class LiveConnection {
  #ws: WebSocket | null = null;
  #seq = -1;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(private readonly handlers: LiveHandlers) {}

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000, "dashboard closed");
  }

  #connect(): void {
    clearTimeout(this.#timer);
    this.handlers.state({ kind: "connecting" });
    const ws = new WebSocket(socketUrl("/ws/status"), [LIVE_PROTOCOL]);
    this.#ws = ws;
    this.#seq = -1;
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      this.#receive(ws, JSON.parse(String(ev.data)) as ServerMessage);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#retry(closeReason(ev));
    };
  }

  #receive(ws: WebSocket, msg: ServerMessage): void {
    switch (msg.type) {
      case "hello":
        this.handlers.hello(msg);
        return;
      case "snapshot":
        this.#seq = msg.seq;
        this.#attempt = 0;
        this.handlers.snapshot(snapshotMachines(msg));
        this.handlers.state({ kind: "connected" });
        return;
      case "batch":
        this.#events(ws, msg.events);
        return;
      default:
        this.#events(ws, [msg]);
    }
  }

  #events(ws: WebSocket, events: LiveEvent[]): void {
    const first = events[0];
    if (!first) return;
    if (this.#seq < 0 || first.seq !== this.#seq + 1) {
      // A missed message means the list may be wrong: start over from a snapshot.
      ws.close(4000, "missed an update");
      this.#ws = null;
      this.#retry("missed an update", 0);
      return;
    }
    this.#seq = events[events.length - 1]!.seq;
    this.handlers.events(events);
  }

  #retry(reason: string, delay = backoffDelay(this.#attempt)): void {
    if (this.#stopped) return;
    this.#attempt++;
    this.handlers.state({ kind: "reconnecting", inSeconds: Math.ceil(delay / 1000), reason });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}
