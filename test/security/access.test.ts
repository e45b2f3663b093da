// Who may call what. The access table (src/people/access.ts) is checked two ways:
//  1. it covers exactly the routes the app has: a route added without an entry fails here;
//  2. every route is called as every kind of caller — nobody, a wrong token, the admin, read
//     and registration tokens, a viewer, operator and admin by session cookie and by personal
//     API token, a token whose owner was demoted, a disabled user, an ended session, a revoked
//     and an expired token — and each answer is compared with what that caller may do, written
//     out here independently of the code under test. In-process and on the compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { ACCESS } from "../../src/people/access.ts";
import { WEB_ROOT } from "../../src/web/index.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target, type TargetName } from "../helpers/target.ts";

type Level = "anyone" | "machine" | "viewer" | "operator" | "admin" | "metrics";

interface Row {
  method: string;
  route: string;
  /** A concrete request. */
  path: string;
  body?: unknown;
  /** Statuses that mean "let in and handled". */
  ok: number[];
  /** Routes for a user account: the shared tokens (admin, read) are let in but refused by the handler (403). */
  userOnly?: boolean;
  /** One's own sessions or tokens: a user's, or anyone's for the admin role (the admin token too). */
  mineOrAdmin?: boolean;
  /** Open routes that still read who is asking: a wrong token is a 403 there. */
  readsIdentity?: boolean;
}

const IP = "127.20.0.1"; // a machine the rows refer to (registered in beforeAll)
const MISSING = "999999999";
const PASSWORD = "a-long-enough-passphrase";

const ROWS: Row[] = [
  { method: "GET", route: "/health", path: "/health", ok: [200] },
  { method: "GET", route: "/docs", path: "/docs", ok: [200] },
  { method: "GET", route: "/docs/json", path: "/docs/json", ok: [200] },
  { method: "GET", route: "/register.sh", path: "/register.sh", ok: [200] },
  { method: "GET", route: "/", path: "/", ok: [200] },
  { method: "GET", route: "/favicon.ico", path: "/favicon.ico", ok: [301] },
  { method: "GET", route: "/api/session", path: "/api/session", ok: [200], readsIdentity: true },
  // A failed login, so often from one address that the throttle answers too.
  { method: "POST", route: "/api/session", path: "/api/session", body: { username: "nobody-here", password: "wrong password 123" }, ok: [401, 429] },
  { method: "PUT", route: "/api/machines/:machine", path: `/api/machines/${IP}`, body: machineBody(1), ok: [200, 201] },
  { method: "POST", route: "/api/machines/:machine/heartbeat", path: `/api/machines/${IP}/heartbeat`, ok: [204] },
  { method: "GET", route: "/api/machines/", path: "/api/machines", ok: [200] },
  { method: "GET", route: "/api/machines/:machine", path: `/api/machines/${IP}`, ok: [200] },
  { method: "GET", route: "/api/machines/:machine/samples", path: `/api/machines/${IP}/samples`, ok: [200] },
  { method: "GET", route: "/api/events", path: "/api/events", ok: [200] },
  { method: "WS", route: "/ws/status", path: "/ws/status", ok: [101] },
  { method: "PUT", route: "/api/session/password", path: "/api/session/password", body: { current_password: "not it at all", new_password: "another-long-passphrase" }, ok: [422], userOnly: true },
  { method: "GET", route: "/api/sessions", path: "/api/sessions", ok: [200], mineOrAdmin: true },
  { method: "DELETE", route: "/api/sessions/:id", path: `/api/sessions/${MISSING}`, ok: [404], mineOrAdmin: true },
  { method: "GET", route: "/api/tokens", path: "/api/tokens", ok: [200], mineOrAdmin: true },
  { method: "POST", route: "/api/tokens", path: "/api/tokens", body: { name: "access-test", role: "viewer" }, ok: [201], userOnly: true },
  { method: "DELETE", route: "/api/tokens/:id", path: `/api/tokens/${MISSING}`, ok: [404], mineOrAdmin: true },
  { method: "POST", route: "/api/machines/:machine/check", path: `/api/machines/${IP}/check`, ok: [200, 503] },
  { method: "PATCH", route: "/api/machines/:machine", path: `/api/machines/${IP}`, body: { notes: "checked by the access test" }, ok: [200] },
  { method: "DELETE", route: "/api/machines/:machine", path: `/api/machines/${MISSING}`, ok: [404] },
  { method: "GET", route: "/api/users", path: "/api/users", ok: [200] },
  { method: "POST", route: "/api/users", path: "/api/users", body: { username: "made-by-test", role: "viewer", password: PASSWORD }, ok: [201, 409] },
  { method: "GET", route: "/api/users/:user", path: `/api/users/${MISSING}`, ok: [404] },
  { method: "PATCH", route: "/api/users/:user", path: `/api/users/${MISSING}`, body: { display_name: "x" }, ok: [404] },
  { method: "GET", route: "/api/outages", path: "/api/outages", ok: [200] },
  { method: "GET", route: "/api/uptime", path: "/api/uptime", ok: [200] },
  { method: "GET", route: "/api/instances", path: "/api/instances", ok: [200] },
  { method: "GET", route: "/api/silences", path: "/api/silences", ok: [200] },
  { method: "POST", route: "/api/silences", path: "/api/silences", body: { groups: ["vni 9"], duration_seconds: 60 }, ok: [201] },
  { method: "DELETE", route: "/api/silences/:id", path: `/api/silences/${MISSING}`, ok: [404] },
  { method: "GET", route: "/api/notifications", path: "/api/notifications", ok: [200] },
  { method: "GET", route: "/api/channels", path: "/api/channels", ok: [200] },
  { method: "POST", route: "/api/channels", path: "/api/channels", body: { name: "x", kind: "webhook", settings: { url: "ftp://bad" }, events: ["unreachable"] }, ok: [422] },
  { method: "PATCH", route: "/api/channels/:id", path: `/api/channels/${MISSING}`, body: { enabled: false }, ok: [404] },
  { method: "DELETE", route: "/api/channels/:id", path: `/api/channels/${MISSING}`, ok: [404] },
  { method: "POST", route: "/api/channels/:id/test", path: `/api/channels/${MISSING}/test`, ok: [404] },
  { method: "GET", route: "/api/credentials", path: "/api/credentials", ok: [200] },
  { method: "POST", route: "/api/credentials", path: "/api/credentials", body: { name: "x", kind: "ssh-key", private_key: "not a key" }, ok: [422] },
  { method: "DELETE", route: "/api/credentials/:id", path: `/api/credentials/${MISSING}`, ok: [404] },
  { method: "GET", route: "/api/ssh-defaults", path: "/api/ssh-defaults", ok: [200] },
  { method: "POST", route: "/api/ssh-defaults", path: "/api/ssh-defaults", body: { labels: ["role=db"] }, ok: [422] },
  { method: "DELETE", route: "/api/ssh-defaults/:id", path: `/api/ssh-defaults/${MISSING}`, ok: [404] },
  { method: "GET", route: "/api/machines/:machine/ssh", path: `/api/machines/${IP}/ssh`, ok: [200] },
  { method: "POST", route: "/api/machines/:machine/host-key", path: `/api/machines/${IP}/host-key`, body: { fingerprint: `SHA256:${"A".repeat(43)}` }, ok: [409] },
  { method: "GET", route: "/api/host-keys", path: "/api/host-keys", ok: [200] },
  { method: "GET", route: "/api/jobs", path: "/api/jobs", ok: [200] },
  { method: "POST", route: "/api/jobs", path: "/api/jobs", body: { name: "x", script: "", targets: {} }, ok: [422] },
  { method: "GET", route: "/api/jobs/:id", path: `/api/jobs/${MISSING}`, ok: [404] },
  { method: "PATCH", route: "/api/jobs/:id", path: `/api/jobs/${MISSING}`, body: { timeout: 5 }, ok: [404] },
  { method: "DELETE", route: "/api/jobs/:id", path: `/api/jobs/${MISSING}`, ok: [404] },
  { method: "POST", route: "/api/jobs/:id/runs", path: `/api/jobs/${MISSING}/runs`, body: {}, ok: [404] },
  { method: "GET", route: "/api/runs", path: "/api/runs", ok: [200] },
  { method: "GET", route: "/api/runs/:id", path: `/api/runs/${MISSING}`, ok: [404] },
  { method: "POST", route: "/api/runs/:id/cancel", path: `/api/runs/${MISSING}/cancel`, ok: [404] },
  { method: "WS", route: "/ws/runs/:id", path: `/ws/runs/${MISSING}`, ok: [404] },
  { method: "GET", route: "/metrics", path: "/metrics", ok: [200] },
  // Last: it ends the session of every caller that has one.
  { method: "DELETE", route: "/api/session", path: "/api/session", ok: [204] },
];

/** The table's own word for each route, written out again here: the rows above are checked against it. */
const LEVEL: Record<string, Level> = Object.fromEntries(ROWS.map((r) => [`${r.method} ${r.route}`, ACCESS[`${r.method} ${r.route}`] as Level]));

/** Every built dashboard/docs file (not the HTML pages, which have rows) is open to anyone. */
const staticRows = (): Row[] =>
  readdirSync(WEB_ROOT, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && !f.name.endsWith(".html"))
    .map((f) => `${f.parentPath.slice(WEB_ROOT.length)}/${f.name}`)
    .map((path) => ({ method: "GET", route: path, path, ok: [200] }));

const label = (r: Row) => `${r.method} ${r.route}`;

const REGISTRATION_TOKEN = "registration-token-0123456789";
const READ_TOKEN = "read-token-0123456789-abcdef";

/** A kind of caller: how it authenticates, and its effective role (null: none). */
interface Caller {
  name: string;
  headers: Record<string, string>;
  role: "viewer" | "operator" | "admin" | null;
  /** The shared tokens are not user accounts. */
  user: boolean;
  registration?: boolean;
  /** Credentials that are no good: a 401 (an ended session) or 403 (a bad token) wherever credentials are read. */
  refused?: 401 | 403;
}

/** Expected status for a caller on a row, from the rules (docs/security.md), not from the code. */
function expected(row: Row, who: Caller, opts: { registrationOpen: boolean }): number[] | number {
  const level = LEVEL[label(row)] ?? "anyone";
  if (level === "anyone") return who.refused === 403 && row.readsIdentity ? 403 : row.ok;
  if (who.refused === 403) return 403;
  // An ended session is nobody: it opens what nobody may (registration, when it is open).
  if (who.refused === 401) return level === "machine" && opts.registrationOpen ? row.ok : 401;
  const rank = { viewer: 1, operator: 2, admin: 3 };
  const has = (need: "viewer" | "operator" | "admin") => who.role !== null && rank[who.role] >= rank[need];
  const allowed =
    level === "machine" ? opts.registrationOpen || who.registration === true || has("operator")
    : level === "metrics" ? has("admin")
    : has(level);
  if (!allowed) return who.role === null && !who.registration ? 401 : 403;
  if (row.userOnly && !who.user) return 403;
  if (row.mineOrAdmin && !who.user && who.role !== "admin") return 403;
  return row.ok;
}

async function call(t: Target, row: Row, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const h: Record<string, string> = { ...headers };
  if (row.method === "WS") {
    Object.assign(h, { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" });
    h["sec-websocket-protocol"] = headers["sec-websocket-protocol"] ?? "vxman";
    const res = await fetch(`${t.base}${row.path}`, { headers: h, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: res.status === 101 ? "" : await res.text() };
  }
  if (row.body !== undefined) h["content-type"] = "application/json";
  const res = await fetch(`${t.base}${row.path}`, {
    method: row.method,
    headers: h,
    redirect: "manual",
    body: row.body === undefined ? undefined : JSON.stringify(row.body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.text() };
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Users of each role, logged in (a cookie) and with a personal token; plus the odd ones out. */
async function makeCallers(t: Target, registrationOpen: boolean): Promise<Caller[]> {
  const post = async (path: string, body: unknown, headers = admin) => {
    const res = await fetch(`${t.base}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const login = async (username: string) => {
    const res = await post("/api/session", { username, password: PASSWORD }, {} as typeof admin);
    return { cookie: res.headers.get("set-cookie")!.split(";")[0]! };
  };
  const token = async (cookie: { cookie: string }, role?: string, extra: object = {}) =>
    (await (await post("/api/tokens", { name: `t-${Math.random().toString(36).slice(2, 8)}`, role, ...extra }, cookie as never)).json()).token as string;
  const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

  const callers: Caller[] = [
    { name: "nobody", headers: {}, role: null, user: false },
    { name: "a wrong bearer token", headers: bearer("not-a-token-of-this-server-42"), role: null, user: false, refused: 403 },
    { name: "the admin token", headers: admin, role: "admin", user: false },
    { name: "the read token", headers: bearer(READ_TOKEN), role: "viewer", user: false },
    // With registration open there is no registration token: the same string is a wrong token.
    registrationOpen
      ? { name: "the registration token, unset", headers: bearer(REGISTRATION_TOKEN), role: null, user: false, refused: 403 }
      : { name: "the registration token", headers: bearer(REGISTRATION_TOKEN), role: null, user: false, registration: true },
  ];
  for (const role of ["viewer", "operator", "admin"] as const) {
    await post("/api/users", { username: `a-${role}`, role, password: PASSWORD });
    const session = await login(`a-${role}`);
    callers.push({ name: `a ${role} (session cookie)`, headers: session, role, user: true });
    callers.push({ name: `a ${role} (personal token)`, headers: bearer(await token(session)), role, user: true });
  }
  // A token made with the admin role, whose owner is then demoted: it opens only what a viewer may.
  const demotedId = (await (await post("/api/users", { username: "to-demote", role: "admin", password: PASSWORD })).json()).id;
  const demotedToken = await token(await login("to-demote"), "admin");
  const demote = await fetch(`${t.base}/api/users/${demotedId}`, { method: "PATCH", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ role: "viewer" }) });
  expect(demote.status).toBe(200);
  callers.push({ name: "an admin token of an owner demoted to viewer", headers: bearer(demotedToken), role: "viewer", user: true });
  // A disabled user: their session and their token stop working.
  await post("/api/users", { username: "to-disable", role: "admin", password: PASSWORD });
  const doomed = await login("to-disable");
  const doomedToken = await token(doomed);
  const disabledId = (await (await fetch(`${t.base}/api/users`, { headers: admin })).json()).items.find((u: { username: string }) => u.username === "to-disable").id;
  await fetch(`${t.base}/api/users/${disabledId}`, { method: "PATCH", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ disabled: true }) });
  callers.push({ name: "a disabled user's session", headers: doomed, role: null, user: false, refused: 401 });
  callers.push({ name: "a disabled user's token", headers: bearer(doomedToken), role: null, user: false, refused: 403 });
  // An ended session (expired in the database), a revoked token, an expired token.
  await post("/api/users", { username: "ends", role: "admin", password: PASSWORD });
  const ended = await login("ends");
  await t.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE username = 'ends')");
  callers.push({ name: "an expired session", headers: ended, role: null, user: false, refused: 401 });
  const live = await login("ends");
  const revoked = await token(live);
  const revokedId = (await (await fetch(`${t.base}/api/tokens`, { headers: live })).json()).items[0].id;
  expect((await fetch(`${t.base}/api/tokens/${revokedId}`, { method: "DELETE", headers: live })).status).toBe(204);
  callers.push({ name: "a revoked token", headers: bearer(revoked), role: null, user: false, refused: 403 });
  const expiring = await token(live, undefined, { expires_in_days: 1 });
  await t.db.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE prefix = $1", [expiring.slice(0, 10)]);
  callers.push({ name: "an expired token", headers: bearer(expiring), role: null, user: false, refused: 403 });
  return callers;
}

describe("the access table covers every route", () => {
  test("every route of the app has an entry, every entry is a route, and the rows here test each entry", async () => {
    const t = await openTarget("app/pglite", { CORS_ORIGINS: "https://admin.example" });
    try {
      const staticPaths = new Set(staticRows().map((r) => r.route));
      const actual = t.app!.routes.map((r) => `${r.method} ${r.path}`).filter((r) => !r.startsWith("OPTIONS "));
      const missing = actual.filter((r) => !(r in ACCESS) && !staticPaths.has(r.replace(/^GET /, "")));
      expect(missing).toEqual([]); // a route without an access rule: add it to src/people/access.ts
      expect(Object.keys(ACCESS).filter((k) => !actual.includes(k))).toEqual([]);
      expect(ROWS.map(label).sort()).toEqual(Object.keys(ACCESS).sort());
    } finally {
      await t.close();
    }
  });
});

const ACCESS_TARGETS: TargetName[] = TARGETS.filter((n) => n !== "app/postgres");

for (const name of ACCESS_TARGETS) {
  for (const registrationOpen of [false, true]) {
    describe(`every route × every caller (${name}, registration ${registrationOpen ? "open" : "with a token"})`, () => {
      let t: Target;
      let callers: Caller[];
      beforeAll(async () => {
        t = await openTarget(name, { READ_TOKEN, ...(registrationOpen ? {} : { REGISTRATION_TOKEN }) });
        const put = await fetch(`${t.base}/api/machines/${IP}`, {
          method: "PUT",
          headers: { ...admin, "content-type": "application/json" },
          body: JSON.stringify(machineBody(1)),
        });
        expect(put.status).toBe(201);
        callers = await makeCallers(t, registrationOpen);
      }, 120_000);
      afterAll(() => t.close());

      test.each([...ROWS, ...staticRows()].map((r) => [label(r), r] as const))("%s", async (_label, row) => {
        expect(callers.length).toBe(17);
        for (const who of callers) {
          const want = expected(row, who, { registrationOpen });
          const { status, body } = await call(t, row, who.headers);
          const ok = Array.isArray(want) ? want.includes(status) : status === want;
          expect({ caller: who.name, status, ok, body: ok ? "" : body.slice(0, 200) }).toEqual({ caller: who.name, status, ok: true, body: "" });
          if (status === 401) expect(body).toContain("unauthorized");
        }
      });
    });
  }
}

describe("details of refusals", () => {
  let t: Target;
  beforeAll(async () => {
    t = await openTarget("app/pglite", { READ_TOKEN });
  }, 60_000);
  afterAll(() => t.close());

  test("401 says how to authenticate (WWW-Authenticate), an ended session says so, 403 says what is missing", async () => {
    const none = await fetch(`${t.base}/api/machines`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="vxman"');
    const stale = await fetch(`${t.base}/api/machines`, { headers: { cookie: "vxman_session=long-gone-session-id" } });
    expect(stale.status).toBe(401);
    expect((await stale.json()).message).toContain("session has ended");
    const viewer = await fetch(`${t.base}/api/users`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(viewer.status).toBe(403);
    expect((await viewer.json()).message).toBe("This needs the admin role; you are signed in as read-token (viewer).");
  });

  test("malformed Authorization headers and tokens of any length: 401 or 403, never a 500", async () => {
    const headers: [string, number][] = [
      ["", 401],
      ["Bearer", 401],
      ["Bearer ", 401],
      ["Basic YWRtaW46YWRtaW4=", 401],
      [`Token ${ADMIN_TOKEN}`, 401],
      [`Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`, 401],
      ["Bearer x", 403],
      [`Bearer ${ADMIN_TOKEN.slice(0, -1)}`, 403], // a prefix of the right token
      [`Bearer ${ADMIN_TOKEN}x`, 403],
      [`Bearer ${ADMIN_TOKEN.toUpperCase()}`, 403],
      [`Bearer ${"a".repeat(4096)}`, 403],
      [`Bearer ${"\u00ff".repeat(64)}`, 403], // Latin-1 bytes, not ASCII
      [`Bearer vxm_${"A".repeat(43)}`, 403], // shaped like a personal token, but none
      [`Bearer ${READ_TOKEN}`, 403], // the read token is not the admin token
    ];
    for (const [authorization, want] of headers) {
      const res = await fetch(`${t.base}/api/machines/${MISSING}`, { method: "DELETE", headers: authorization ? { authorization } : {} });
      expect({ authorization: authorization.slice(0, 40), status: res.status }).toEqual({ authorization: authorization.slice(0, 40), status: want });
      expect(res.headers.get("content-type")).toContain("application/json");
    }
    // Case of the scheme and trailing space do not matter; the token itself does.
    expect((await fetch(`${t.base}/api/machines/${MISSING}`, { method: "DELETE", headers: { authorization: `bearer ${ADMIN_TOKEN}  ` } })).status).toBe(404);
    const huge = await t.request("GET", "/api/machines", { headers: { authorization: `Bearer ${"z".repeat(65_536)}` } });
    expect(huge.status).toBe(403);
  });

  test("the access check runs before validation: a stranger learns nothing from the body's errors", async () => {
    const res = await fetch(`${t.base}/api/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nonsense: true }) });
    expect(res.status).toBe(401);
  });

  test("ANONYMOUS_READ opens the reads (a wall display), and nothing else", async () => {
    const open = await openTarget("app/pglite", { ANONYMOUS_READ: "true" });
    try {
      expect((await fetch(`${open.base}/api/machines`)).status).toBe(200);
      expect((await fetch(`${open.base}/api/events`)).status).toBe(200);
      expect((await fetch(`${open.base}/api/machines/${MISSING}`, { method: "DELETE" })).status).toBe(401);
      expect((await fetch(`${open.base}/api/machines/${IP}/check`, { method: "POST" })).status).toBe(401);
      expect((await fetch(`${open.base}/api/users`)).status).toBe(401);
    } finally {
      await open.close();
    }
  });

  test("METRICS_PUBLIC serves /metrics to anyone; the rest stays as it was", async () => {
    const open = await openTarget("app/pglite", { METRICS_PUBLIC: "true" });
    try {
      const metrics = await fetch(`${open.base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain("vxman_http_requests_total");
      expect((await fetch(`${open.base}/api/machines`)).status).toBe(401);
    } finally {
      await open.close();
    }
  });
});
