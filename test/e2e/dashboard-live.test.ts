// The dashboard in Chromium against an in-process vxman app (the same createApp the binary runs,
// with dist/web from the checkout), where the test holds the change feed. Status updates are
// published on it exactly as the ICMP monitor publishes them, which lets the red row, its
// delete button and the words for failures be tested without a network to break; and each test
// has a server of its own, so it can choose who exists and whether anyone may read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Change } from "../../src/changes.ts";
import { admin, ADMIN_TOKEN, loopbackIp, machineBody, testApp, type TestApp } from "../helpers/app.ts";
import { addUser, ARTIFACTS, launchBrowser, logIn, tabTo, type Browser, type TestUser, type WatchedPage } from "../helpers/browser.ts";
import { needs } from "../helpers/requirements.ts";

const haveChromium = needs("chromium");

function unreachable(machine_id: number): Change {
  const now = new Date().toISOString();
  return {
    type: "status_update",
    machine_id,
    status: "unreachable",
    is_alive: false,
    response_time: null,
    checked: true,
    last_seen: now,
    consecutive_failures: 3,
    last_checked_at: now,
    next_check_at: now,
  };
}

/** A listening app for the length of `body`, closed afterwards whatever happens. */
async function withApp(env: Record<string, string>, body: (t: TestApp, base: string) => Promise<void>): Promise<void> {
  const t = await testApp("pglite", env);
  try {
    t.app.listen({ port: 0, hostname: "127.0.0.1" });
    await body(t, `http://127.0.0.1:${t.app.server!.port}`);
  } finally {
    await t.close();
  }
}

async function register(base: string, n: number): Promise<{ id: number; hostname: string; ip_address: string; mac_address: string }> {
  const res = await fetch(`${base}/api/machines/${loopbackIp(n)}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(machineBody(n)),
  });
  expect(res.status).toBe(201);
  return res.json();
}

describe.skipIf(!haveChromium)("dashboard live behaviour (in-process app, Chromium)", () => {
  let browser: Browser;
  beforeAll(async () => {
    const built = spawnSync(process.execPath, ["scripts/assets.ts"], { cwd: join(import.meta.dir, "../.."), encoding: "utf8" });
    if (built.status !== 0) throw new Error(`assets build failed: ${built.stderr}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(() => browser?.close(), 30_000);

  async function open(base: string, viewport = { width: 1280, height: 800 }): Promise<WatchedPage> {
    const p = await browser.page(viewport);
    await p.page.goto(`${base}/`);
    return p;
  }

  /** A page logged in as `user`, with the list live. */
  async function openAs(base: string, user: TestUser, viewport?: { width: number; height: number }): Promise<WatchedPage> {
    const p = await open(base, viewport);
    await logIn(p, user);
    await p.page.locator('[data-state="connected"]').waitFor();
    return p;
  }

  const machineStatus = (base: string, id: number) => fetch(`${base}/api/machines/${id}`, { headers: admin }).then((r) => r.status);

  test("a machine turns red live, with the word; the row is highlighted; counts follow", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 1);
      await register(base, 2);
      const p = await openAs(base, await addUser(base, ADMIN_TOKEN, "vera", "viewer"));
      const row = p.page.locator(`[role="row"][data-id="${m.id}"]`);
      await row.getByText("active").waitFor();
      t.feed.publish(unreachable(m.id));
      await row.getByText("unreachable").waitFor();
      expect(await row.locator(".status").textContent()).toBe("○ unreachable");
      expect(await row.getAttribute("class")).toMatch(/flash-[ab]/);
      expect(await p.page.locator('[data-count="unreachable"]').textContent()).toBe("1");
      expect(await p.page.locator('[data-count="active"]').textContent()).toBe("1");
      // A viewer: no delete button, and her role said in the header.
      expect(await row.getByRole("button", { name: /Delete/ }).count()).toBe(0);
      await p.page.locator(".menu-button .tag").getByText("viewer").waitFor();
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("the delete button of an unreachable row: cancel keeps it, confirm removes it from every page", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 3);
      const keep = await register(base, 4);
      const adam = await addUser(base, ADMIN_TOKEN, "adam", "admin");
      const admin = await openAs(base, adam);
      const phone = await openAs(base, adam, { width: 375, height: 812 });
      t.feed.publish(unreachable(m.id));
      const button = admin.page.locator(`[role="row"][data-id="${m.id}"]`).getByRole("button", { name: `Delete ${m.hostname} (${m.ip_address})` });
      await button.waitFor();
      // Active machines have none.
      expect(await admin.page.locator(`[role="row"][data-id="${keep.id}"]`).getByRole("button").count()).toBe(0);
      const phoneButton = phone.page.locator(`li.card[data-id="${m.id}"]`).getByRole("button", { name: /^Delete/ });
      await phoneButton.waitFor();
      expect((await phoneButton.boundingBox())!.height).toBeGreaterThanOrEqual(44);
      await phone.page.screenshot({ path: join(ARTIFACTS, "dashboard-phone-unreachable.png") });

      await button.click();
      const dialog = admin.page.getByRole("dialog");
      await dialog.getByText(m.mac_address).waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached" });
      expect(await machineStatus(base, m.id)).toBe(200);

      await button.click();
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await admin.page.locator(`[data-id="${m.id}"]`).waitFor({ state: "detached" });
      await phone.page.locator(`[data-id="${m.id}"]`).waitFor({ state: "detached" });
      await admin.page.waitForFunction(() => document.activeElement?.id === "machines-h"); // focus not lost
      expect(await machineStatus(base, m.id)).toBe(404);
      for (const p of [admin, phone]) {
        expect(p.problems).toEqual([]);
        await p.page.close();
      }
    });
  }, 60_000);

  test("failures are said in words: a role taken away meanwhile (403), the server gone (network)", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 5);
      const adam = await addUser(base, ADMIN_TOKEN, "adam", "admin");
      const p = await openAs(base, adam);
      t.feed.publish(unreachable(m.id));
      const button = p.page.locator(`[data-id="${m.id}"]`).getByRole("button", { name: /^Delete/ });
      await button.click();
      // Another admin makes adam a viewer while his page still offers what admins may do.
      const demoted = await fetch(`${base}/api/users/${adam.id}`, { method: "PATCH", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ role: "viewer" }) });
      expect(demoted.status).toBe(200);
      const dialog = p.page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await dialog.getByRole("alert").getByText("Not allowed").waitFor();
      expect(await machineStatus(base, m.id)).toBe(200);
      // The refusal made the page ask who it is: it now shows him as a viewer, without delete buttons.
      await p.page.locator(".menu-button .tag").getByText("viewer").waitFor();
      await button.waitFor({ state: "detached" });

      await t.app.stop();
      await p.page.locator('[data-state="reconnecting"]').waitFor();
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await dialog.getByRole("alert").getByText("Cannot reach the vxman server").waitFor();
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("reads need a login: the login form (no list, no socket) until logged in, then the list live", async () => {
    await withApp({}, async (t, base) => {
      await register(base, 6);
      const vera = await addUser(base, ADMIN_TOKEN, "vera", "viewer");
      const p = await open(base);
      await p.page.getByRole("heading", { name: "Log in" }).waitFor();
      expect(await p.page.locator(".badge, [data-id]").count()).toBe(0);
      expect(p.networkErrors).toEqual([]); // not even a refused socket
      await logIn(p, vera);
      await p.page.locator('[data-state="connected"]').waitFor();
      await p.page.getByText("node-6").waitFor();
      expect(await p.page.getByRole("alert").count()).toBe(0);
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("ANONYMOUS_READ: the list without a login; keyboard: Tab reaches Log in, the dialog takes focus, Esc gives it back, Enter logs in", async () => {
    await withApp({ ANONYMOUS_READ: "true" }, async (t, base) => {
      const m = await register(base, 7);
      const vera = await addUser(base, ADMIN_TOKEN, "vera", "viewer");
      t.feed.publish(unreachable(m.id));
      const p = await open(base);
      await p.page.locator('[data-state="connected"]').waitFor();
      await p.page.locator(`[data-id="${m.id}"]`).getByText("unreachable").waitFor();
      await p.page.getByText("Anyone may read this dashboard; log in to do more.").waitFor();
      expect(await p.page.locator(`[data-id="${m.id}"]`).getByRole("button").count()).toBe(0);
      expect(await tabTo(p, p.page.getByRole("button", { name: "Log in", exact: true }))).toBe(true);
      await p.page.keyboard.press("Enter");
      await p.page.waitForFunction(() => document.activeElement?.id === "login-username");
      await p.page.keyboard.press("Escape");
      await p.page.getByRole("dialog").waitFor({ state: "detached" });
      await p.page.waitForFunction(() => document.activeElement?.textContent === "Log in");
      await p.page.keyboard.press("Enter");
      await p.page.waitForFunction(() => document.activeElement?.id === "login-username");
      await p.page.keyboard.type(vera.username);
      await p.page.keyboard.press("Tab");
      await p.page.keyboard.type("not-the-password-000");
      await p.page.keyboard.press("Enter");
      await p.page.getByRole("dialog").getByRole("alert").getByText("Wrong user name or password.").waitFor();
      await p.page.keyboard.press("Control+A");
      await p.page.keyboard.type(vera.password);
      await p.page.keyboard.press("Enter");
      await p.page.locator(".menu-button .user-name").getByText("vera").waitFor();
      await p.page.locator('[data-state="connected"]').waitFor();
      expect(await p.page.locator(`[data-id="${m.id}"]`).getByRole("button").count()).toBe(0); // still a viewer
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("before the first user: how to make one on the server; then the login form", async () => {
    await withApp({}, async (t, base) => {
      const p = await open(base);
      const box = p.page.locator(".no-users");
      await box.getByText("No user exists yet.").waitFor();
      expect(await box.locator("code").textContent()).toBe("vxman user add NAME --role admin");
      expect(await p.page.getByLabel("Password", { exact: true }).count()).toBe(0);
      await p.page.screenshot({ path: join(ARTIFACTS, "dashboard-no-users.png") });
      const first = await addUser(base, ADMIN_TOKEN, "root-admin", "admin");
      await box.getByRole("button", { name: "Check again" }).click();
      await logIn(p, first);
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("a throttled login says how long to wait (429, Retry-After)", async () => {
    await withApp({}, async (t, base) => {
      await addUser(base, ADMIN_TOKEN, "vera", "viewer");
      const p = await open(base);
      await p.page.getByLabel("User name", { exact: true }).fill("vera");
      // Five failures are free; then each attempt must wait (1 s, 2 s, …) or is refused.
      let status = 0;
      for (let i = 0; i < 10 && status !== 429; i++) {
        await p.page.getByLabel("Password", { exact: true }).fill(`wrong-password-${i}-xyz`);
        const answer = p.page.waitForResponse((r) => r.url() === `${base}/api/session` && r.request().method() === "POST");
        await p.page.getByRole("button", { name: "Log in", exact: true }).click();
        status = (await answer).status();
      }
      expect(status).toBe(429);
      await p.page.getByRole("alert").getByText(/^Too many failed logins; wait before trying again\. Try again in \d+ s\.$/).waitFor();
      await p.page.screenshot({ path: join(ARTIFACTS, "dashboard-login-throttled.png") });
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("search, status filter and sort", async () => {
    await withApp({}, async (t, base) => {
      const ms = [];
      for (const n of [10, 11, 12, 13]) ms.push(await register(base, n));
      t.feed.publish(unreachable(ms[2]!.id));
      const p = await openAs(base, await addUser(base, ADMIN_TOKEN, "vera", "viewer"));
      const hosts = () => p.page.locator('[role="row"][data-id] .c-host').allTextContents();
      // The list redraws just after the input event: poll (bounded) instead of racing it.
      const listShows = async (expected: string[]) => {
        for (let i = 0; i < 100 && JSON.stringify(await hosts()) !== JSON.stringify(expected); i++) await Bun.sleep(50);
        expect(await hosts()).toEqual(expected);
      };
      await p.page.locator(`[data-id="${ms[3]!.id}"]`).waitFor();
      await p.page.locator(`[data-id="${ms[2]!.id}"]`).getByText("unreachable").waitFor();
      await listShows(["node-12", "node-10", "node-11", "node-13"]); // unreachable first

      await p.page.getByRole("button", { name: "Hostname" }).click();
      await listShows(["node-10", "node-11", "node-12", "node-13"]);
      await p.page.getByRole("button", { name: "Hostname" }).click();
      await listShows(["node-13", "node-12", "node-11", "node-10"]);
      await p.page.locator('[role="columnheader"][aria-sort="descending"]').getByText("Hostname").waitFor();

      await p.page.getByLabel("Search").fill(ms[1]!.mac_address.toUpperCase());
      await listShows(["node-11"]);
      await p.page.getByLabel("Search").fill(loopbackIp(13));
      await listShows(["node-13"]);
      await p.page.getByLabel("Search").fill("");
      await p.page.getByLabel("Status").selectOption("unreachable");
      await listShows(["node-12"]);
      await p.page.getByText("Showing 1 of 4").waitFor();
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("a long list: only the rows in view are in the DOM, numbered for screen readers; a focused row keeps its machine while scrolling", async () => {
    await withApp({}, async (_t, base) => {
      const count = 120;
      for (let n = 0; n < count; n += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => register(base, 1000 + n + k)));
      const p = await openAs(base, await addUser(base, ADMIN_TOKEN, "vera", "viewer"));
      await p.page.getByText(`${count} machines`).waitFor();
      expect(await p.page.locator('[role="table"]').getAttribute("aria-rowcount")).toBe(String(count + 1));
      const rows = p.page.locator('[role="row"][data-id]');
      const rowAt = (index: number) => p.page.locator(`[role="row"][aria-rowindex="${index + 2}"]`);
      await rowAt(0).getByText("node-1000").waitFor();
      expect(await rows.count()).toBeLessThan(40);

      // Keyboard focus on the 4th row's link; a short scroll keeps that element on that machine.
      await rowAt(3).getByRole("link", { name: "node-1003" }).focus();
      const focused = () => p.page.evaluate(() => (document.activeElement === document.body ? "" : (document.activeElement?.textContent ?? "")));
      await p.page.evaluate(() => scrollBy(0, 3 * 44));
      await Bun.sleep(200);
      expect(await focused()).toBe("node-1003");

      // To the end: the last row is there with its index, the first ones are gone.
      await p.page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
      await rowAt(count - 1).getByText(`node-${1000 + count - 1}`).waitFor();
      expect(await rowAt(0).count()).toBe(0);
      expect(await rows.count()).toBeLessThan(40);
      // The focused element was not handed to another machine: it left with its row.
      expect(["", "node-1003"]).toContain(await focused());
      const indexes = (await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute("aria-rowindex")))));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b)); // DOM order is list order (tab order)
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 90_000);

  test("a change that comes while the list scrolls is drawn once the scrolling pauses, not in a scroll frame", async () => {
    await withApp({}, async (t, base) => {
      const made = await Promise.all(Array.from({ length: 60 }, (_, k) => register(base, 2000 + k)));
      const vera = await addUser(base, ADMIN_TOKEN, "vera", "viewer");
      const p = await browser.page({ width: 1280, height: 800 });
      // The page's timers run on Playwright's clock, which the test stops and moves: the list's
      // redraw waits on one of them (public/ui/window.ts), and the page's own 10 s clock, which
      // redraws everything too, cannot come in between.
      await p.page.clock.install();
      await p.page.goto(`${base}/`);
      await logIn(p, vera);
      await p.page.locator('[data-state="connected"]').waitFor();
      await p.page.getByText("60 machines").waitFor();
      const counted = p.page.locator('[data-count="unreachable"]');
      expect(await counted.textContent()).toBe("0");
      await p.page.clock.pauseAt(Date.now() + 2000);

      await p.page.evaluate(() => new Promise((scrolled) => (addEventListener("scroll", scrolled, { once: true }), scrollBy(0, 88))));
      t.feed.publish(unreachable(made[0]!.id));
      await Bun.sleep(1000); // the change reaches the page (loopback) and waits
      expect(await counted.textContent()).toBe("0");
      await p.page.clock.runFor(200); // the scrolling paused (150 ms without a scroll event)
      await counted.getByText("1").waitFor({ timeout: 5000 });
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);
});
