// A run's output on its way from the SSH channels to the database and the live log. Pieces are
// collected per host in arrival order; every CUT_MS they are cut into chunks (consecutive pieces
// of one stream together, at most MAX_CHUNK_BYTES each), each numbered with the run's next
// sequence number, handed to the live log at once and written to the database in one statement,
// so output survives a crash and any instance can read it. A chunk never ends inside a UTF-8
// character or an escape sequence (the rest waits for the next cut), so each reads on its own.
// When more than MAX_BUFFERED_BYTES wait for the database, hosts are asked to wait (SSH flow
// control holds their scripts) until the writes catch up: memory stays bounded.
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { completeLength } from "./output-text.ts";
import type { OutputStream } from "./ssh-script.ts";

export const CUT_MS = 250;
const MAX_CHUNK_BYTES = 256 * 1024;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Output written per statement (and sent per live message), at most: big outputs move in steps. */
export const WRITE_BYTES = 2 * 1024 * 1024;

export interface OutputChunk {
  seq: number;
  machine_id: number;
  stream: OutputStream;
  data: Uint8Array;
}

interface Piece {
  stream: OutputStream;
  data: Uint8Array;
}

export class RunOutput {
  #seq = 0;
  readonly #pieces = new Map<number, Piece[]>();
  /** Hosts whose output is complete: nothing is held back at their next cut. */
  readonly #ended = new Set<number>();
  #unwritten: OutputChunk[] = [];
  #writing: Promise<void> = Promise.resolve();
  /** Bytes held here (pieces and unwritten chunks). */
  #buffered = 0;
  /** Resolved when the buffered bytes fall under half the limit. */
  #room: { promise: Promise<void>; resolve: () => void } | null = null;
  readonly #timer: Timer;

  constructor(
    private readonly runId: number,
    private readonly db: Database,
    private readonly log: Logger,
    private readonly onChunks: (chunks: OutputChunk[]) => void,
  ) {
    this.#timer = setInterval(() => void this.flush(), CUT_MS);
  }

  /** The sequence number of the last chunk cut. */
  get lastSeq(): number {
    return this.#seq;
  }

  /** A promise when too much waits for the database: hold further output until it resolves. */
  append(machineId: number, stream: OutputStream, data: Uint8Array): void | Promise<void> {
    let pieces = this.#pieces.get(machineId);
    if (!pieces) this.#pieces.set(machineId, (pieces = []));
    pieces.push({ stream, data });
    this.#buffered += data.byteLength;
    if (this.#buffered <= MAX_BUFFERED_BYTES) return;
    this.#room ??= Promise.withResolvers<void>();
    return this.#room.promise;
  }

  /** The host printed its last: its held-back bytes go out with the next cut. */
  endHost(machineId: number): void {
    this.#ended.add(machineId);
  }

  /** Chunks cut but not yet in the database (a copy): what a live log joining now must add to what it reads there. */
  unwritten(): OutputChunk[] {
    return [...this.#unwritten];
  }

  /** Cut what has arrived and write every chunk not yet written; resolves once they are stored. */
  flush(): Promise<void> {
    const chunks = this.#cut();
    if (chunks.length) {
      this.#unwritten.push(...chunks);
      this.onChunks(chunks);
    }
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  /** Final flush; the timer stops. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    this.#room?.resolve(); // nobody is left to wait
    this.#room = null;
  }

  #cut(): OutputChunk[] {
    const chunks: OutputChunk[] = [];
    for (const [machineId, pieces] of this.#pieces) {
      const final = this.#ended.has(machineId);
      const held = final ? [] : holdBack(pieces);
      for (const run of byStream(pieces)) {
        for (const data of split(run.data)) chunks.push({ seq: ++this.#seq, machine_id: machineId, stream: run.stream, data });
      }
      if (held.length) this.#pieces.set(machineId, held);
      else this.#pieces.delete(machineId);
    }
    this.#ended.clear();
    return chunks;
  }

  /** Writes what is unwritten, a statement per WRITE_BYTES; on failure (the database away) the rest stays for the next cut. */
  async #write(): Promise<void> {
    while (this.#unwritten.length) {
      const batch = upTo(this.#unwritten, WRITE_BYTES);
      try {
        await this.db.query(
          `INSERT INTO run_output (run_id, seq, machine_id, stream, data)
           SELECT $1, seq, machine_id, stream, decode(data, 'base64') FROM unnest($2::int[], $3::int[], $4::text[], $5::text[]) AS c(seq, machine_id, stream, data)
           ON CONFLICT (run_id, seq) DO NOTHING`,
          [this.runId, batch.map((c) => c.seq), batch.map((c) => c.machine_id), batch.map((c) => c.stream), batch.map((c) => Buffer.from(c.data).toString("base64"))],
        );
      } catch (err) {
        this.log.warn({ err, run_id: this.runId, chunks: this.#unwritten.length }, "run output not written yet; will retry");
        return;
      }
      this.#unwritten = this.#unwritten.slice(batch.length);
      this.#buffered -= bytesOf(batch);
      if (this.#room && this.#buffered <= MAX_BUFFERED_BYTES / 2) {
        this.#room.resolve();
        this.#room = null;
      }
    }
  }
}

const bytesOf = (chunks: readonly OutputChunk[]) => chunks.reduce((n, c) => n + c.data.byteLength, 0);

/** The first chunks, as many as fit in `bytes` (at least one). */
export function upTo(chunks: readonly OutputChunk[], bytes: number): OutputChunk[] {
  let n = 0;
  let sum = 0;
  while (n < chunks.length && (n === 0 || sum + chunks[n]!.data.byteLength <= bytes)) sum += chunks[n++]!.data.byteLength;
  return chunks.slice(0, n);
}

/** Takes the incomplete end of the last piece off (returned, to wait for the next cut). */
function holdBack(pieces: Piece[]): Piece[] {
  const last = pieces.at(-1);
  if (!last) return [];
  const keep = completeLength(last.data);
  if (keep === last.data.byteLength) return [];
  const held = { stream: last.stream, data: last.data.subarray(keep) };
  if (keep === 0) pieces.pop();
  else pieces[pieces.length - 1] = { stream: last.stream, data: last.data.subarray(0, keep) };
  return [held];
}

/** Pieces of at most MAX_CHUNK_BYTES, each ending on a character (when one is that close). */
function split(data: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  while (data.byteLength > MAX_CHUNK_BYTES) {
    const at = completeLength(data.subarray(0, MAX_CHUNK_BYTES)) || MAX_CHUNK_BYTES;
    parts.push(data.subarray(0, at));
    data = data.subarray(at);
  }
  parts.push(data);
  return parts;
}

/** Consecutive pieces of the same stream, joined. */
function byStream(pieces: Piece[]): { stream: OutputStream; data: Uint8Array }[] {
  const runs: { stream: OutputStream; parts: Uint8Array[] }[] = [];
  for (const p of pieces) {
    const last = runs.at(-1);
    if (last?.stream === p.stream) last.parts.push(p.data);
    else runs.push({ stream: p.stream, parts: [p.data] });
  }
  return runs.map((r) => ({ stream: r.stream, data: r.parts.length === 1 ? r.parts[0]! : Buffer.concat(r.parts) }));
}
