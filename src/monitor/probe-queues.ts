// The pinger's queues of probes: waiting for a slot, and sent, by deadline. Plain data
// structures, no I/O.
import type { Probe } from "./pinger.ts";

/** FIFO without Array.shift's O(n): a head index, compacted now and then. */
export class ProbeQueue {
  private items: Probe[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(p: Probe): void {
    this.items.push(p);
  }

  shift(): Probe | undefined {
    const p = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }

  peek(): Probe | undefined {
    return this.items[this.head];
  }

  drain(): Probe[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

/**
 * Sent probes by deadline. One FIFO per distinct timeout: probes are sent in time order, so
 * within one timeout their deadlines are already sorted and expiry only looks at the heads.
 */
export class TimeoutQueues {
  private readonly byTimeout = new Map<number, ProbeQueue>();

  add(p: Probe): void {
    let q = this.byTimeout.get(p.timeoutMs);
    if (!q) this.byTimeout.set(p.timeoutMs, (q = new ProbeQueue()));
    q.push(p);
  }

  /** Pending probes whose deadline is at or before `upTo`; finished ones are dropped on the way. */
  expired(upTo: number): Probe[] {
    const out: Probe[] = [];
    for (const [timeout, q] of this.byTimeout) {
      for (let p = q.peek(); p && (p.done || p.deadline <= upTo); p = q.peek()) {
        q.shift();
        if (!p.done) out.push(p);
      }
      if (q.length === 0) this.byTimeout.delete(timeout);
    }
    return out;
  }

  /** The earliest deadline of a pending probe (finished ones at the heads are dropped). */
  earliestDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const [timeout, q] of this.byTimeout) {
      let p = q.peek();
      while (p?.done) (q.shift(), (p = q.peek()));
      if (!p) this.byTimeout.delete(timeout);
      else if (earliest === undefined || p.deadline < earliest) earliest = p.deadline;
    }
    return earliest;
  }

  drain(): Probe[] {
    const all = [...this.byTimeout.values()].flatMap((q) => q.drain());
    this.byTimeout.clear();
    return all.filter((p) => !p.done);
  }
}
