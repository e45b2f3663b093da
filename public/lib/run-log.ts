// The run page's end of WS /ws/runs/{id}: the run and its hosts, then every output chunk in seq
// order, live. On a break it reconnects with ?after=<last seq> and gets only what it missed
// (chunks it already has are dropped, should any come twice). The session cookie opens the socket,
// as for /ws/status; the server closes with 1000 once the run has ended and everything is sent.
import { LIVE_PROTOCOL } from "../../src/live/protocol.ts";
import type { HostView, OutputMessageChunk, RunMessage, RunView } from "./jobs.ts";
import { backoffDelay, closeReason, socketUrl, type LiveState } from "./live.ts";

/** One line of a host's output, as shown: complete, or the last one still being written. */
export interface LogLine {
  machine_id: number;
  stream: "stdout" | "stderr";
  text: string;
}

/**
 * Every host's output as lines, in the order of seq. A chunk may end in the middle of a line:
 * that host's line stays open until its newline comes (other hosts' lines go on meanwhile).
 */
export class RunOutput {
  readonly lines: LogLine[] = [];
  lastSeq = 0;
  /** Bumped on every change, for the page to redraw. */
  version = 0;
  readonly #open = new Map<number, LogLine>();

  /** Adds chunks newer than those seen; returns how many were new. */
  add(chunks: OutputMessageChunk[]): number {
    let added = 0;
    for (const c of chunks) {
      if (c.seq <= this.lastSeq) continue;
      this.lastSeq = c.seq;
      added++;
      const pieces = c.text.split("\n");
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        if (last && piece === "") return;
        let line = this.#open.get(c.machine_id);
        if (line && line.stream === c.stream) line.text += piece;
        else {
          line = { machine_id: c.machine_id, stream: c.stream, text: piece };
          this.lines.push(line);
        }
        if (last) this.#open.set(c.machine_id, line);
        else this.#open.delete(c.machine_id);
      });
    }
    if (added) this.version++;
    return added;
  }
}

export interface RunLogHandlers {
  run(run: RunView): void;
  output(): void;
  hosts(hosts: HostView[]): void;
  end(run: RunView): void;
  state(state: LiveState): void;
}

export class RunLog {
  readonly output = new RunOutput();
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #ended = false;

  constructor(
    private readonly runId: number,
    private readonly handlers: RunLogHandlers,
  ) {}

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000, "page closed");
  }

  #connect(): void {
    this.handlers.state({ kind: "connecting" });
    const after = this.output.lastSeq ? `?after=${this.output.lastSeq}` : "";
    const ws = new WebSocket(socketUrl(`/ws/runs/${this.runId}${after}`), [LIVE_PROTOCOL]);
    this.#ws = ws;
    ws.onmessage = (ev) => this.#ws === ws && this.#receive(JSON.parse(String(ev.data)) as RunMessage);
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (this.#ended || this.#stopped) return;
      const delay = backoffDelay(this.#attempt++);
      this.handlers.state({ kind: "reconnecting", inSeconds: Math.ceil(delay / 1000), reason: closeReason(ev) });
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
  }

  #receive(msg: RunMessage): void {
    switch (msg.type) {
      case "run":
        this.#attempt = 0;
        this.handlers.state({ kind: "connected" });
        this.handlers.run(msg.run);
        return;
      case "output":
        if (this.output.add(msg.chunks)) this.handlers.output();
        return;
      case "hosts":
        this.handlers.hosts(msg.hosts);
        return;
      case "end":
        this.#ended = true;
        this.handlers.end(msg.run);
    }
  }
}
