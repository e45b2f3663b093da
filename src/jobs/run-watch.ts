// One live log: a run followed for one socket, from `after` on. A run in this process is served
// from memory: subscribe first (what comes meanwhile waits), then what the database has up to
// that moment, then the chunks not written yet, then the waiting messages, then live. A run on
// another instance (or ended) is served by tailing the database. Either way the client gets each
// chunk once, in seq order, and a reconnect with ?after=<last seq> resumes where it left.
import { chunkMessage, type RunExecution } from "./run-execution.ts";
import type { OutputChunk } from "./run-output.ts";
import type { RunMessage, RunView } from "./run-protocol.ts";
import { countByState, toHost, toSummary, type RunStore } from "./run-store.ts";

export interface WatchSocket {
  /** Sends live (false: the socket was cut for not reading, or is gone). */
  send(msg: RunMessage): boolean;
  /** Sends a catch-up page once the socket has taken most of what it was sent before. */
  sendPaced(msg: RunMessage): Promise<boolean>;
  close(code: number, reason: string): void;
}

/** How often a run on another instance is read again. */
const TAIL_MS = 500;
const PAGE = 500;

export class RunWatch {
  #stopped = false;
  #unsubscribe: () => void = () => {};
  #last: number;

  constructor(
    private readonly runId: number,
    after: number,
    private readonly socket: WatchSocket,
    private readonly store: RunStore,
  ) {
    this.#last = after;
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
  }

  async follow(local: RunExecution | undefined): Promise<void> {
    // Checked and subscribed in one tick: a run that has not ended yet will tell this watch its end.
    if (local && !local.ended) await this.#fromMemory(local);
    else await this.#fromDatabase();
  }

  async #fromMemory(run: RunExecution): Promise<void> {
    const waiting: RunMessage[] = [];
    let live = false;
    this.#unsubscribe = run.subscribe((msg) => (live ? this.#sendLive(msg) : waiting.push(msg)));
    // Same tick as the subscribe: every chunk up to upTo is in the database or in `unwritten`.
    const upTo = run.output.lastSeq;
    const unwritten = run.output.unwritten();
    if (!this.socket.send({ type: "run", run: run.view() })) return this.stop();
    if (!(await this.#catchUp(upTo))) return this.stop();
    if (!(await this.#sendChunks(unwritten.filter((c) => c.seq > this.#last && c.seq <= upTo)))) return this.stop();
    for (const msg of waiting) this.#sendLive(msg);
    live = true;
  }

  async #fromDatabase(): Promise<void> {
    const sentHosts = new Map<number, string>();
    for (let first = true; !this.#stopped; first = false) {
      const row = await this.store.row(this.runId);
      if (!row) return this.socket.close(1011, "the run was deleted");
      const ended = row.status !== "running"; // read before the chunks: once ended, all its output is stored
      const hosts = (await this.store.hosts(this.runId)).map(toHost).map(({ output: _, ...h }) => h);
      const view: RunView = { ...toSummary(row, countByState(hosts)), hosts };
      if (first && !this.socket.send({ type: "run", run: view })) return this.stop();
      const changed = hosts.filter((h) => sentHosts.get(h.machine_id) !== JSON.stringify(h));
      for (const h of hosts) sentHosts.set(h.machine_id, JSON.stringify(h));
      if (!(await this.#catchUp())) return this.stop();
      if (!first && changed.length && !this.socket.send({ type: "hosts", hosts: changed })) return this.stop();
      if (ended) {
        this.socket.send({ type: "end", run: view });
        return this.socket.close(1000, "the run has ended");
      }
      await Bun.sleep(TAIL_MS);
    }
  }

  /** Stored chunks after the last sent (up to upTo), page by page at the socket's pace. */
  async #catchUp(upTo?: number): Promise<boolean> {
    for (;;) {
      if (this.#stopped) return false;
      const page = await this.store.chunks(this.runId, this.#last, upTo, PAGE);
      if (!page.length) return true;
      if (!(await this.#sendChunks(page))) return false;
    }
  }

  async #sendChunks(chunks: OutputChunk[]): Promise<boolean> {
    if (!chunks.length) return true;
    this.#last = chunks.at(-1)!.seq;
    return this.socket.sendPaced({ type: "output", chunks: chunks.map(chunkMessage) });
  }

  #sendLive(msg: RunMessage): void {
    if (this.#stopped) return;
    if (msg.type === "output") {
      const chunks = msg.chunks.filter((c) => c.seq > this.#last);
      if (!chunks.length) return;
      this.#last = chunks.at(-1)!.seq;
      msg = { type: "output", chunks };
    }
    if (!this.socket.send(msg)) return this.stop();
    if (msg.type === "end") this.socket.close(1000, "the run has ended");
  }
}
