// Event-loop lag, measured where the work is: how late the timers that do the work (the
// monitor's scheduler, the background passes) fire after the time they were set for. A sampling
// timer of its own (prom-client's default fires every 10 ms) would wake an idle server 100 times
// a second to measure nothing; this costs no wake-up, and an idle server simply has no samples.
const MAX_SAMPLES = 4096;

export interface LagSummary {
  count: number;
  /** Seconds, like the Prometheus gauges they feed; 0 when nothing was sampled. */
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

export class LoopLag {
  /** Lateness in ms since the last take(); past MAX_SAMPLES the oldest are overwritten. */
  readonly #samples = new Float64Array(MAX_SAMPLES);
  #count = 0;
  #latest = 0;

  /** A timer set for `dueAt` (Date.now() ms) fired now. */
  timerFired(dueAt: number, now = Date.now()): void {
    const lateMs = Math.max(0, now - dueAt);
    this.#samples[this.#count++ % MAX_SAMPLES] = lateMs;
    this.#latest = lateMs;
  }

  /** The most recent lateness, in seconds. */
  get latest(): number {
    return this.#latest / 1000;
  }

  /** A summary of what was recorded since the last call, which starts a new window. */
  take(): LagSummary {
    const n = Math.min(this.#count, MAX_SAMPLES);
    this.#count = 0;
    if (n === 0) return { count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const mean = sorted.reduce((a, b) => a + b, 0) / n;
    const variance = sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]! / 1000;
    return { count: n, min: sorted[0]! / 1000, max: sorted[n - 1]! / 1000, mean: mean / 1000, stddev: Math.sqrt(variance) / 1000, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }
}

/** The process's one recorder: the timers that do work report to it, /metrics reads it. */
export const loopLag = new LoopLag();
