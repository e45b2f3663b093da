// People over HTTP, in-process and on the compiled binary: users and the password policy,
// logging in and out, the session cookie, idle and absolute expiry, changing and resetting
// passwords, sessions and personal tokens, login throttling, and who did what in the event log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target, type TargetName } from "../helpers/target.ts";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PASSWORD = "a-long-enough-passphrase";

interface Answer {
  status: number;
  json: any;
  cookie: string | null;
  setCookie: string | null;
}

for (const name of TARGETS.filter((n): n is TargetName => n !== "app/postgres")) {
  describe(`people (${name})`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await openTarget(name, { TRUST_PROXY: "true" });
    }, 120_000);
    afterAll(() => t.close());

    /** A request over HTTP (the cookie travels as a browser's would). */
    async function send(method: string, path: string, { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
      const res = await fetch(`${t.base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const setCookie = res.headers.get("set-cookie");
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null, setCookie, cookie: setCookie ? setCookie.split(";")[0]! : null };
    }
    const addUser = (username: string, role = "viewer", password = PASSWORD) => send("POST", "/api/users", { body: { username, role, password }, headers: admin });
    const login = (username: string, password = PASSWORD, headers: Record<string, string> = {}) => send("POST", "/api/session", { body: { username, password }, headers });
    /** A distinct client address per scenario (behind TRUST_PROXY), so the login throttle of one does not reach another. */
    let clients = 0;
    const client = () => ({ "x-forwarded-for": `198.18.200.${++clients}` });

    test("a user is added once (names are not case-sensitive); weak passwords and bad names are refused, naming the field", async () => {
      expect((await addUser("Alice", "operator")).status).toBe(201);
      const again = await addUser("alice");
      expect(again.status).toBe(409);
      expect(again.json.message).toContain("exists already");
      for (const [password, why] of [
        ["short-one", "at least 10 characters"],
        ["password123", "most common passwords"],
        ["QWERTYUIOP", "most common passwords"],
        ["bob-the-builder-99", "must not contain the user name"],
        ["aaaaaaaaaaaa", "repeat so few characters"],
      ]) {
        const res = await addUser("bob", "viewer", password);
        expect({ password, status: res.status, details: res.json.details }).toEqual({ password, status: 422, details: [{ field: "password", message: expect.stringContaining(why!) }] });
      }
      const badName = await addUser("-starts-with-a-dash");
      expect(badName.status).toBe(422);
      expect(badName.json.details[0].field).toBe("username");
      const unknownRole = await addUser("carol", "superuser");
      expect(unknownRole.json.details[0]).toEqual({ field: "role", message: "must be viewer, operator or admin" });
      const list = await send("GET", "/api/users", { headers: admin });
      expect(list.json.items.map((u: { username: string }) => u.username)).toEqual(["Alice"]);
      expect(JSON.stringify(list.json)).not.toContain("password");
    });

    test("logging in sets a strict, HttpOnly session cookie; who-am-I follows it; logging out ends it", async () => {
      const res = await login("ALICE"); // any case
      expect(res.status).toBe(200);
      expect(res.json.user).toMatchObject({ username: "Alice", role: "operator" });
      expect(JSON.stringify(res.json)).not.toMatch(/password|hash|argon/i);
      const attributes = res.setCookie!.split(";").map((a) => a.trim());
      expect(attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"]));
      expect(attributes).not.toContain("Secure"); // served over plain HTTP here
      const me = await send("GET", "/api/session", { headers: { cookie: res.cookie! } });
      expect(me.json).toMatchObject({ authenticated: true, via: "session", role: "operator", user: { username: "Alice" }, users_exist: true });
      const out = await send("DELETE", "/api/session", { headers: { cookie: res.cookie! } });
      expect(out.status).toBe(204);
      expect(out.setCookie).toContain("Max-Age=0");
      const after = await send("GET", "/api/machines", { headers: { cookie: res.cookie! } });
      expect(after.status).toBe(401);
      expect(after.json.message).toContain("session has ended");
    });

    test("a dashboard's socket closes (4001) when its session ends; who-am-I then says the session ended", async () => {
      await addUser("nina");
      const cookie = (await login("nina")).cookie!;
      const ws = new WebSocket(`${t.base.replace("http", "ws")}/ws/status`, { headers: { cookie }, protocols: ["vxman"] } as never);
      const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
      await new Promise((resolve, reject) => {
        ws.addEventListener("message", resolve, { once: true });
        ws.addEventListener("close", () => reject(new Error("closed before any message")), { once: true });
      });
      expect((await send("DELETE", "/api/session", { headers: { cookie } })).status).toBe(204);
      expect(await Promise.race([closed, Bun.sleep(5000).then(() => "still open")])).toBe(4001);
      expect((await send("GET", "/api/session", { headers: { cookie } })).json).toMatchObject({ authenticated: false, session_ended: true });
      expect((await send("GET", "/api/session")).json.session_ended).toBe(false);
    });

    test("behind TRUST_PROXY with X-Forwarded-Proto: https the cookie is Secure", async () => {
      const res = await login("alice", PASSWORD, { "x-forwarded-proto": "https" });
      expect(res.setCookie!.split(";").map((a) => a.trim())).toContain("Secure");
    });

    test("a wrong password, an unknown user and a disabled user get the same answer; each failure is counted", async () => {
      await addUser("dora");
      const id = (await send("GET", "/api/users", { headers: admin })).json.items.find((u: { username: string }) => u.username === "dora").id;
      expect((await send("PATCH", `/api/users/${id}`, { body: { disabled: true }, headers: admin })).status).toBe(200);
      const answers = [await login("alice", "not-the-password-1", client()), await login("no-such-user", PASSWORD, client()), await login("dora", PASSWORD, client())];
      for (const a of answers) expect({ status: a.status, json: a.json }).toEqual({ status: 401, json: { error: "unauthorized", message: "Wrong user name or password." } });
      const metrics = await (await fetch(`${t.base}/metrics`, { headers: admin })).text();
      for (const reason of ["wrong_password", "unknown_user", "disabled"]) expect(metrics).toMatch(new RegExp(`^vxman_login_failures_total\\{reason="${reason}"\\} [1-9]`, "m"));
    });

    test("throttling: after 5 failures for an account, 429 with Retry-After — for the right password too — until the wait is over", async () => {
      await addUser("erin");
      for (let i = 0; i < 5; i++) expect((await login("erin", `wrong-password-${i}`, client())).status).toBe(401);
      const blocked = await login("erin", PASSWORD, client());
      expect(blocked.status).toBe(429);
      expect(blocked.json.error).toBe("too_many_logins");
      // And per client: five failures from one address, on five different (even unknown) names.
      const from = client();
      for (let i = 0; i < 5; i++) expect((await login(`nobody-${i}`, "wrong-password-x", from)).status).toBe(401);
      expect((await login("alice", PASSWORD, from)).status).toBe(429);
      expect((await login("alice", PASSWORD, client())).status).toBe(200); // another address, another account: fine
    });

    test("changing one's password needs the current one and ends the other sessions, not this one; an admin reset ends all", async () => {
      await addUser("frank");
      const a = (await login("frank")).cookie!;
      const b = (await login("frank")).cookie!;
      const wrong = await send("PUT", "/api/session/password", { body: { current_password: "not-my-password", new_password: "brand-new-passphrase" }, headers: { cookie: a } });
      expect(wrong.status).toBe(422);
      expect(wrong.json.details[0].field).toBe("current_password");
      const weak = await send("PUT", "/api/session/password", { body: { current_password: PASSWORD, new_password: "1234567890" }, headers: { cookie: a } });
      expect(weak.json.details[0].field).toBe("new_password");
      expect((await send("PUT", "/api/session/password", { body: { current_password: PASSWORD, new_password: "brand-new-passphrase" }, headers: { cookie: a } })).status).toBe(204);
      expect((await send("GET", "/api/session", { headers: { cookie: a } })).json.authenticated).toBe(true);
      expect((await send("GET", "/api/session", { headers: { cookie: b } })).json.authenticated).toBe(false);
      expect((await login("frank")).status).toBe(401);
      expect((await login("frank", "brand-new-passphrase")).status).toBe(200);

      const id = (await send("GET", "/api/session", { headers: { cookie: a } })).json.user.id;
      expect((await send("PATCH", `/api/users/${id}`, { body: { password: "reset-by-an-admin-1" }, headers: admin })).status).toBe(200);
      expect((await send("GET", "/api/session", { headers: { cookie: a } })).json.authenticated).toBe(false);
    });

    test("sessions end when idle too long or past their lifetime; users see and end their own, admins anyone's", async () => {
      await addUser("gina");
      await addUser("hugo");
      const gina = (await login("gina")).cookie!;
      const gina2 = (await login("gina")).cookie!;
      const hugo = (await login("hugo")).cookie!;
      const mine = await send("GET", "/api/sessions", { headers: { cookie: gina } });
      expect(mine.json.items.map((s: { username: string }) => s.username)).toEqual(["gina", "gina"]);
      expect(mine.json.items.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
      const hugos = (await send("GET", "/api/sessions", { headers: { cookie: hugo } })).json.items[0].id;
      expect((await send("DELETE", `/api/sessions/${hugos}`, { headers: { cookie: gina } })).status).toBe(404); // not hers
      expect((await send("GET", `/api/sessions?user_id=${hugos}`, { headers: { cookie: gina } })).status).toBe(403);
      const other = mine.json.items.find((s: { current: boolean }) => !s.current).id;
      expect((await send("DELETE", `/api/sessions/${other}`, { headers: { cookie: gina } })).status).toBe(204);
      expect((await send("GET", "/api/session", { headers: { cookie: gina2 } })).json.authenticated).toBe(false);
      expect((await send("DELETE", `/api/sessions/${hugos}`, { headers: admin })).status).toBe(204);
      expect((await send("GET", "/api/session", { headers: { cookie: hugo } })).json.authenticated).toBe(false);

      // Idle past SESSION_IDLE_TIMEOUT (12 h by default), then past SESSION_LIFETIME: made so in the database.
      const idle = (await login("gina")).cookie!;
      await t.db.query("UPDATE sessions SET last_used_at = now() - interval '13 hours' WHERE user_id = (SELECT id FROM users WHERE username = 'gina')");
      expect((await send("GET", "/api/machines", { headers: { cookie: idle } })).status).toBe(401);
      const old = (await login("gina")).cookie!;
      await t.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE username = 'gina')");
      expect((await send("GET", "/api/machines", { headers: { cookie: old } })).status).toBe(401);
    });

    test("personal tokens: shown once, stored as a digest, at most the owner's role, revocable, and never more than the owner may do now", async () => {
      await addUser("ivan", "operator");
      const cookie = (await login("ivan")).cookie!;
      const higher = await send("POST", "/api/tokens", { body: { name: "too much", role: "admin" }, headers: { cookie } });
      expect(higher.status).toBe(403);
      const made = await send("POST", "/api/tokens", { body: { name: "ci", expires_in_days: 30 }, headers: { cookie } });
      expect(made.status).toBe(201);
      expect(made.json).toMatchObject({ name: "ci", role: "operator", username: "ivan", prefix: made.json.token.slice(0, 10) });
      expect(made.json.token).toMatch(/^vxm_[A-Za-z0-9_-]{43}$/);
      // Nothing in the table holds the token, in any encoding it could be stored in.
      const [row] = await t.db.query<{ all: string }>("SELECT row_to_json(t)::text AS all FROM api_tokens t WHERE id = $1", [made.json.id]);
      for (const form of [made.json.token, made.json.token.slice(4), Buffer.from(made.json.token).toString("hex")]) expect(row!.all).not.toContain(form);
      const listed = await send("GET", "/api/tokens", { headers: { cookie } });
      expect(JSON.stringify(listed.json)).not.toContain(made.json.token);
      const bearer = { authorization: `Bearer ${made.json.token}` };
      const put = await send("PUT", "/api/machines/127.21.0.1", { body: machineBody(1), headers: bearer });
      expect(put.status).toBe(201);
      expect((await send("POST", "/api/machines/127.21.0.1/check", { headers: bearer })).status).not.toBe(403);
      expect((await send("DELETE", `/api/machines/${put.json.id}`, { headers: bearer })).status).toBe(403);
      // The owner is demoted: the token opens only viewer routes now.
      const id = made.json.user_id;
      expect((await send("PATCH", `/api/users/${id}`, { body: { role: "viewer" }, headers: admin })).status).toBe(200);
      expect((await send("POST", "/api/machines/127.21.0.1/check", { headers: bearer })).status).toBe(403);
      expect((await send("GET", "/api/machines", { headers: bearer })).status).toBe(200);
      expect((await send("DELETE", `/api/tokens/${made.json.id}`, { headers: { cookie } })).status).toBe(204);
      expect((await send("GET", "/api/machines", { headers: bearer })).status).toBe(403);
      const revoked = (await send("GET", "/api/tokens", { headers: { cookie } })).json.items[0];
      expect(revoked.revoked_at).not.toBeNull();
    });

    test("an admin cannot change their own role or disable themselves (another admin or the CLI can)", async () => {
      await addUser("judy", "admin");
      const cookie = (await login("judy")).cookie!;
      const me = (await send("GET", "/api/session", { headers: { cookie } })).json.user.id;
      const demote = await send("PATCH", `/api/users/${me}`, { body: { role: "viewer" }, headers: { cookie } });
      expect(demote.status).toBe(409);
      expect(demote.json.error).toBe("own_account");
      expect((await send("PATCH", `/api/users/${me}`, { body: { display_name: "Judy H." }, headers: { cookie } })).status).toBe(200);
    });

    test("the event log says who did what from where; people's changes are for admins only; ?actor filters", async () => {
      await addUser("kate", "admin");
      const cookie = (await login("kate")).cookie!;
      const reg = await send("PUT", "/api/machines/127.21.0.2", { body: machineBody(2) });
      await send("PATCH", `/api/machines/${reg.json.id}`, { body: { notes: "rack 4, slot 2" }, headers: { cookie } });
      await send("DELETE", `/api/machines/${reg.json.id}`, { headers: { cookie } });
      const events = (await send("GET", `/api/events?machine_id=${reg.json.id}`, { headers: admin })).json.items;
      expect(events.map((e: { kind: string; actor: string }) => [e.kind, e.actor])).toEqual([
        ["deleted", "kate"],
        ["notes_changed", "kate"],
        ["registered", "anonymous"],
      ]);
      expect(events[0].actor_address).toBe("127.0.0.1");
      expect(events[1].details).toEqual({ notes: { old: "", new: "rack 4, slot 2" } });
      const byKate = (await send("GET", "/api/events?actor=kate", { headers: admin })).json.items;
      expect(new Set(byKate.map((e: { actor: string }) => e.actor))).toEqual(new Set(["kate"]));
      const adminSees = (await send("GET", "/api/events?kind=user_created", { headers: admin })).json.items;
      expect(adminSees.length).toBeGreaterThan(5);
      expect(adminSees.every((e: { actor: string }) => e.actor === "admin-token")).toBe(true);
      await addUser("leo");
      const viewer = (await login("leo")).cookie!;
      expect((await send("GET", "/api/events?kind=user_created", { headers: { cookie: viewer } })).json.items).toEqual([]);
      const seen = (await send("GET", "/api/events?limit=1000", { headers: { cookie: viewer } })).json.items.map((e: { kind: string }) => e.kind);
      expect(seen.filter((k: string) => /user|token|password|session/.test(k))).toEqual([]);
    });

    if (name.startsWith("binary")) {
      test("no password, session secret or token ever reaches the log", async () => {
        await addUser("mona");
        const secretLogin = "mona-secret-passphrase";
        await login("mona", secretLogin);
        const cookie = (await login("mona")).cookie!;
        const token = (await send("POST", "/api/tokens", { body: { name: "log-check" }, headers: { cookie } })).json.token;
        await send("PUT", "/api/session/password", { body: { current_password: PASSWORD, new_password: "mona-new-passphrase" }, headers: { cookie } });
        const log = t.output();
        expect(log).toContain('"msg":"login failed"');
        expect(log).toContain('"msg":"logged in"');
        for (const secret of [PASSWORD, secretLogin, "mona-new-passphrase", cookie.split("=")[1]!, token]) expect(log).not.toContain(secret);
        // Each failure is logged exactly once.
        const failures = log.split("\n").filter((l) => l.includes('"msg":"login failed"') && l.includes('"username":"mona"'));
        expect(failures).toHaveLength(1);
      });
    }
  });
}
