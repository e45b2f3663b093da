// The dashboard in Chromium with 10,000 machines (loopback addresses 127.1.x.y, watched by the
// monitor meanwhile): time to the first full render, how long a live change takes to show, how
// long a search takes, and frame times while scrolling the whole list. Everything is measured
// inside the page, with the page's clock. Compiled binary on PGlite; loopback only. Each page
// logs in as a viewer first (reads need a login), outside what is timed.
//
//   node_modules/.bin/bun bench/dashboard.ts            (MACHINES=10000 to change)
//
// Anchor: Uptime Kuma users report 10–50 s dashboard loads at 1,400–1,900 monitors. Target here:
// under 1 s at 10,000.
import type { Page } from "playwright-core";
import { addUser, hasChromium, launchBrowser, type TestUser } from "../test/helpers/browser.ts";
import { ADMIN, median, runAlone, seed, startVxman, table } from "./lib.ts";

const MACHINES = Number(process.env.MACHINES ?? 10_000);
const LOADS = 5;
const UPDATES = 20;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function runDashboardBench(): Promise<string> {
  if (!hasChromium()) throw new Error("chromium is missing: apt-get install chromium");
  const server = await startVxman("pglite", { MAX_MACHINES: String(MACHINES + 1000), LOG_LEVEL: "warn" });
  const browser = await launchBrowser();
  try {
    const viewer = await addUser(server.base, ADMIN, "bench-viewer", "viewer");
    /** The session cookie in the page's context (the login form's own call), then the dashboard. */
    const openLoggedIn = async (page: Page, user: TestUser) => {
      const login = await page.request.post(`${server.base}/api/session`, { data: { username: user.username, password: user.password } });
      if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
      await page.goto(`${server.base}/`);
    };
    const t0 = performance.now();
    await seed(server.base, MACHINES);
    const seedS = (performance.now() - t0) / 1000;
    const rows: (string | number)[][] = [];

    for (const [name, viewport] of [["desktop 1280×800", { width: 1280, height: 800 }], ["phone 375×812", { width: 375, height: 812 }]] as const) {
      const loads: number[] = [];
      let domRows = 0;
      for (let i = 0; i < LOADS; i++) {
        const { page, problems } = await browser.page(viewport);
        await openLoggedIn(page, viewer);
        // The page marks "vxman:first-render" when the whole list was first on screen.
        await page.waitForFunction(() => performance.getEntriesByName("vxman:first-render").length > 0, null, { timeout: 60_000 });
        const { at, total, rendered } = await page.evaluate(() => ({
          at: performance.getEntriesByName("vxman:first-render")[0]!.startTime,
          total: document.querySelector('[data-count="total"]')?.textContent,
          rendered: document.querySelectorAll("[data-id]").length,
        }));
        if (Number(total) !== MACHINES) throw new Error(`rendered total ${total}, expected ${MACHINES}`);
        if (problems.length) throw new Error(problems.join("\n"));
        loads.push(at);
        domRows = rendered;
        await page.close();
      }
      rows.push([name, "navigation → full list on screen", median(loads), Math.max(...loads), `${domRows} of ${MACHINES} rows in the DOM`]);
    }

    // Live updates, search and scrolling, on one desktop page.
    const { page, problems } = await browser.page({ width: 1280, height: 800 });
    await openLoggedIn(page, viewer);
    await page.waitForFunction(() => performance.getEntriesByName("vxman:first-render").length > 0, null, { timeout: 60_000 });

    // From the PUT leaving the page to the text in the DOM: the request, the server, the
    // WebSocket (coalescing included), and re-filtering + re-sorting 10,000 machines.
    const live = (await page.evaluate(async (n: number) => {
      const results: number[] = [];
      for (let i = 0; i < n; i++) {
        // "aaa-…" sorts first among active machines: the new row is in the visible window.
        const name = `aaa-live-${i}-${Date.now().toString(36)}`;
        const seen = new Promise<number>((resolve) => {
          const obs = new MutationObserver(() => {
            if (document.body.textContent?.includes(name)) {
              obs.disconnect();
              resolve(performance.now());
            }
          });
          obs.observe(document.body, { subtree: true, childList: true, characterData: true });
        });
        const t0 = performance.now();
        await fetch(`/api/machines/127.8.0.${i + 1}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ hostname: name, mac_address: "52:54:00:88:00:01" }),
        });
        const timeout = new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`${name} never showed`)), 10_000));
        results.push((await Promise.race([seen, timeout])) - t0);
        await new Promise((r) => setTimeout(r, 250));
      }
      return results;
    }, UPDATES)) as number[];
    rows.push(["desktop", `live change: PUT → row in the DOM (${UPDATES} changes)`, percentile(live, 50), percentile(live, 99), "p50 / p99"]);

    const search = (await page.evaluate(async () => {
      const input = document.querySelector<HTMLInputElement>('input[type="search"]')!;
      const times: number[] = [];
      for (const q of ["node-9999", "127.1.3", "52:54:00:00:1", ""]) {
        const t0 = performance.now();
        input.value = q;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        times.push(performance.now() - t0);
      }
      return times;
    })) as number[];
    rows.push(["desktop", "search keystroke → list redrawn", median(search), Math.max(...search), "4 queries"]);

    const frames = (await page.evaluate(async () => {
      const deltas: number[] = [];
      const max = document.documentElement.scrollHeight;
      const step = Math.ceil(max / 200);
      let last = performance.now();
      for (let y = 0; y < max; y += step) {
        scrollTo(0, y);
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        const now = performance.now();
        deltas.push(now - last);
        last = now;
      }
      return deltas;
    })) as number[];
    rows.push(["desktop", "scrolling top → bottom in 200 jumps: frame time", percentile(frames, 50), percentile(frames, 99), "p50 / p99; 16.7 ms = 60 fps"]);
    if (problems.length) throw new Error(problems.join("\n"));

    return table(
      `Dashboard in Chromium (headless, Debian chromium) with ${MACHINES.toLocaleString()} machines, compiled binary on PGlite, loopback`,
      ["view", "measure", "median / p50 ms", "max / p99 ms", "note"],
      rows,
    ) + `\nSeeding ${MACHINES} machines took ${seedS.toFixed(1)} s. Anchor: Uptime Kuma users report 10–50 s loads at 1,400–1,900 monitors; target under 1 s at 10,000.\n`;
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.main) await runAlone(runDashboardBench);
