// Turns a stream of changes into few messages. When idle, what arrives is sent at the end of
// the current tick (so changes published together, e.g. one monitor batch, travel together);
// then a window opens and whatever arrives during it goes out as one message when it closes.
// A lone change is therefore sent at once, and a burst costs each browser at most one frame per
// window instead of one per change.
//
// The window is 100 ms: well under the 250 ms cap and the 1 s end-to-end target, about the
// limit below which people perceive an update as instant, and it caps a dashboard at 10
// renders a second however hard the network flaps.
export const COALESCE_WINDOW_MS = 100;

export class Coalescer<T> {
  #pending: T[] = [];
  #state: "idle" | "scheduled" | "window" = "idle";
  #timer: Timer | undefined;
  #closed = false;

  constructor(
    private readonly send: (items: T[]) => void,
    private readonly windowMs = COALESCE_WINDOW_MS,
  ) {}

  /** Items waiting for the next send. */
  get pending(): number {
    return this.#pending.length;
  }

  push(item: T): void {
    if (this.#closed) return;
    this.#pending.push(item);
    if (this.#state !== "idle") return;
    this.#state = "scheduled";
    queueMicrotask(() => this.#drain());
  }

  #drain(): void {
    if (this.#closed) return;
    const items = this.#pending;
    if (items.length === 0) {
      this.#state = "idle";
      return;
    }
    this.#pending = [];
    this.#state = "window";
    this.#timer = setTimeout(() => this.#drain(), this.windowMs);
    this.send(items);
  }

  /** Sends what is waiting now, without waiting for the window: a dashboard about to be given
   *  the state these items lead to must not receive them again after it. */
  flush(): void {
    if (this.#closed || this.#pending.length === 0) return;
    const items = this.#pending;
    this.#pending = [];
    this.send(items);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#pending = [];
  }
}
