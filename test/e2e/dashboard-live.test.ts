// The dashboard in Chromium against an in-process vxman app (the same createApp the binary runs,
// with dist/web from the checkout), where the test holds the change feed. Status updates are
// published on it exactly as the ICMP monitor publishes them, which lets the red row, its
// delete button and the words for failures be tested without a network to break.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Change } from "../../src/changes.ts";
import { ADMIN_TOKEN, loopbackIp, machineBody, testApp, type TestApp } from "../helpers/app.ts";
import { ARTIFACTS, launchBrowser, type Browser, type WatchedPage } from "../helpers/browser.ts";
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

  async function logIn(p: WatchedPage, token: string) {
    await p.page.getByRole("button", { name: "Log in", exact: true }).click();
    await p.page.getByLabel("Token").fill(token);
    await p.page.getByLabel("Token").press("Enter");
    await p.page.getByRole("button", { name: "Log out" }).waitFor();
  }

  test("a machine turns red live, with the word; the row is highlighted; counts follow", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 1);
      await register(base, 2);
      const p = await open(base);
      const row = p.page.locator(`[role="row"][data-id="${m.id}"]`);
      await row.getByText("active").waitFor();
      t.feed.publish(unreachable(m.id));
      await row.getByText("unreachable").waitFor();
      expect(await row.locator(".status").textContent()).toBe("○ unreachable");
      expect(await row.getAttribute("class")).toMatch(/flash-[ab]/);
      expect(await p.page.locator('[data-count="unreachable"]').textContent()).toBe("1");
      expect(await p.page.locator('[data-count="active"]').textContent()).toBe("1");
      // Read-only: no delete button, and the page says how to log in.
      expect(await row.getByRole("button", { name: /Delete/ }).count()).toBe(0);
      await p.page.getByText("To delete machines,").waitFor();
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("the delete button of an unreachable row: cancel keeps it, confirm removes it from every page", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 3);
      const keep = await register(base, 4);
      const admin = await open(base);
      const phone = await open(base, { width: 375, height: 812 });
      await logIn(admin, ADMIN_TOKEN);
      await logIn(phone, ADMIN_TOKEN);
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
      expect((await fetch(`${base}/api/machines/${m.id}`)).status).toBe(200);

      await button.click();
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await admin.page.locator(`[data-id="${m.id}"]`).waitFor({ state: "detached" });
      await phone.page.locator(`[data-id="${m.id}"]`).waitFor({ state: "detached" });
      await admin.page.waitForFunction(() => document.activeElement?.id === "machines-h"); // focus not lost
      expect((await fetch(`${base}/api/machines/${m.id}`)).status).toBe(404);
      for (const p of [admin, phone]) {
        expect(p.problems).toEqual([]);
        await p.page.close();
      }
    });
  }, 60_000);

  test("failures are said in words: a token that stopped working (403), the server gone (network)", async () => {
    await withApp({}, async (t, base) => {
      const m = await register(base, 5);
      const p = await open(base);
      await logIn(p, ADMIN_TOKEN);
      t.feed.publish(unreachable(m.id));
      const button = p.page.locator(`[data-id="${m.id}"]`).getByRole("button", { name: /^Delete/ });
      // The admin token was rotated on the server: this tab still holds the old one.
      await p.page.evaluate(() => sessionStorage.setItem("vxman.token", "an-old-admin-token-0123456789"));
      await button.click();
      const dialog = p.page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await dialog.getByRole("alert").getByText("Not allowed").waitFor();
      expect((await fetch(`${base}/api/machines/${m.id}`)).status).toBe(200);

      await t.app.stop();
      await p.page.locator('[data-state="reconnecting"]').waitFor();
      await dialog.getByRole("button", { name: "Delete", exact: true }).click();
      await dialog.getByRole("alert").getByText("Cannot reach the vxman server").waitFor();
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("with READ_TOKEN set: 401 in words until logged in, then the list and the live socket", async () => {
    const READ_TOKEN = "read-token-for-the-browser-0123";
    await withApp({ READ_TOKEN }, async (t, base) => {
      await register(base, 6);
      const p = await open(base);
      await p.page.getByRole("alert").getByText("Not logged in").waitFor();
      await logIn(p, READ_TOKEN);
      await p.page.locator('[data-state="connected"]').waitFor();
      await p.page.getByText("node-6").waitFor();
      await p.page.locator(".who").getByText("read-only token").waitFor();
      expect(await p.page.getByRole("alert").count()).toBe(0);
      expect(p.problems).toEqual([]);
      await p.page.close();
    });
  }, 60_000);

  test("search, status filter and sort", async () => {
    await withApp({}, async (t, base) => {
      const ms = [];
      for (const n of [10, 11, 12, 13]) ms.push(await register(base, n));
      t.feed.publish(unreachable(ms[2]!.id));
      const p = await open(base);
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
});
