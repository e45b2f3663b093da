// Group commit for small statements of one kind. Up to `maxInFlight` batches are in the
// database at once; requests that arrive meanwhile wait together and go in the next batch as
// ONE statement: under load a round trip (and a commit) serves many requests instead of one,
// and each caller still gets its answer only after its row is committed. With a slot free a
// request waits only for the end of the event loop's turn, so a quiet server adds no delay.
//
// Written here rather than taken from a library: the npm batchers (dataloader and friends)
// collect per event-loop tick for reads; this one needs "a few in flight, the rest queue behind
// them", which is the whole of the 40 lines below.

interface Waiting<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  /** The most inputs in one statement (bounds the statement's size). */
  maxBatch?: number;
  /** Batches running at once (each holds one database connection meanwhile). */
  maxInFlight?: number;
}

export class Batcher<In, Out> {
  readonly #queue: Waiting<In, Out>[] = [];
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #inFlight = 0;

  /** @param run  runs one batch and returns one answer per input, in input order */
  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    { maxBatch = 256, maxInFlight = 1 }: BatcherOptions = {},
  ) {
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      // A free slot waits one turn of the event loop, for the requests read in the same turn.
      // Without it a request whose whole path runs without waiting for I/O (every query on
      // PGlite, which runs in this thread) finishes before the next request is even read, and
      // every batch is a batch of one: an enrolment storm on PGlite ran at a tenth of its speed.
      if (this.#queue.length === 1 && this.#inFlight < this.#maxInFlight) setImmediate(() => this.#pump());
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#runBatch(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #runBatch(batch: Waiting<In, Out>[]): Promise<void> {
    try {
      const outs = await this.run(batch.map((w) => w.input));
      batch.forEach((w, i) => w.resolve(outs[i] as Out));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}
