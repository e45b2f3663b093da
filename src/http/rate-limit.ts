// Per-client request limit (RATE_LIMIT per minute, the seed's 120 by default), counted on EVERY
// request as it arrives: before routing, parsing and validation, so 404s, malformed JSON and
// oversized bodies count as much as successful calls. Over the limit: 429 with Retry-After.
//
// Written here rather than taken from elysia-rate-limit (used before): that plugin counts in
// onBeforeHandle, which only requests that found a route and passed parsing and validation
// reach, so a client sending nothing but bad requests was never limited (issue 9). The window
// counter below is the whole of what is needed, and the login throttle and the refusal log
// reuse it.
import { Elysia } from "elysia";
import { clientIp, clientKey, rememberClient } from "./client.ts";
import { ApiError } from "./errors.ts";

/**
 * Hits per key in a sliding minute (the previous fixed window's count, weighted by how much of
 * it still overlaps, plus the current one's: no double burst at a window boundary). No timers:
 * old windows are dropped when a new one starts. Past `maxKeys` keys in one window, new keys
 * share one bucket, so a flood of distinct addresses cannot grow memory without bound.
 */
export class WindowCounter {
  #window = 0;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();

  constructor(
    readonly limit: number,
    readonly windowMs = 60_000,
    readonly maxKeys = 100_000,
  ) {}

  /** Count a hit; returns 0 when within the limit, else the milliseconds until it is not. */
  hit(key: string, now = Date.now()): number {
    this.#roll(now);
    const k = this.#current.has(key) || this.#current.size < this.maxKeys ? key : "(too many clients)";
    const count = (this.#current.get(k) ?? 0) + 1;
    this.#current.set(k, count);
    const intoWindow = now % this.windowMs;
    const carried = (this.#previous.get(k) ?? 0) * (1 - intoWindow / this.windowMs);
    return carried + count <= this.limit ? 0 : this.windowMs - intoWindow;
  }

  /** Hits counted for `key` in the current window (tests, metrics). */
  count(key: string, now = Date.now()): number {
    this.#roll(now);
    return this.#current.get(key) ?? 0;
  }

  #roll(now: number) {
    const window = Math.floor(now / this.windowMs);
    if (window === this.#window) return;
    this.#previous = window === this.#window + 1 ? this.#current : new Map();
    this.#current = new Map();
    this.#window = window;
  }
}

export function rateLimiting(perMinute: number, trustProxy: boolean) {
  const counter = new WindowCounter(perMinute);
  return new Elysia({ name: "rate-limit" }).onRequest(({ request, server }) => {
    const ip = clientIp(server?.requestIP(request)?.address, request.headers.get("x-forwarded-for"), trustProxy);
    rememberClient(request, ip);
    if (perMinute === 0) return;
    const waitMs = counter.hit(clientKey(ip));
    if (waitMs === 0) return;
    throw new ApiError(
      429,
      "rate_limited",
      `Too many requests: the limit is ${perMinute} per minute per client; retry after the time in Retry-After.`,
      undefined,
      { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) },
    );
  });
}
