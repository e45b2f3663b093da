// The dashboard's end of /ws/status: connect, take the snapshot, apply numbered events, and on
// any break (server restart, network, a gap in seq, being cut for lagging) reconnect with
// exponential backoff and start over from a fresh snapshot. The browser's session cookie opens the
// socket (same origin); a refused one (401 before the upgrade) looks like any other close, so the
// page asks GET /api/session on every break rather than knocking forever.
import type { MonitoringState } from "../../src/api/health/index.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { LIVE_PROTOCOL, SnapshotReader, type LiveEvent, type ServerMessage, type SnapshotOrder } from "../../src/live/protocol.ts";

export type LiveState =
  | { kind: "connecting" }
  | { kind: "connected" }
  | { kind: "reconnecting"; inSeconds: number; reason: string };

export interface LiveHandlers {
  hello(state: MonitoringState & { version: string }): void;
  /** Every machine, in `order` when the server promises one. */
  snapshot(machines: Machine[], order: SnapshotOrder | undefined): void;
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
  /** The snapshot being received, part by part (null once it is whole). */
  #reader: SnapshotReader | null = null;
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
    performance.mark("vxman:socket");
    const ws = new WebSocket(socketUrl("/ws/status"), [LIVE_PROTOCOL]);
    this.#ws = ws;
    this.#seq = -1;
    this.#reader = null;
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
        performance.mark("vxman:snapshot-first-part");
        this.#reader = new SnapshotReader(msg);
        this.#snapshotPart(ws, true);
        return;
      case "snapshot_rows":
        this.#snapshotPart(ws, this.#reader?.add(msg) ?? false);
        return;
      case "batch":
        this.#events(ws, msg.events);
        return;
      default:
        this.#events(ws, [msg]);
    }
  }

  /** A part of the snapshot came (`fits`: it belonged to the one being read); once the last is in,
   *  the list is shown and the events held meanwhile are applied. */
  #snapshotPart(ws: WebSocket, fits: boolean): void {
    const reader = this.#reader;
    if (!fits || !reader) return this.#startOver(ws, "snapshot parts out of order");
    if (!reader.complete) return;
    this.#reader = null;
    this.#seq = reader.seq;
    this.#attempt = 0;
    performance.mark("vxman:snapshot-whole");
    this.handlers.snapshot(reader.machines, reader.order);
    performance.mark("vxman:snapshot-stored");
    this.handlers.state({ kind: "connected" });
    this.#events(ws, reader.heldEvents);
  }

  #events(ws: WebSocket, events: LiveEvent[]): void {
    if (this.#reader) {
      for (const e of events) this.#reader.heldEvents.push(e);
      return;
    }
    const first = events[0];
    if (!first) return;
    // A missed message means the list may be wrong: start over from a snapshot.
    if (this.#seq < 0 || first.seq !== this.#seq + 1) return this.#startOver(ws, "missed an update");
    this.#seq = events[events.length - 1]!.seq;
    this.handlers.events(events);
  }

  #startOver(ws: WebSocket, reason: string): void {
    ws.close(4000, reason);
    this.#ws = null;
    this.#retry(reason, 0);
  }

  #retry(reason: string, delay = backoffDelay(this.#attempt)): void {
    if (this.#stopped) return;
    this.#attempt++;
    this.handlers.state({ kind: "reconnecting", inSeconds: Math.ceil(delay / 1000), reason });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}
