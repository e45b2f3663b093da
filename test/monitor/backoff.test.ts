import { describe, expect, test } from "bun:test";
import { afterFailure, afterSuccess, backoffInterval, jittered, type Health, type Policy } from "../../src/monitor/backoff.ts";

const policy: Policy = { intervalMs: 60_000, backoffMaxMs: 3_600_000, failureThreshold: 3 };
const healthy: Health = { status: "active", failures: 0, intervalMs: 60_000 };

describe("backoff schedule", () => {
  test("doubles per failure from the base interval and stops at the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100, 5000].map((f) => backoffInterval(f, policy) / 1000)).toEqual([
      60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600,
    ]);
  });

  test("a run of failures: unreachable exactly at the threshold, one transition only", () => {
    let h = healthy;
    const transitions = [];
    const intervals = [];
    for (let i = 0; i < 8; i++) {
      const r = afterFailure(h, policy);
      h = r.health;
      transitions.push(r.transition);
      intervals.push(h.intervalMs / 1000);
    }
    expect(transitions).toEqual([null, null, "unreachable", null, null, null, null, null]);
    expect(intervals).toEqual([120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    expect(h).toEqual({ status: "unreachable", failures: 8, intervalMs: 3_600_000 });
  });

  test("a success resets failures and interval; from unreachable it is a recovery", () => {
    const failing = afterFailure(afterFailure(healthy, policy).health, policy).health;
    expect(afterSuccess(failing, policy)).toEqual({ health: healthy, transition: null });
    const down: Health = { status: "unreachable", failures: 5, intervalMs: 1_920_000 };
    expect(afterSuccess(down, policy)).toEqual({ health: healthy, transition: "recovered" });
  });

  test("threshold 1: the first failure makes it unreachable", () => {
    expect(afterFailure(healthy, { ...policy, failureThreshold: 1 }).transition).toBe("unreachable");
  });

  test("jitter stays within ±10 % and is never zero", () => {
    expect(jittered(1000, 0)).toBe(900);
    expect(jittered(1000, 0.5)).toBe(1000);
    expect(jittered(1000, 0.999999)).toBe(1100);
    expect(jittered(1, 0)).toBe(1);
  });
});
