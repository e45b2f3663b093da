// A real browser for dashboard tests and benchmarks: Debian's Chromium driven by playwright-core,
// headless. Every page opens in a context of its own (its own cookies, as a separate browser
// would have), so two pages can be two different people. Every page is watched for what must
// never happen: script errors, console errors (Chromium reports CSP violations there too), CSP
// violation events and alert/confirm/prompt dialogs.
import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Locator, type Page } from "playwright-core";

export const CHROMIUM = process.env.VXMAN_CHROMIUM ?? "/usr/bin/chromium";
export const hasChromium = (): boolean => existsSync(CHROMIUM);
export const ARTIFACTS = join(import.meta.dir, "../artifacts");

/** Chromium's flags for tests and benches (bench/first-render.ts starts it without Playwright). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface Browser {
  /** A new tab of the given size, in a fresh context (no cookies), watched for problems. */
  page(viewport?: { width: number; height: number }): Promise<WatchedPage>;
  close(): Promise<void>;
}

export interface WatchedPage {
  page: Page;
  /** Script errors, console errors, CSP violations and dialogs seen so far on this page. */
  problems: string[];
  /** HTTP error statuses and refused connections Chromium logged (expected ones included). */
  networkErrors: string[];
}

export async function launchBrowser(): Promise<Browser> {
  // Playwright gives the browser a temporary profile of its own and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  return {
    async page(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.on("close", () => void context.close().catch(() => {}));
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      const networkErrors: string[] = [];
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
        });
      });
      page.on("console", (msg) => {
        if (msg.type() !== "error") return;
        // Chromium logs every 4xx/5xx fetch and every refused connection as an error; the
        // dashboard expects some (a 404 for samples not recorded yet, a wrong password, a
        // session that ended, a server restart). Those are kept apart.
        if (/^(Failed to load resource|WebSocket connection to)/.test(msg.text())) networkErrors.push(msg.text());
        else problems.push(`console error: ${msg.text()}`);
      });
      page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
      page.on("dialog", (dialog) => {
        problems.push(`${dialog.type()} dialog: ${dialog.message()}`);
        void dialog.dismiss().catch(() => {});
      });
      return { page, problems, networkErrors };
    },
    async close() {
      await Promise.race([browser.close(), Bun.sleep(10_000)]).catch(() => {});
    },
  };
}

// People for the dashboard tests: made over the API with the break-glass admin token, then
// logged in through the dashboard's own form, as a person would.

export interface TestUser {
  id: number;
  username: string;
  password: string;
  role: "viewer" | "operator" | "admin";
}

/** POST /api/users with the admin token; the password is one the policy accepts. */
export async function addUser(base: string, adminToken: string, username: string, role: TestUser["role"]): Promise<TestUser> {
  let password = "";
  // Random, and (the policy's rule) never containing the user name.
  for (let i = 0; i < 10 && (!password || password.toLowerCase().includes(username.toLowerCase())); i++) password = `Pw-${crypto.randomUUID()}`;
  const res = await fetch(`${base}/api/users`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ username, role, password }),
  });
  if (res.status !== 201) throw new Error(`adding ${username}: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: number };
  return { id, username, password, role };
}

/** Fills the login form (the page's, or the dialog's when anyone may read) and waits for the user menu. */
export async function logIn(p: WatchedPage, user: Pick<TestUser, "username" | "password">): Promise<void> {
  await p.page.getByLabel("User name", { exact: true }).fill(user.username);
  await p.page.getByLabel("Password", { exact: true }).fill(user.password);
  await p.page.getByLabel("Password", { exact: true }).press("Enter");
  await p.page.locator(".menu-button .user-name").getByText(user.username, { exact: true }).waitFor();
}

/** Goes to a dashboard route (its hash), as a click on a link would. */
export function go(p: WatchedPage, hash: string): Promise<unknown> {
  return p.page.evaluate((h) => (location.hash = h), hash);
}

/** Every page stayed free of script errors, CSP violations and dialogs; then closed. */
export async function closeClean(...pages: WatchedPage[]): Promise<void> {
  for (const p of pages) {
    expect(p.problems).toEqual([]);
    await p.page.close();
  }
}

/** Logs out through the user menu and waits for the login form. */
export async function logOut(p: WatchedPage): Promise<void> {
  await p.page.locator(".menu-button").click();
  await p.page.getByRole("button", { name: "Log out", exact: true }).click();
  await p.page.getByLabel("User name", { exact: true }).waitFor();
}

/** Presses Tab (at most `max` times) until `target` has the focus; whether it got there. */
export async function tabTo(p: WatchedPage, target: Locator, max = 15): Promise<boolean> {
  for (let i = 0; i < max; i++) {
    await p.page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement)) return true;
  }
  return false;
}
