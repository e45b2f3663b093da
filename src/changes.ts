// The in-process feed of machine changes. The API and the monitor publish; the WebSocket hub,
// the monitor's schedule and the metrics subscribe. Keeping it one typed list of changes is
// what lets a registration reach the scheduler and every dashboard without either knowing
// about the other.
import type { Machine } from "./api/machines/model.ts";

export type MachineStatus = Machine["status"];

export type Change =
  | { type: "machine_registered"; machine: Machine }
  | { type: "machine_updated"; machine: Machine }
  | { type: "machine_deleted"; machine_id: number }
  /** The machine proved it is alive without a ping: a heartbeat or a re-registration. */
  | { type: "machine_seen"; machine_id: number; at: Date; via: "heartbeat" | "registration" }
  | {
      type: "status_update";
      machine_id: number;
      status: MachineStatus;
      is_alive: boolean;
      /** RTT in ms of the check that caused this update; null when it failed. */
      response_time: number | null;
      /** A ping check (true), or a heartbeat or re-registration (false): only checks make the strip of recent checks. */
      checked: boolean;
      last_seen: string;
      consecutive_failures: number;
      last_checked_at: string | null;
      next_check_at: string | null;
    };

export type ChangeListener = (change: Change) => void;

export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = (err) => console.error(err)) {}

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(change: Change): void {
    for (const listener of this.#listeners) {
      // One broken subscriber must not stop the others (or the request that published).
      try {
        listener(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
