// Per-client-IP request limit (RATE_LIMIT per minute, the seed's 120 by default) with
// elysia-rate-limit; over it: 429 with Retry-After and the usual JSON error body.
import { Elysia } from "elysia";
import { rateLimit } from "elysia-rate-limit";

/**
 * The client's IP: the socket's peer address, or — only with TRUST_PROXY, behind your own
 * reverse proxy — the address that proxy appended last to X-Forwarded-For (entries before it
 * are whatever the client claimed, so they are never trusted).
 */
export function clientIp(peer: string | undefined, forwardedFor: string | null | undefined, trustProxy: boolean): string {
  if (trustProxy) {
    const last = forwardedFor?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return peer ?? "unknown";
}

export function rateLimiting(perMinute: number, trustProxy: boolean) {
  if (perMinute === 0) return new Elysia({ name: "rate-limit-off" });
  const tooMany = new Response(
    JSON.stringify({ error: "rate_limited", message: `Too many requests: the limit is ${perMinute} per minute per client; retry after the time in Retry-After.` }),
    { status: 429, headers: { "content-type": "application/json; charset=utf-8" } },
  );
  return rateLimit({
    duration: 60_000,
    max: perMinute,
    scoping: "global",
    errorResponse: tooMany,
    generator: (request, server) => clientIp(server?.requestIP(request)?.address, request.headers.get("x-forwarded-for"), trustProxy),
  });
}
