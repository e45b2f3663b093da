// Who may call what: ONE table of every route, checked against the routes the app really has
// (a new route that is not in the table fails the first test), then the 401/403/allowed cases
// of every row, table-driven, over real HTTP (and a real WebSocket for /ws/status).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { WEB_ROOT } from "../../src/web/index.ts";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target, type TargetName } from "../helpers/target.ts";

type Who = "open" | "register" | "read" | "admin";

interface Row {
  method: string;
  /** The route pattern as Elysia lists it. */
  route: string;
  who: Who;
  /** A concrete request to make. */
  path: string;
  body?: unknown;
  /** Statuses that mean "let in and handled". */
  ok: number[];
  /** Only present when CORS_ORIGINS is set. */
  corsOnly?: boolean;
  /** An open route that still judges a token it is sent (the answer for a wrong one). */
  wrongToken?: number;
}

const IP = "127.20.0.1"; // the machine the table's requests refer to (registered in beforeAll)
const MISSING_ID = "999999999"; // DELETE aims at no machine: getting past auth is what is checked

// THE table. /metrics is admin unless METRICS_PUBLIC (tested below); /ws/status is read.
const ROUTES: Row[] = [
  { method: "GET", route: "/health", who: "open", path: "/health", ok: [200] },
  { method: "GET", route: "/docs", who: "open", path: "/docs", ok: [200] },
  { method: "GET", route: "/docs/json", who: "open", path: "/docs/json", ok: [200] },
  { method: "GET", route: "/register.sh", who: "open", path: "/register.sh", ok: [200] },
  { method: "GET", route: "/", who: "open", path: "/", ok: [200] },
  { method: "GET", route: "/favicon.ico", who: "open", path: "/favicon.ico", ok: [301] },
  // Open: it says what the token sent opens (the dashboard's login), so a wrong token is a 403.
  { method: "GET", route: "/api/whoami", who: "open", path: "/api/whoami", ok: [200], wrongToken: 403 },
  { method: "PUT", route: "/api/machines/:machine", who: "register", path: `/api/machines/${IP}`, body: machineBody(1), ok: [200, 201] },
  { method: "POST", route: "/api/machines/:machine/heartbeat", who: "register", path: `/api/machines/${IP}/heartbeat`, ok: [204] },
  { method: "GET", route: "/api/machines/", who: "read", path: "/api/machines", ok: [200] },
  { method: "GET", route: "/api/machines/:machine", who: "read", path: `/api/machines/${IP}`, ok: [200] },
  { method: "GET", route: "/api/machines/:machine/samples", who: "read", path: `/api/machines/${IP}/samples`, ok: [200] },
  { method: "GET", route: "/api/events", who: "read", path: "/api/events", ok: [200] },
  { method: "DELETE", route: "/api/machines/:machine", who: "admin", path: `/api/machines/${MISSING_ID}`, ok: [404] },
  { method: "GET", route: "/metrics", who: "admin", path: "/metrics", ok: [200] },
  { method: "WS", route: "/ws/status", who: "read", path: "/ws/status", ok: [101] },
  { method: "OPTIONS", route: "/", who: "open", path: "/", ok: [204], corsOnly: true },
  { method: "OPTIONS", route: "/*", who: "open", path: `/api/machines/${IP}`, ok: [204], corsOnly: true },
];

/** Every built dashboard/docs file (HTML pages have their own rows) is served openly at its path. */
const staticRows = async (): Promise<Row[]> =>
  readdirSync(WEB_ROOT, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && !f.name.endsWith(".html"))
    .map((f) => `${f.parentPath.slice(WEB_ROOT.length)}/${f.name}`)
    .map((path) => ({ method: "GET", route: path, who: "open" as const, path, ok: [200] }));

const REGISTRATION_TOKEN = "registration-token-0123456789";
const READ_TOKEN = "read-token-0123456789-abcdef";
const TOKENS: Record<Exclude<Who, "open">, string> = { admin: ADMIN_TOKEN, register: REGISTRATION_TOKEN, read: READ_TOKEN };

type Served = Target;

// The table is checked in-process (pglite) and on the compiled binary over HTTP.
const ACCESS_TARGETS: TargetName[] = TARGETS.filter((n) => n !== "app/postgres");

/** One request as the row describes it; a WebSocket upgrade for WS rows. Returns status and headers. */
async function call(s: Served, row: Row, token?: string, how: "header" | "subprotocol" = "header"): Promise<{ status: number; headers: Headers; body: string }> {
  const headers: Record<string, string> = {};
  if (token !== undefined && how === "header") headers.authorization = `Bearer ${token}`;
  if (row.method === "WS") {
    Object.assign(headers, { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" });
    if (token !== undefined && how === "subprotocol") headers["sec-websocket-protocol"] = `vxman, bearer.${Buffer.from(token).toString("base64url")}`;
    const res = await fetch(`${s.base}${row.path}`, { headers, redirect: "manual", signal: AbortSignal.timeout(5000) });
    const body = res.status === 101 ? "" : await res.text();
    return { status: res.status, headers: res.headers, body };
  }
  if (row.method === "OPTIONS") Object.assign(headers, { origin: "https://admin.example", "access-control-request-method": "PUT" });
  if (row.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${s.base}${row.path}`, {
    method: row.method,
    redirect: "manual",
    headers,
    body: row.body === undefined ? undefined : JSON.stringify(row.body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const label = (r: Row) => `${r.method} ${r.route}`;

/** The status when the row allows it, else what was allowed: compared with toEqual, a failure
 *  shows the route, the token and both sides. */
const allowed = (row: Row, status: number): number | string => (row.ok.includes(status) ? status : `one of ${row.ok.join("/")}`);

describe("the access table covers every route", () => {
  test("every route of the app is in the table, and every row is a route of the app", async () => {
    // With CORS_ORIGINS set, so the preflight routes the CORS plugin adds are listed too.
    const s = await openTarget("app/pglite", { CORS_ORIGINS: "https://admin.example" });
    try {
      const table = [...ROUTES, ...(await staticRows())];
      const known = new Set(table.map(label));
      const actual = s.app!.routes.map((r) => `${r.method} ${r.path}`);
      const missing = actual.filter((r) => !known.has(r));
      expect(missing).toEqual([]); // a route here is not in the access table: add it with who may call it
      const stale = table.map(label).filter((r) => !actual.includes(r));
      expect(stale).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

for (const name of ACCESS_TARGETS) describe(`with REGISTRATION_TOKEN and READ_TOKEN set (${name})`, () => {
  let s: Served;
  let rows: Row[];
  beforeAll(async () => {
    s = await openTarget(name, { REGISTRATION_TOKEN, READ_TOKEN, CORS_ORIGINS: "https://admin.example" });
    rows = [...ROUTES, ...(await staticRows())];
    const put = await call(s, ROUTES.find((r) => r.method === "PUT")!, REGISTRATION_TOKEN);
    expect(put.status).toBe(201);
  }, 120_000);
  afterAll(() => s.close());

  test.each(ROUTES.filter((r) => r.who !== "open").map((r) => [label(r), r] as const))(
    "%s: no token 401 with WWW-Authenticate, a wrong token 403, the right one and admin let in",
    async (_name, row) => {
      const none = await call(s, row);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="vxman"');
      expect(JSON.parse(none.body)).toMatchObject({ error: "unauthorized" });

      const wrong = await call(s, row, "not-a-token-of-this-server-42");
      expect(wrong.status).toBe(403);
      expect(JSON.parse(wrong.body)).toMatchObject({ error: "forbidden" });

      // The other roles' tokens are wrong tokens here (only admin opens everything).
      for (const [who, token] of Object.entries(TOKENS)) {
        const res = await call(s, row, token);
        if (who === row.who || who === "admin") expect({ who, status: res.status as unknown }).toEqual({ who, status: allowed(row, res.status) });
        else expect({ who, status: res.status as unknown }).toEqual({ who, status: 403 });
      }
    },
  );

  test("every open route (static files included) answers without a token and ignores a wrong one", async () => {
    const open = rows.filter((r) => r.who === "open");
    expect(open.length).toBeGreaterThan(8);
    for (const row of open) {
      const none = await call(s, row);
      expect({ route: label(row), status: none.status as unknown }).toEqual({ route: label(row), status: allowed(row, none.status) });
      const wrong = await call(s, row, "not-a-token-of-this-server-42");
      const expected = row.wrongToken ?? allowed(row, wrong.status);
      expect({ route: label(row), status: wrong.status as unknown }).toEqual({ route: label(row), status: expected });
    }
  });

  test("/api/whoami names the role of the token sent, and nothing opens more than it should", async () => {
    const whoami = async (token?: string) => {
      const res = await fetch(`${s.base}/api/whoami`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, body: await res.json() };
    };
    expect(await whoami()).toEqual({ status: 200, body: { role: "anonymous", reads_need_token: true } });
    expect(await whoami(READ_TOKEN)).toEqual({ status: 200, body: { role: "reader", reads_need_token: true } });
    expect(await whoami(ADMIN_TOKEN)).toEqual({ status: 200, body: { role: "admin", reads_need_token: true } });
    expect((await whoami(REGISTRATION_TOKEN)).status).toBe(403);
  });

  test("/ws/status: the read or admin token as a subprotocol (how a browser sends it) opens the socket", async () => {
    const ws = ROUTES.find((r) => r.method === "WS")!;
    expect((await call(s, ws, READ_TOKEN, "subprotocol")).status).toBe(101);
    expect((await call(s, ws, ADMIN_TOKEN, "subprotocol")).status).toBe(101);
    expect((await call(s, ws, REGISTRATION_TOKEN, "subprotocol")).status).toBe(403);
    expect((await call(s, ws, "not-a-token-of-this-server-42", "subprotocol")).status).toBe(403);
    // And a real WebSocket client gets hello + snapshot with the read token.
    const socket = new WebSocket(`${s.base.replace("http", "ws")}/ws/status`, ["vxman", `bearer.${Buffer.from(READ_TOKEN).toString("base64url")}`]);
    try {
      const first = await new Promise<{ type: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no hello within 5 s")), 5000);
        socket.onmessage = (e) => (clearTimeout(timer), resolve(JSON.parse(String(e.data))));
        socket.onclose = (e) => (clearTimeout(timer), reject(new Error(`closed ${e.code} ${e.reason}`)));
      });
      expect(first.type).toBe("hello");
      expect(socket.protocol).toBe("vxman"); // the token is never echoed back
    } finally {
      socket.close();
    }
  });

  test("malformed Authorization headers and tokens of any length: 401 or 403, never a 500", async () => {
    const admin = ROUTES.find((r) => r.method === "DELETE")!;
    const read = ROUTES.find((r) => r.route === "/api/machines/")!;
    const headers: [string, number][] = [
      ["", 401],
      ["Bearer", 401],
      ["Bearer ", 401],
      ["Basic YWRtaW46YWRtaW4=", 401],
      [`Token ${ADMIN_TOKEN}`, 401],
      [`Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`, 401],
      ["Bearer x", 403],
      [`Bearer ${ADMIN_TOKEN.slice(0, -1)}`, 403], // a prefix of the right token
      [`Bearer ${ADMIN_TOKEN}x`, 403], // the right token and one more character
      [`Bearer ${ADMIN_TOKEN.toUpperCase()}`, 403],
      [`Bearer ${"a".repeat(4096)}`, 403],
      [`Bearer ${"\u00ff".repeat(64)}`, 403], // Latin-1 bytes, not ASCII
      [`Bearer ${READ_TOKEN}`, 403], // the read token is not the admin token
    ];
    for (const [authorization, expected] of headers) {
      const res = await fetch(`${s.base}${admin.path}`, { method: "DELETE", headers: authorization ? { authorization } : {} });
      expect({ authorization: authorization.slice(0, 40), status: res.status }).toEqual({ authorization: authorization.slice(0, 40), status: expected });
      expect(res.headers.get("content-type")).toContain("application/json");
    }
    // Case of the scheme and trailing space do not matter; the token itself does.
    expect((await fetch(`${s.base}${admin.path}`, { method: "DELETE", headers: { authorization: `bearer ${ADMIN_TOKEN}  ` } })).status).toBe(404);
    // A 64 KiB token in process (a socket would refuse headers that big first).
    if (!s.binary) {
      const huge = await s.request("GET", read.path, { headers: { authorization: `Bearer ${"z".repeat(65_536)}` } });
      expect(huge.status).toBe(403);
    }
  });
});

for (const name of ACCESS_TARGETS) describe(`with the defaults (no REGISTRATION_TOKEN, no READ_TOKEN) (${name})`, () => {
  let s: Served;
  beforeAll(async () => {
    s = await openTarget(name, {});
    expect((await call(s, ROUTES.find((r) => r.method === "PUT")!)).status).toBe(201);
  }, 120_000);
  afterAll(() => s.close());

  test.each(ROUTES.filter((r) => !r.corsOnly).map((r) => [label(r), r] as const))("%s", async (_name, row) => {
    const none = await call(s, row);
    if (row.who === "admin") {
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="vxman"');
      expect((await call(s, row, "not-a-token-of-this-server-42")).status).toBe(403);
      expect(row.ok).toContain((await call(s, row, ADMIN_TOKEN)).status);
    } else {
      // Registration and reads are open by default (the seeds' choice); a stray token changes nothing
      // (but /api/whoami, which judges tokens).
      expect(row.ok).toContain(none.status);
      const wrong = (await call(s, row, "not-a-token-of-this-server-42")).status;
      if (row.wrongToken) expect(wrong).toBe(row.wrongToken);
      else expect(row.ok).toContain(wrong);
    }
  });
});

test("METRICS_PUBLIC serves /metrics without a token; the rest stays as it was", async () => {
  const s = await openTarget("app/pglite", { METRICS_PUBLIC: "true", READ_TOKEN });
  try {
    const metrics = await fetch(`${s.base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("vxman_http_requests_total");
    expect((await fetch(`${s.base}/api/machines/1`, { method: "DELETE" })).status).toBe(401);
    expect((await fetch(`${s.base}/api/machines`)).status).toBe(401);
  } finally {
    await s.close();
  }
});
