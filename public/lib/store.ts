// The machines this dashboard shows, kept current from the snapshot and live events (or the
// REST fallback), and which of them changed when, for the highlight.
import type { Machine } from "../../src/api/machines/model.ts";
import { applyEvent, type LiveEvent, type SnapshotOrder } from "../../src/live/protocol.ts";

/** How long a changed row stays highlighted (matches the animation in style.css). */
export const FLASH_MS = 2000;

export class MachineStore {
  readonly machines = new Map<number, Machine>();
  /** Bumped on every change: views re-render on it. */
  version = 0;
  /** Bumped when machines come, go or change identity (hostname, IP, MAC…): re-sort, re-search. */
  membersVersion = 0;
  /** Bumped when some machine's status changed: re-sort by status, re-filter by status. */
  statusVersion = 0;
  /** Bumped by every status update (last seen, RTT): re-sort by those. Most updates only touch
   *  these, so the default view (by status, then name) need not sort 10,000 machines again. */
  timingVersion = 0;
  loaded = false;
  /** The order `machines` (a Map, so in insertion order) are in, while no change has moved one
   *  since a snapshot that promised it: a view sorted that way can take them as they are. */
  order: SnapshotOrder | null = null;
  readonly #changed = new Map<number, { at: number; count: number }>();
  readonly #listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replace everything (snapshot or REST refresh); highlights what differs from before. */
  replaceAll(machines: Machine[], order?: SnapshotOrder): void {
    if (this.loaded) {
      for (const m of machines) {
        const old = this.machines.get(m.id);
        if (!old || old.status !== m.status || old.updated_at !== m.updated_at) this.#flash(m.id);
      }
    }
    this.machines.clear();
    for (const m of machines) this.machines.set(m.id, m);
    this.loaded = true;
    this.order = order ?? null;
    this.membersVersion++;
    this.#changedNow();
  }

  apply(events: LiveEvent[]): void {
    for (const e of events) {
      if (e.type === "status_update") {
        // Every check is an update now (the strip of recent checks), so only a new status lights
        // the row: a list that flashed on every ping would hide the changes that matter.
        const changed = this.machines.get(e.machine_id)?.status !== e.status;
        if (changed) {
          this.statusVersion++;
          this.order = null;
          this.#flash(e.machine_id);
        }
        this.timingVersion++;
      } else {
        this.membersVersion++;
        this.order = null;
        if (e.type !== "machine_deleted") this.#flash(e.machine.id);
      }
      applyEvent(this.machines, e);
    }
    this.#changedNow();
  }

  /** A machine as a call of ours just returned it (the socket brings the same change shortly). */
  put(machine: Machine): void {
    this.machines.set(machine.id, machine);
    this.membersVersion++;
    this.order = null;
    this.#changedNow();
  }

  remove(id: number): void {
    if (!this.machines.delete(id)) return;
    this.membersVersion++;
    this.order = null;
    this.#changedNow();
  }

  /** A CSS class that (re)starts the highlight, or "" when the machine has not just changed. */
  flashClass(id: number): string {
    const c = this.#changed.get(id);
    if (!c || Date.now() - c.at > FLASH_MS) return "";
    // Alternating names restart the animation when a row changes again while still lit.
    return c.count % 2 ? "flash-a" : "flash-b";
  }

  counts(): { total: number; active: number; unreachable: number } {
    let active = 0;
    for (const m of this.machines.values()) if (m.status === "active") active++;
    return { total: this.machines.size, active, unreachable: this.machines.size - active };
  }

  #flash(id: number) {
    const c = this.#changed.get(id);
    this.#changed.set(id, { at: Date.now(), count: (c?.count ?? 0) + 1 });
  }

  #changedNow() {
    this.version++;
    // Forget old highlights so the map does not grow with every machine that ever changed.
    if (this.#changed.size > 1000) {
      const cutoff = Date.now() - FLASH_MS;
      for (const [id, c] of this.#changed) if (c.at < cutoff) this.#changed.delete(id);
    }
    for (const l of this.#listeners) l();
  }
}
