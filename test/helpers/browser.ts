// A real browser for dashboard tests and benchmarks, and the compiled binary it talks to: Debian's Chromium driven by playwright-core,
// headless, with a fresh profile in a temp dir that is removed afterwards. Every page is watched
// for what must never happen: script errors, console errors (Chromium reports CSP violations
// there too), CSP violation events and alert/confirm/prompt dialogs.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.VXMAN_CHROMIUM ?? "/usr/bin/chromium";
export const hasChromium = (): boolean => existsSync(CHROMIUM);
export const ARTIFACTS = join(import.meta.dir, "../artifacts");

const ARGS = [
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
  context: BrowserContext;
  /** A new tab of the given size, watched for problems. */
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
  const profile = mkdtempSync(join(tmpdir(), "vxman-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 30_000,
      viewport: { width: 1280, height: 800 },
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  // launchPersistentContext opens one blank tab; tests open their own.
  for (const p of context.pages()) await p.close();
  return {
    context,
    async page(viewport = { width: 1280, height: 800 }) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
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
        // dashboard expects some (a 404 for samples not recorded yet, the login check, a server
        // restart). Those are kept apart.
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
      await Promise.race([context.close(), Bun.sleep(10_000)]).catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

