// The monitoring rules from the seed, as pure functions: a healthy machine is checked every
// PING_INTERVAL; each consecutive failure doubles the interval up to BACKOFF_MAX;
// FAILURE_THRESHOLD failures in a row make it unreachable; any success (a reply, a heartbeat,
// a re-registration) resets failures and interval and makes it active again.
import type { MachineStatus } from "../changes.ts";

export interface Policy {
  intervalMs: number;
  backoffMaxMs: number;
  failureThreshold: number;
}

export interface Health {
  status: MachineStatus;
  failures: number;
  intervalMs: number;
}

/** What a check did to the machine's status: the events vxman logs. */
export type Transition = "unreachable" | "recovered" | null;

export function afterSuccess(health: Health, policy: Policy): { health: Health; transition: Transition } {
  return {
    health: { status: "active", failures: 0, intervalMs: policy.intervalMs },
    transition: health.status === "unreachable" ? "recovered" : null,
  };
}

export function afterFailure(health: Health, policy: Policy): { health: Health; transition: Transition } {
  const failures = health.failures + 1;
  const status: MachineStatus = failures >= policy.failureThreshold ? "unreachable" : health.status;
  return {
    health: { status, failures, intervalMs: backoffInterval(failures, policy) },
    transition: health.status === "active" && status === "unreachable" ? "unreachable" : null,
  };
}

/** PING_INTERVAL × 2^failures, capped at BACKOFF_MAX: 60 s → 120 s → 240 s … 3600 s. */
export function backoffInterval(failures: number, policy: Policy): number {
  // 2^failures overflows to Infinity long after the cap, and Math.min handles Infinity.
  return Math.min(policy.intervalMs * 2 ** failures, policy.backoffMaxMs);
}

/** ±10 %, so machines registered together drift apart instead of being pinged in one burst. */
export function jittered(intervalMs: number, random: number = Math.random()): number {
  return Math.max(1, Math.round(intervalMs * (0.9 + 0.2 * random)));
}
