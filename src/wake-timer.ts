// Runs a background pass (the notification dispatcher, the sender) when there is work: soon after
// a poke, at the time the last pass said the next work is due, and now and then as a safety net
// (work another instance queued, a poke that was missed). Never two passes at once; a failing
// pass is logged by its owner and retried at the safety interval. No timer runs more often than
// the work needs: an idle server wakes once per safety interval.
import { loopLag } from "./loop-lag.ts";

const POKE_DELAY_MS = 20;

export class WakeTimer {
  #timer: Timer | undefined;
  #wakeAt = Infinity;
  #running: Promise<void> | null = null;
  /** The earliest wake asked for while a pass was running. */
  #requested = Infinity;
  #stopped = true;

  /** @param pass does the work; resolves with when it should run next (epoch ms), or null. */
  constructor(
    private readonly pass: () => Promise<number | null>,
    private readonly safetyMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    this.#stopped = false;
    this.#at(Date.now());
  }

  /** Run soon (pokes that arrive together make one pass), or within `delayMs`. */
  soon(delayMs = POKE_DELAY_MS): void {
    this.#at(Date.now() + delayMs);
  }

  /** Run now and wait for it (a pass already running is waited for, then one more runs). */
  async now(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wakeAt = Infinity;
    while (this.#running) await this.#running;
  }

  #at(when: number) {
    if (this.#stopped) return;
    if (this.#running) {
      // Work that came in during a pass may have missed it: remembered for when it ends.
      this.#requested = Math.min(this.#requested, when);
      return;
    }
    if (when >= this.#wakeAt) return;
    this.#arm(when);
  }

  #arm(when: number) {
    clearTimeout(this.#timer);
    this.#wakeAt = when;
    this.#timer = setTimeout(() => {
      loopLag.timerFired(when);
      void this.#run();
    }, Math.max(0, when - Date.now()));
  }

  async #run(): Promise<void> {
    clearTimeout(this.#timer);
    this.#wakeAt = Infinity;
    let next: number | null = null;
    this.#running = this.pass().then(
      (n) => void (next = n),
      (err) => this.onError(err),
    );
    await this.#running;
    this.#running = null;
    const requested = this.#requested;
    this.#requested = Infinity;
    if (this.#stopped) return;
    this.#arm(Math.min(next ?? Infinity, requested, Date.now() + this.safetyMs));
  }
}
