// People in the dashboard, in Chromium, against the compiled binary on PostgreSQL (so a test can
// expire a session in the database): logging in and out, sessions that end under the page, what
// each role is offered, the users page, passwords, API tokens, the audit view, and pages of
// other origins trying to act with the admin's cookie. Every page is checked for script errors,
// CSP violations and alert dialogs; nothing may be kept in web storage.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import type { Machine } from "../../src/api/machines/model.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { addUser, ARTIFACTS, closeClean, go, launchBrowser, logIn, logOut, type Browser, type TestUser, type WatchedPage } from "../helpers/browser.ts";
import { createTestHost, type TestHost } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ADMIN_TOKEN = "people-e2e-admin-token-0123456789";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
const ENDED = "Your session has ended; log in again.";
const FAST_MONITOR = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "400ms", FAILURE_THRESHOLD: "2" };

describe.skipIf(!needs("chromium") || !needs("root", "netns"))("people in the dashboard (Chromium, compiled binary, PostgreSQL)", () => {
  let served: ServedBinary;
  let browser: Browser;
  let host: TestHost;
  let sql: postgres.Sql;
  let adam: TestUser, olga: TestUser, vera: TestUser;
  let alive: Machine, dead: Machine;

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const asAdmin = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${served.base}${path}`, { ...init, headers: { ...admin, ...init.headers } });
    return (res.status === 204 ? undefined : await res.json()) as T;
  };

  async function register(ip: string, hostname: string): Promise<Machine> {
    const res = await fetch(`${served.base}/api/machines/${ip}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname, mac_address: `52:54:00:77:00:${ip.split(".").at(-1)!.padStart(2, "0").slice(-2)}` }),
    });
    expect([200, 201]).toContain(res.status);
    return res.json();
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    host = await createTestHost();
    const url = await (await sharedPgCluster()).createDatabase();
    sql = postgres(url, { max: 1, onnotice: () => {} });
    served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", DATABASE_URL: url, ...FAST_MONITOR });
    browser = await launchBrowser();
    adam = await addUser(served.base, ADMIN_TOKEN, "adam", "admin");
    olga = await addUser(served.base, ADMIN_TOKEN, "olga", "operator");
    vera = await addUser(served.base, ADMIN_TOKEN, "vera", "viewer");
    alive = await register("127.7.0.1", "alive-node");
    dead = await register(host.unroutedIp, "dead-node");
    await waitFor("the monitor to find dead-node unreachable", async () => (await asAdmin<Machine>(`/api/machines/${dead.id}`)).status === "unreachable", 15_000);
  }, 120_000);
  afterAll(async () => {
    try {
      await browser?.close();
      await served?.stop();
      await sql?.end();
    } finally {
      await host?.destroy();
    }
  }, 30_000);

  /** A page of its own (own cookies); logged in as `user` when one is given. */
  async function open(user: TestUser | null, viewport = DESKTOP, hash = ""): Promise<WatchedPage> {
    const p = await browser.page(viewport);
    await p.page.goto(`${served.base}/${hash}`);
    if (user) {
      await logIn(p, user);
      await p.page.locator('[data-state="connected"]').waitFor();
    }
    return p;
  }

  const webStorage = (p: WatchedPage) => p.page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
  const menu = async (p: WatchedPage, item: string) => {
    await p.page.locator(".menu-button").click();
    await p.page.locator(".menu-list").getByRole("link", { name: item }).click();
  };
  /** Something the page must ask the server for: a machine's page loads its events. */
  const openMachinePage = (p: WatchedPage, m: Machine) => p.page.locator(`[data-id="${m.id}"]`).getByRole("link", { name: m.hostname }).click();
  const noSideScroll = (p: WatchedPage) => p.page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

  test("log in: a wrong password in words, the right one opens the dashboard; log out; nothing in web storage", async () => {
    const p = await open(null);
    await p.page.getByRole("heading", { name: "Log in" }).waitFor();
    await p.page.waitForFunction(() => document.activeElement?.id === "login-username");
    await p.page.getByLabel("User name", { exact: true }).fill("vera");
    await p.page.getByLabel("Password", { exact: true }).fill("not-her-password-at-all");
    await p.page.keyboard.press("Enter");
    await p.page.getByRole("alert").getByText("Wrong user name or password.").waitFor();
    expect(await p.page.locator(".menu-button").count()).toBe(0);
    await p.page.screenshot({ path: join(ARTIFACTS, "people-login-wrong.png") });

    await logIn(p, vera);
    await p.page.locator('[data-state="connected"]').waitFor();
    await p.page.locator(`[data-id="${alive.id}"]`).waitFor();
    await p.page.locator(".menu-button .tag").getByText("viewer").waitFor();
    const [cookie] = await p.page.context().cookies();
    expect(cookie).toMatchObject({ name: "vxman_session", httpOnly: true, sameSite: "Strict" });
    expect(await p.page.evaluate(() => document.cookie)).toBe(""); // HttpOnly: no script sees it
    expect(await webStorage(p)).toEqual({ local: 0, session: 0 });

    await logOut(p);
    expect(await asAdmin<{ items: unknown[] }>(`/api/sessions?user_id=${vera.id}`)).toEqual({ items: [] });
    expect(await p.page.context().cookies()).toEqual([]);
    await p.page.reload();
    await p.page.getByLabel("User name", { exact: true }).waitFor();
    expect(await webStorage(p)).toEqual({ local: 0, session: 0 });
    await closeClean(p);
  }, 60_000);

  test("what each role is offered: viewer nothing, operator check now and notes, admin delete and people too", async () => {
    const offered = async (user: TestUser) => {
      const p = await open(user);
      const deadRow = p.page.locator(`[role="row"][data-id="${dead.id}"]`);
      await deadRow.locator(".status").getByText("○ unreachable").waitFor();
      const counts = {
        deleteInList: await deadRow.getByRole("button", { name: /^Delete/ }).count(),
        users: await p.page.getByRole("link", { name: "Users", exact: true }).count(),
        audit: await p.page.getByRole("link", { name: "Audit log", exact: true }).count(),
      };
      await go(p, `#/machines/${dead.id}`);
      await p.page.locator("#detail-h").getByText("dead-node").waitFor();
      await p.page.locator(".events li").first().waitFor();
      const onPage = {
        check: await p.page.getByRole("button", { name: "Check now" }).count(),
        notes: await p.page.getByRole("button", { name: "Edit notes" }).count(),
        delete: await p.page.getByRole("button", { name: "Delete machine" }).count(),
      };
      return { p, offered: { ...counts, ...onPage } };
    };
    const viewer = await offered(vera);
    expect(viewer.offered).toEqual({ deleteInList: 0, users: 0, audit: 0, check: 0, notes: 0, delete: 0 });
    const operator = await offered(olga);
    expect(operator.offered).toEqual({ deleteInList: 0, users: 0, audit: 0, check: 1, notes: 1, delete: 0 });
    const boss = await offered(adam);
    expect(boss.offered).toEqual({ deleteInList: 1, users: 1, audit: 1, check: 1, notes: 1, delete: 1 });
    // A viewer who types the address of an admin page is told, and given nothing to use.
    await go(viewer.p, "#/users");
    await viewer.p.page.getByText("Users are managed by admins.").waitFor();
    expect(await viewer.p.page.locator("table").count()).toBe(0);

    // The operator checks the dead machine now and sees the answer...
    const o = operator.p.page;
    await o.getByRole("button", { name: "Check now" }).click();
    await o.locator(".check-result").getByText(/Status: unreachable\./).waitFor();
    // ...then the live one.
    await go(operator.p, `#/machines/${alive.id}`);
    await o.locator("#detail-h").getByText("alive-node").waitFor();
    await o.getByRole("button", { name: "Check now" }).click();
    await o.locator(".check-result").getByText(/^Answered in .+ ms\. Status: active\.$/).waitFor();

    // Notes: edited by the operator, seen live by the viewer (shown as text, never as markup).
    await go(viewer.p, `#/machines/${alive.id}`);
    await viewer.p.page.getByText("No notes.").waitFor();
    const notes = "Rack 7, slot 3 <img src=x onerror=alert(1)>\nspare PSU";
    await o.getByRole("button", { name: "Edit notes" }).click();
    await o.waitForFunction(() => document.activeElement?.id === "notes");
    await o.getByLabel("Notes").fill(notes);
    await operator.p.page.screenshot({ path: join(ARTIFACTS, "people-operator-notes-editing.png"), fullPage: true });
    await o.getByRole("button", { name: "Save notes" }).click();
    await o.locator(".notes-text").waitFor();
    expect(await o.locator(".notes-text").textContent()).toBe(notes);
    await o.locator('.events li[data-kind="notes_changed"]').getByText("olga", { exact: true }).waitFor();
    expect(await o.locator('.events li[data-kind="notes_changed"] .actor').first().textContent()).toBe("by olga from 127.0.0.1");
    await viewer.p.page.locator(".notes-text").getByText("Rack 7, slot 3", { exact: false }).waitFor();
    expect(await viewer.p.page.locator("#app img").count()).toBe(0);
    expect((await asAdmin<Machine>(`/api/machines/${alive.id}`)).notes).toBe(notes);
    await operator.p.page.screenshot({ path: join(ARTIFACTS, "people-operator-machine.png"), fullPage: true });
    await boss.p.page.screenshot({ path: join(ARTIFACTS, "people-admin-dead-machine.png"), fullPage: true });
    await closeClean(viewer.p, operator.p, boss.p);
  }, 60_000);

  test("a session that ends under the page (expired, revoked) leads back to the login form", async () => {
    const p = await open(vera);
    // Expired, in the database: the next call the page makes is refused.
    await sql`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = ${vera.id}`;
    await openMachinePage(p, alive);
    await p.page.getByRole("alert").getByText(ENDED).waitFor();
    expect(await p.page.evaluate(() => location.hash)).toBe(`#/machines/${alive.id}`);
    await logIn(p, vera);
    await p.page.locator("#detail-h").getByText("alive-node").waitFor(); // back where she was

    // Revoked by an admin, and the server restarted: the socket is refused (401), so the page
    // asks who it is, and shows the login form instead of reconnecting forever.
    const { items } = await asAdmin<{ items: { id: number }[] }>(`/api/sessions?user_id=${vera.id}`);
    expect(items).toHaveLength(1);
    await asAdmin(`/api/sessions/${items[0]!.id}`, { method: "DELETE" });
    await served.restart();
    await p.page.getByRole("alert").getByText(ENDED).waitFor({ timeout: 30_000 });
    await p.page.screenshot({ path: join(ARTIFACTS, "people-session-ended.png") });
    await closeClean(p);
  }, 90_000);

  test("my sessions: this browser marked; logging out another ends it there", async () => {
    const sam = await addUser(served.base, ADMIN_TOKEN, "samuel", "viewer");
    const here = await open(sam);
    const there = await open(sam, PHONE);
    await menu(here, "My sessions");
    const items = here.page.locator(".items li");
    await waitFor("both sessions listed", async () => (await items.count()) === 2, 10_000);
    await items.locator(".tag").getByText("current").waitFor();
    const current = here.page.locator(".items li.current");
    expect(await current.getByRole("button").count()).toBe(0); // this one ends with "Log out"
    await here.page.screenshot({ path: join(ARTIFACTS, "people-sessions.png") });
    await here.page.locator(".items li:not(.current)").getByRole("button", { name: /^Log out session/ }).click();
    await waitFor("the other session gone from the list", async () => (await items.count()) === 1, 10_000);
    // Its socket is closed at once (4001), so the other page shows the login form by itself.
    await there.page.getByRole("alert").getByText(ENDED).waitFor();
    await closeClean(here, there);
  }, 60_000);

  test("change password: the server's words at each field; success ends the other sessions", async () => {
    const pat = await addUser(served.base, ADMIN_TOKEN, "patricia", "viewer");
    const p = await open(pat);
    const other = await open(pat);
    await menu(p, "Change password");
    await p.page.getByRole("heading", { name: "Change password" }).waitFor();
    const fill = async (current: string, next: string, again = next) => {
      await p.page.getByLabel("Current password").fill(current);
      await p.page.getByLabel("New password", { exact: true }).fill(next);
      await p.page.getByLabel("New password again").fill(again);
      await p.page.getByRole("button", { name: "Change password" }).click();
    };
    const fieldError = (id: string) => p.page.locator(`#${id}-error`);
    await fill("not-the-password-123", "a-good-new-password-1");
    await fieldError("pw-current").getByText("is not your current password").waitFor();
    await fill(pat.password, "short");
    await fieldError("pw-new").getByText("must be at least 10 characters long").waitFor();
    await fill(pat.password, "Patricia-2026-long");
    await fieldError("pw-new").getByText("must not contain the user name").waitFor();
    await fill(pat.password, "a-good-new-password-1", "a-good-new-password-2");
    await fieldError("pw-again").getByText("The two new passwords differ.").waitFor();
    expect(await p.page.getByLabel("New password", { exact: true }).getAttribute("aria-invalid")).toBeNull();
    await p.page.screenshot({ path: join(ARTIFACTS, "people-password-mismatch.png") });
    await fill(pat.password, "a-good-new-password-1");
    await p.page.getByRole("status").getByText("Password changed.").waitFor();

    await other.page.getByRole("alert").getByText(ENDED).waitFor(); // the other session has ended, and its page says so by itself
    await logOut(p);
    await logIn(p, { username: "patricia", password: "a-good-new-password-1" });
    expect(await webStorage(p)).toEqual({ local: 0, session: 0 });
    await closeClean(p, other);
  }, 60_000);

  test("API tokens: created with a role up to mine, shown once, listed by prefix, revoked; never in web storage", async () => {
    const p = await open(olga, DESKTOP);
    await menu(p, "My API tokens");
    const roleSelect = p.page.getByLabel("Role", { exact: true });
    expect(await roleSelect.locator("option").allTextContents()).toEqual(["viewer", "operator"]); // not admin
    await p.page.getByLabel("Name", { exact: true }).fill("ci-deploy");
    await roleSelect.selectOption("viewer");
    await p.page.getByLabel("Expires").selectOption({ label: "in 30 days" });
    await p.page.getByRole("button", { name: "Create token" }).click();
    const shown = p.page.getByLabel("The new token");
    await shown.waitFor();
    await p.page.getByText("you will not see it again").waitFor();
    const token = await shown.inputValue();
    expect(token).toMatch(/^vxm_/);
    await p.page.getByRole("button", { name: "Copy" }).click();
    await p.page.getByText(/^(Copied\.|Selected: press)/).waitFor();
    await p.page.screenshot({ path: join(ARTIFACTS, "people-token-shown-once.png") });
    const whoIsToken = () => fetch(`${served.base}/api/session`, { headers: { authorization: `Bearer ${token}` } });
    expect(await (await whoIsToken()).json()).toMatchObject({ authenticated: true, via: "api-token", role: "viewer" });
    expect(await webStorage(p)).toEqual({ local: 0, session: 0 });

    await p.page.getByRole("button", { name: "I have copied it" }).click();
    const item = p.page.locator(".items li").filter({ hasText: "ci-deploy" });
    await item.getByText(`${token.slice(0, 10)}…`).waitFor();
    expect(await p.page.evaluate((t) => document.documentElement.outerHTML.includes(t), token)).toBe(false);
    await p.page.reload();
    await item.waitFor();
    expect(await p.page.evaluate((t) => document.documentElement.outerHTML.includes(t), token)).toBe(false);

    await item.getByRole("button", { name: "Revoke ci-deploy" }).click();
    await p.page.getByRole("dialog").getByRole("button", { name: "Revoke", exact: true }).click();
    await item.locator(".tag").getByText("revoked").waitFor();
    expect((await whoIsToken()).status).toBe(403);
    expect(await webStorage(p)).toEqual({ local: 0, session: 0 });
    await closeClean(p);
  }, 60_000);

  test("users page: add (the password policy in words), change the role, disable and enable, reset a password", async () => {
    const a = await open(adam, DESKTOP, "#/users");
    const row = (name: string) => a.page.locator(`tr[data-user="${name}"]`);
    await row("adam").waitFor();
    expect(await row("adam").getByRole("combobox").isDisabled()).toBe(true); // not one's own role
    expect(await row("adam").getByRole("button", { name: /^Disable/ }).count()).toBe(0);

    await a.page.getByLabel("User name", { exact: true }).fill("nina");
    await a.page.getByLabel("Display name (optional)").fill("Nina <b>N.</b>");
    await a.page.getByLabel("Password", { exact: true }).fill("nina-is-here-1");
    await a.page.getByRole("button", { name: "Add user" }).click();
    await a.page.locator("#new-password-error").getByText("must not contain the user name").waitFor();
    const first = "Teal-Otter-Lamp-42";
    await a.page.getByLabel("Password", { exact: true }).fill(first);
    await a.page.getByRole("button", { name: "Add user" }).click();
    await a.page.getByRole("status").getByText("Added nina (viewer).").waitFor();
    await row("nina").getByText("Nina <b>N.</b>").waitFor();
    const nina = (await asAdmin<{ items: { id: number; username: string; role: string; disabled: boolean }[] }>("/api/users")).items.find((u) => u.username === "nina")!;
    expect(nina).toMatchObject({ role: "viewer", disabled: false });

    await row("nina").getByLabel("Role of nina").selectOption("operator");
    expect((await asAdmin<{ role: string }>(`/api/users/${nina.id}`)).role).toBe("viewer"); // chosen, not yet saved
    await a.page.screenshot({ path: join(ARTIFACTS, "people-users-role-chosen.png") });
    await row("nina").getByRole("button", { name: "Make nina operator" }).click();
    await a.page.getByRole("status").getByText("nina is now operator.").waitFor();
    await row("nina").getByRole("button", { name: /^Make nina/ }).waitFor({ state: "detached" });
    expect((await asAdmin<{ role: string }>(`/api/users/${nina.id}`)).role).toBe("operator");
    const n = await open({ id: nina.id, username: "nina", password: first, role: "operator" });
    await n.page.locator(".menu-button .tag").getByText("operator").waitFor();

    await row("nina").getByRole("button", { name: "Disable nina" }).click();
    const dialog = a.page.getByRole("dialog");
    await a.page.waitForFunction(() => document.activeElement?.textContent === "Cancel");
    await a.page.screenshot({ path: join(ARTIFACTS, "people-users-disable-dialog.png") });
    await dialog.getByRole("button", { name: "Disable", exact: true }).click();
    await row("nina").locator(".tag").getByText("disabled").waitFor();
    expect((await asAdmin<{ disabled: boolean }>(`/api/users/${nina.id}`)).disabled).toBe(true);
    await n.page.getByRole("alert").getByText(ENDED).waitFor(); // disabled: her page is told at once

    await row("nina").getByRole("button", { name: "Enable nina" }).click();
    await a.page.getByRole("status").getByText("nina can log in again.").waitFor();
    await row("nina").getByRole("button", { name: "Reset the password of nina" }).click();
    await a.page.waitForFunction(() => document.activeElement?.id === "reset-password");
    await a.page.getByLabel("New password", { exact: true }).fill("Violet-Harbour-77");
    await a.page.getByRole("dialog").getByRole("button", { name: "Reset password" }).click();
    await a.page.getByRole("status").getByText("nina's password was reset").waitFor();
    await logIn(n, { username: "nina", password: "Violet-Harbour-77" });
    await a.page.screenshot({ path: join(ARTIFACTS, "people-users-desktop.png"), fullPage: true });
    await closeClean(a, n);
  }, 60_000);

  test("audit view (admins): filter by who and by kind; people's events are an admin's only", async () => {
    const p = await open(adam, DESKTOP, "#/audit");
    const entries = p.page.locator(".events li");
    await entries.first().waitFor();
    await p.page.getByLabel("Kind").selectOption("user_created");
    await p.page.getByRole("button", { name: "Filter" }).click();
    await waitFor("only user_created entries", async () => {
      const kinds = await entries.evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")));
      return kinds.length >= 3 && kinds.every((k) => k === "user_created");
    }, 10_000);
    await entries.filter({ hasText: '"username": "vera"' }).getByText("admin-token").waitFor();
    // An actor's name filters by them.
    await p.page.getByLabel("Kind").selectOption("");
    await p.page.getByRole("button", { name: "Filter" }).click();
    await entries.filter({ hasText: "notes changed" }).first().getByRole("button", { name: "olga" }).click();
    expect(await p.page.getByLabel("Who").inputValue()).toBe("olga");
    await waitFor("only olga's entries", async () => {
      const actors = await entries.locator(".actor button").allTextContents();
      return actors.length > 0 && actors.every((a) => a === "olga");
    }, 10_000);
    await p.page.screenshot({ path: join(ARTIFACTS, "people-audit.png"), fullPage: true });

    // A viewer's own page asks the same API: machines' events only, and no way to the audit view.
    const v = await open(vera);
    expect(await v.page.getByRole("link", { name: "Audit log", exact: true }).count()).toBe(0);
    const viewerKinds: string[] = await v.page.evaluate(async () => (await (await fetch("/api/events?limit=1000")).json()).items.map((e: { kind: string }) => e.kind));
    expect(viewerKinds.length).toBeGreaterThan(0);
    expect(viewerKinds.filter((k) => /user_|token_|password_|sessions_/.test(k))).toEqual([]);
    await closeClean(p, v);
  }, 60_000);

  test("pages of another origin cannot act with the admin's cookie: same site (sent, refused 403) and cross site (not sent)", async () => {
    const victim = await register("127.7.0.9", "csrf-target");
    const tokensBefore = (await asAdmin<{ items: unknown[] }>("/api/tokens")).items.length;
    const a = await open(adam);
    // The attacker's pages: a script that DELETEs the machine, then a form that posts JSON-looking
    // text to /api/tokens; and an empty form that posts "check now" (a form's answer is a page
    // the test can read; a fetch's is hidden from it by CORS and CORP).
    const pages: Record<string, string> = {
      "/": `<!doctype html><title>You won!</title>
        <form method="POST" action="${served.base}/api/tokens" enctype="text/plain"><input name='{"name":"csrf","role":"admin","x":"' value='"}'></form>
        <script>fetch("${served.base}/api/machines/${victim.id}", { method: "DELETE", credentials: "include" }).finally(() => document.forms[0].submit());</script>`,
      "/check": `<!doctype html><title>You won!</title>
        <form method="POST" action="${served.base}/api/machines/${victim.id}/check"></form><script>document.forms[0].submit();</script>`,
    };
    const attackers = ["127.0.0.1", "127.0.0.2"].map((hostname) =>
      Bun.serve({ hostname, port: 0, fetch: (req) => new Response(pages[new URL(req.url).pathname] ?? "", { headers: { "content-type": "text/html" } }) }),
    );
    /** Opens the attacker's page; what vxman answered the form it submits, and which requests failed in the browser. */
    const attack = async (origin: string, page: string, target: string) => {
      const evil = await a.page.context().newPage();
      const failed: string[] = [];
      evil.on("requestfailed", (r) => failed.push(r.method()));
      const answered = evil.waitForResponse((r) => r.url() === `${served.base}${target}`);
      await evil.goto(`${origin}${page}`);
      const r = await answered;
      const cookie = /vxman_session=/.test((await r.request().allHeaders()).cookie ?? "");
      const result = { status: r.status(), error: ((await r.json()) as { error: string }).error, cookie, failed };
      await evil.close();
      return result;
    };
    try {
      for (const [i, site] of (["same-site", "cross-site"] as const).entries()) {
        const origin = `http://${attackers[i]!.hostname}:${attackers[i]!.port}`;
        // SameSite=Strict: the cookie goes along from the same site only, where the server refuses it.
        const cookie = site === "same-site";
        expect({ site, ...(await attack(origin, "/check", `/api/machines/${victim.id}/check`)) }).toEqual({ site, status: 403, error: "cross_site_request", cookie, failed: [] });
        // The DELETE needs a CORS preflight, which vxman does not grant: the browser never sends
        // it. The form's text/plain body is not JSON: refused before anything reads it.
        expect({ site, ...(await attack(origin, "/", "/api/tokens")) }).toEqual({ site, status: 415, error: "unsupported_media_type", cookie, failed: ["DELETE"] });
      }
    } finally {
      for (const s of attackers) s.stop(true);
    }
    expect((await asAdmin<Machine>(`/api/machines/${victim.id}`)).hostname).toBe("csrf-target");
    expect((await asAdmin<{ items: unknown[] }>("/api/tokens")).items).toHaveLength(tokensBefore);
    const { items } = await asAdmin<{ items: { kind: string }[] }>(`/api/events?machine_id=${victim.id}`);
    expect(items.map((e) => e.kind)).toEqual(["registered"]);
    await a.page.locator(`[data-id="${victim.id}"]`).waitFor(); // and the admin's page goes on
    await closeClean(a);
  }, 60_000);

  test("phone (375 px): login, account and admin pages fit, with touch-sized controls; screenshots", async () => {
    const login = await open(null, PHONE);
    await login.page.getByLabel("User name", { exact: true }).waitFor();
    await login.page.screenshot({ path: join(ARTIFACTS, "people-phone-login.png") });
    await login.page.close();
    const p = await open(adam, PHONE);
    const small = () =>
      p.page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>("button:not(.link), input, select, textarea, summary, .nav a")]
          .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
          .map((el) => el.outerHTML.slice(0, 80)),
      );
    await p.page.locator(".menu-button").click();
    expect(await small()).toEqual([]);
    await p.page.screenshot({ path: join(ARTIFACTS, "people-phone-menu.png") });
    await p.page.keyboard.press("Escape");
    for (const [hash, ready, name] of [
      ["#/users", "table.users", "users"],
      ["#/audit", ".events li", "audit"],
      ["#/account/tokens", "#token-name", "tokens"],
      ["#/account/sessions", ".items li", "sessions"],
      ["#/account/password", "#pw-current", "password"],
      [`#/machines/${alive.id}`, ".events li", "machine"],
    ] as const) {
      await go(p, hash);
      await p.page.locator(ready).first().waitFor();
      expect({ hash, fits: await noSideScroll(p) }).toEqual({ hash, fits: true });
      expect({ hash, small: await small() }).toEqual({ hash, small: [] });
      await p.page.screenshot({ path: join(ARTIFACTS, `people-phone-${name}.png`), fullPage: true });
    }
    await closeClean(p);
  }, 60_000);
});
