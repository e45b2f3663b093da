// The dashboard in a real browser (Debian's Chromium via playwright-core) against the compiled
// binary started alone in an empty folder, monitoring for real (fast timings): machines register
// with real HTTP PUTs of loopback addresses or of a test host in a network namespace this test
// creates, which stops answering on cue. Reads need a login: each page logs in as a user of the
// role it needs. Every page is checked for script errors, CSP violations and alert dialogs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "../../src/api/machines/model.ts";
import { addUser, ARTIFACTS, launchBrowser, logIn, tabTo, type Browser, type TestUser, type WatchedPage } from "../helpers/browser.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { createTestHost, type TestHost } from "../helpers/netns.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
const XSS = "<img src=x onerror=alert(1)>";
const haveChromium = needs("chromium");
const haveNetns = needs("root", "netns");
// Unreachable after 2 failed checks, ~0.5 s after a host goes quiet.
const FAST_MONITOR = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "400ms", FAILURE_THRESHOLD: "2" };

describe.skipIf(!haveChromium || !haveNetns)("dashboard in Chromium, served by the compiled binary", () => {
  let served: ServedBinary;
  let browser: Browser;
  let host: TestHost;
  let viewer: TestUser;
  let adminUser: TestUser;
  let mac = 0x10;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    host = await createTestHost();
    served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", ...FAST_MONITOR });
    browser = await launchBrowser();
    viewer = await addUser(served.base, ADMIN_TOKEN, "vera", "viewer");
    adminUser = await addUser(served.base, ADMIN_TOKEN, "adam", "admin");
  }, 90_000);
  afterAll(async () => {
    try {
      await browser?.close();
      await served?.stop();
    } finally {
      await host?.destroy();
    }
  }, 30_000);

  async function register(ip: string, body: Record<string, unknown> = {}): Promise<Machine> {
    mac++;
    const res = await fetch(`${served.base}/api/machines/${ip}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: `e2e-${mac}`, mac_address: `52:54:00:e2:00:${mac.toString(16).padStart(2, "0")}`, ...body }),
    });
    expect([200, 201]).toContain(res.status);
    return res.json();
  }

  /** A page of its own, logged in (a viewer unless told otherwise) and live. */
  async function open(viewport = DESKTOP, hash = "", user = viewer): Promise<WatchedPage> {
    const p = await browser.page(viewport);
    await p.page.goto(`${served.base}/${hash}`);
    await logIn(p, user);
    await p.page.locator('[data-state="connected"]').waitFor();
    return p;
  }

  /** Waits (bounded by the page timeout) until the focused element has this text or type. */
  const focusOn = (p: WatchedPage, what: { text?: string; type?: string }) =>
    p.page.waitForFunction(
      ({ text, type }) => {
        const el = document.activeElement;
        return !!el && (text === undefined || el.textContent === text) && (type === undefined || el.getAttribute("type") === type);
      },
      what,
    );
  const machine = (id: number) => fetch(`${served.base}/api/machines/${id}`, { headers: admin });
  const status = (id: number) => machine(id).then((r) => r.status);
  const machineStatus = (id: number) => machine(id).then(async (r) => (await r.json()).status as string);
  const noHorizontalScroll = (p: WatchedPage) =>
    p.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));

  test("a machine registered with a real HTTP PUT appears without a reload", async () => {
    const p = await open();
    await p.page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const total = Number(await p.page.locator('[data-count="total"]').textContent());
    const m = await register("127.6.0.1", { hostname: "appears-live" });
    const row = p.page.locator(`[role="row"][data-id="${m.id}"]`);
    await row.getByText("appears-live").waitFor();
    await row.getByText("127.6.0.1").waitFor();
    expect(await row.locator(".status").textContent()).toMatch(/^[●○] (active|unreachable)$/);
    expect(await p.page.locator('[data-count="total"]').textContent()).toBe(String(total + 1));
    expect(await p.page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(p.problems).toEqual([]);
    await p.page.close();
  }, 60_000);

  test("a machine whose test host stops answering turns red live, and green again", async () => {
    const m = await register(host.ip, { hostname: "netns-host" });
    const p = await open();
    const row = p.page.locator(`[role="row"][data-id="${m.id}"]`);
    await row.locator(".status").getByText("● active").waitFor();
    await host.stopAnswering();
    try {
      await row.locator(".status").getByText("○ unreachable").waitFor({ timeout: 15_000 });
      await p.page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop-unreachable.png") });
    } finally {
      await host.answerAgain();
    }
    await row.locator(".status").getByText("● active").waitFor({ timeout: 15_000 });
    expect(p.problems).toEqual([]);
    await p.page.close();
  }, 60_000);

  test("text a machine sends is shown as text, never run", async () => {
    // The API already refuses markup as a host name (RFC 1123)...
    const refused = await fetch(`${served.base}/api/machines/127.6.0.2`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: XSS, mac_address: "52:54:00:e2:01:01" }),
    });
    expect(refused.status).toBe(422);
    // ...but extra_data is free-form, keys and values, and so are an operator's notes.
    const m = await register("127.6.0.3", { hostname: "xss-probe", extra_data: { note: XSS, [XSS]: "key" } });
    const noted = await fetch(`${served.base}/api/machines/${m.id}`, { method: "PATCH", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ notes: XSS }) });
    expect(noted.status).toBe(200);
    const p = await open(DESKTOP, `#/machines/${m.id}`);
    await p.page.locator("#detail-h").getByText("xss-probe").waitFor();
    await p.page.locator(".extra dd").getByText(XSS, { exact: true }).waitFor();
    await p.page.locator(".extra dt").getByText(XSS, { exact: true }).waitFor();
    await p.page.locator(".notes-text").getByText(XSS, { exact: true }).waitFor();
    await p.page.locator('.events li[data-kind="notes_changed"] .actor').getByText("admin-token").waitFor();
    expect(await p.page.locator("#app img").count()).toBe(0);
    await Bun.sleep(300); // an injected onerror would have fired by now
    expect(p.problems).toEqual([]); // no alert dialog, no error
    await p.page.close();
  }, 60_000);

  test("delete: Esc and Cancel change nothing; confirm removes it here and from a second open page", async () => {
    // An address of the test host's block with no route but "unreachable": it never answers.
    const victim = await register(host.unroutedIp, { hostname: "to-delete" });
    await waitFor("the monitor to find it unreachable", async () => (await machineStatus(victim.id)) === "unreachable", 15_000);
    const watcher = await open();
    await watcher.page.locator(`[data-id="${victim.id}"]`).waitFor();
    const admin = await open(DESKTOP, "", adminUser);
    await admin.page.evaluate((id) => (location.hash = `#/machines/${id}`), victim.id);
    const deleteButton = admin.page.getByRole("button", { name: "Delete machine" });
    const dialog = admin.page.getByRole("dialog");

    // The dialog names the machine, starts on the safe choice, and Esc cancels.
    await deleteButton.click();
    await dialog.waitFor();
    for (const text of ["to-delete", host.unroutedIp, victim.mac_address]) await dialog.getByText(text, { exact: true }).waitFor();
    await focusOn(admin, { text: "Cancel" });
    await admin.page.screenshot({ path: join(ARTIFACTS, "dashboard-delete-dialog.png") });
    await admin.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await focusOn(admin, { text: "Delete machine" }); // focus returned
    expect(await status(victim.id)).toBe(200);

    await deleteButton.click();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await status(victim.id)).toBe(200);
    // Active machines offer no delete button: only dead ones are removed.
    const alive = await register("127.6.0.4", { hostname: "stays" });
    await admin.page.evaluate((id) => (location.hash = `#/machines/${id}`), alive.id);
    await admin.page.locator("#detail-h").getByText("stays").waitFor();
    await waitFor("a check of the live machine", async () => (await machine(alive.id).then((r) => r.json())).last_rtt_ms !== null);
    expect(await deleteButton.count()).toBe(0);
    await admin.page.evaluate((id) => (location.hash = `#/machines/${id}`), victim.id);
    expect(await watcher.page.locator(`[data-id="${victim.id}"]`).count()).toBe(1);

    await deleteButton.click();
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await admin.page.getByText("no longer registered").waitFor();
    expect(await status(victim.id)).toBe(404);
    // The other dashboard hears it over its WebSocket.
    await watcher.page.locator(`[data-id="${victim.id}"]`).waitFor({ state: "detached" });
    for (const p of [admin, watcher]) expect(p.problems).toEqual([]);
    await admin.page.close();
    await watcher.page.close();
  }, 60_000);

  test("keyboard: the login form starts on the user name, Enter logs in (a wrong password first); the user menu opens and Esc closes it", async () => {
    const p = await browser.page(DESKTOP);
    await p.page.goto(`${served.base}/`);
    await p.page.waitForFunction(() => document.activeElement?.id === "login-username");
    await p.page.keyboard.type(viewer.username);
    await p.page.keyboard.press("Tab");
    await focusOn(p, { type: "password" });
    await p.page.keyboard.type("not-the-password-000");
    await p.page.keyboard.press("Enter");
    await p.page.getByRole("alert").getByText("Wrong user name or password.").waitFor();
    await focusOn(p, { type: "password" });
    await p.page.keyboard.press("Control+A");
    await p.page.keyboard.type(viewer.password);
    await p.page.keyboard.press("Enter");
    await p.page.locator('[data-state="connected"]').waitFor();
    const menu = p.page.locator(".menu-button");
    expect(await tabTo(p, menu)).toBe(true);
    await p.page.keyboard.press("Enter");
    await p.page.getByRole("link", { name: "My sessions" }).waitFor();
    await p.page.keyboard.press("Tab");
    await focusOn(p, { text: "Change password" });
    await p.page.keyboard.press("Escape");
    await p.page.getByRole("link", { name: "My sessions" }).waitFor({ state: "hidden" });
    expect(await menu.evaluate((el) => el === document.activeElement)).toBe(true); // focus given back
    expect(p.problems).toEqual([]);
    await p.page.close();
  }, 60_000);

  test("phone (375 px): cards, nothing scrolls sideways, touch-sized controls; screenshots", async () => {
    // Long text is the usual culprit: a 200-character host name and the longest loopback address.
    const long = Array.from({ length: 4 }, (_, i) => `label${i}-${"x".repeat(40)}`).join(".");
    // And long keys in extra_data (a 1,500-character key once made the detail page 14,913 px wide).
    const extra = { os: "debian 12", arch: "x86_64", vni: 4096, ["k".repeat(1500)]: "v", ["interface_description_of_the_uplink_port_number_1"]: "a-value-that-must-stay-on-screen" };
    const m = await register("::1", { hostname: long, extra_data: extra });
    for (let i = 0; i < 8; i++) await register(`127.6.1.${i + 1}`, { hostname: `rack${i}-node` });

    const desk = await open(DESKTOP);
    await desk.page.locator(`[data-id="${m.id}"]`).waitFor();
    expect((await noHorizontalScroll(desk)).scroll).toBeLessThanOrEqual((await noHorizontalScroll(desk)).client);
    await desk.page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop.png") });
    const background = () => desk.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await background();
    await desk.page.emulateMedia({ colorScheme: "dark" }); // follows the system preference
    expect(await background()).not.toBe(light);
    await desk.page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop-dark.png") });

    const phone = await open(PHONE);
    await phone.page.locator(`li.card[data-id="${m.id}"]`).waitFor();
    expect(await phone.page.locator('[role="table"]').count()).toBe(0); // cards, not a table
    const list = await noHorizontalScroll(phone);
    expect(list.scroll).toBeLessThanOrEqual(list.client);
    const small = await phone.page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>("button:not(.link), input, select, summary")]
        .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(small).toEqual([]);
    await phone.page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png") });

    await phone.page.evaluate((id) => (location.hash = `#/machines/${id}`), m.id);
    await phone.page.locator("#detail-h").waitFor();
    await phone.page.getByText("No samples yet").or(phone.page.locator(".chart")).waitFor();
    const detail = await noHorizontalScroll(phone);
    expect(detail.scroll).toBeLessThanOrEqual(detail.client);
    const value = phone.page.locator(".extra dd").getByText("a-value-that-must-stay-on-screen");
    const box = (await value.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    await phone.page.screenshot({ path: join(ARTIFACTS, "dashboard-phone-detail.png"), fullPage: true });
    await desk.page.evaluate((id) => (location.hash = `#/machines/${id}`), m.id);
    await desk.page.locator("#detail-h").waitFor();
    const deskDetail = await noHorizontalScroll(desk);
    expect(deskDetail.scroll).toBeLessThanOrEqual(deskDetail.client);
    for (const p of [desk, phone]) expect(p.problems).toEqual([]);
    await desk.page.close();
    await phone.page.close();
  }, 60_000);

  test("server restart: the badge says reconnecting, then live again from a fresh snapshot", async () => {
    const p = await open();
    await p.page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { badgeStates: string[] }).badgeStates = seen;
      new MutationObserver(() => {
        const state = document.querySelector(".badge")?.getAttribute("data-state");
        if (state && seen.at(-1) !== state) seen.push(state);
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
    });
    await served.restart();
    // Registered on the new process, perhaps before the page is back: snapshot or event, it shows.
    const m = await register("127.6.0.5", { hostname: "after-restart" });
    await p.page.locator('[data-state="connected"]').waitFor({ timeout: 40_000 });
    await p.page.locator(`[data-id="${m.id}"]`).getByText("after-restart").waitFor({ timeout: 20_000 });
    const states = await p.page.evaluate(() => (window as unknown as { badgeStates: string[] }).badgeStates);
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("connected");
    expect(p.problems).toEqual([]);
    await p.page.close();
  }, 90_000);
});
