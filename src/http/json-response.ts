// JSON that vxman made itself, sent as it is. Given an object, Elysia checks and encodes it
// against the route's response schema (which stays on the route, for the docs); on the hottest
// routes that check costs as much as the work itself. Measured on the re-registration PUT under
// wrk: TypeBox's Encode and its date-time patterns were ~10 % of the server's CPU. What is sent
// here is typed as that schema already, and the API tests check its shape.

/** `json` (already serialised) with `status`; the hooks' headers (security, CORS) are added by Elysia. */
export function jsonResponse(json: string, status = 200): Response {
  return new Response(json, { status, headers: { "content-type": "application/json; charset=utf-8" } });
}
