// The dashboard in Chromium with 10,000 machines (loopback addresses 127.1.x.y, watched by the
// monitor meanwhile): time to the first full render, how long a live change takes to show, how
// long a search takes, and frame times while scrolling the whole list. Everything is measured
// inside the page, with the page's clock. Compiled binary on PGlite; loopback only. Each page
// logs in as a viewer first (reads need a login), outside what is timed.
//
//   node_modules/.bin/bun bench/dashboard.ts            (MACHINES=10000 to change; 0 skips this part)
//
// Then scrolling at 10,000 and 100,000 machines (BENCH_DASHBOARD_SCROLL="10000,100000"), on
// PostgreSQL seeded through SQL (registering 100,000 over HTTP is the api bench's job), every
// machine watched at a 60 s interval meanwhile, so the page also takes their live updates. With
// BENCH_BASELINE_BINARY=<another build of vxman> the same measures run on that build too, side by
// side, its passes interleaved with this build's so both see the same load on the machine.
//
// Anchor: Uptime Kuma users report 10–50 s dashboard loads at 1,400–1,900 monitors. Target here:
// under 1 s at 10,000.
import type { Page } from "playwright-core";
import type { ServedBinary } from "../test/helpers/binary.ts";
import { addUser, hasChromium, launchBrowser, type Browser, type TestUser } from "../test/helpers/browser.ts";
import { fleetOnPostgres as seededFleet } from "../test/helpers/seeded-fleet.ts";
import { ADMIN, median, runAlone, seed, startVxman, table } from "./lib.ts";

const MACHINES = Number(process.env.MACHINES ?? 10_000);
const LOADS = 5;
const UPDATES = 20;
const SCROLL_SIZES = (process.env.BENCH_DASHBOARD_SCROLL ?? "10000,100000").split(",").map(Number).filter((n) => n > 0);
const BASELINE = process.env.BENCH_BASELINE_BINARY;
/** Scroll passes per page and build (each 200 jumps top → bottom); BENCH_DASHBOARD_PASSES. */
const PASSES = Number(process.env.BENCH_DASHBOARD_PASSES ?? 3);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function runDashboardBench(): Promise<string> {
  if (!hasChromium()) throw new Error("chromium is missing: apt-get install chromium");
  if (MACHINES === 0) {
    const browser = await launchBrowser();
    try {
      return await scrollingAtScale(browser);
    } finally {
      await browser.close();
    }
  }
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

    for (const [name, viewport] of [["desktop 1280×800", DESKTOP], ["phone 375×812", PHONE]] as const) {
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
    const { page, problems } = await browser.page(DESKTOP);
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

    const frames = await scrollFrames(page);
    rows.push(["desktop", "scrolling top → bottom in 200 jumps: frame time", percentile(frames, 50), percentile(frames, 99), "p50 / p99; 16.7 ms = 60 fps"]);
    if (problems.length) throw new Error(problems.join("\n"));
    const phone = await browser.page(PHONE);
    await openLoggedIn(phone.page, viewer);
    await phone.page.waitForFunction(() => performance.getEntriesByName("vxman:first-render").length > 0, null, { timeout: 60_000 });
    const phoneFrames = await scrollFrames(phone.page);
    rows.push(["phone", "scrolling top → bottom in 200 jumps: frame time", percentile(phoneFrames, 50), percentile(phoneFrames, 99), "p50 / p99"]);
    if (phone.problems.length) throw new Error(phone.problems.join("\n"));
    await phone.page.close();

    return table(
      `Dashboard in Chromium (headless, Debian chromium) with ${MACHINES.toLocaleString()} machines, compiled binary on PGlite, loopback`,
      ["view", "measure", "median / p50 ms", "max / p99 ms", "note"],
      rows,
    ) + `\nSeeding ${MACHINES} machines took ${seedS.toFixed(1)} s. Anchor: Uptime Kuma users report 10–50 s loads at 1,400–1,900 monitors; target under 1 s at 10,000.\n` +
      (SCROLL_SIZES.length ? `\n${await scrollingAtScale(browser)}` : "");
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** Frame times (ms between animation frames) while jumping through the whole list, top to
 *  bottom, in 200 steps: every step shows rows not on screen before. Ends back at the top. */
async function scrollFrames(page: Page): Promise<number[]> {
  return (await page.evaluate(async () => {
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
    scrollTo(0, 0);
    await new Promise((r) => setTimeout(r, 200));
    return deltas;
  })) as number[];
}

/** `count` machines in PostgreSQL and a server of `binary` on them (the bench's admin token). Ids
 *  in no relation to names, as in a fleet registered over time: in name order, the page's first
 *  sort by status and name was a linear pass, and the first render at 100,000 ~200 ms faster than
 *  a real fleet's (bench/first-render.ts). */
export function fleetOnPostgres(count: number, binary: string | undefined, env: Record<string, string> = {}): Promise<ServedBinary> {
  return seededFleet(count, binary, { ADMIN_TOKEN: ADMIN, ...env }, { scattered: true });
}

/** First render and scrolling at each size in SCROLL_SIZES, desktop and phone, on this build and
 *  (BENCH_BASELINE_BINARY) on another, their scroll passes interleaved. */
export async function scrollingAtScale(browser: Browser): Promise<string> {
  const builds = BASELINE ? [["before", BASELINE], ["this build", undefined]] as const : [["this build", undefined]] as const;
  const rows: (string | number)[][] = [];
  for (const count of SCROLL_SIZES) {
    const servers: ServedBinary[] = [];
    try {
      for (const [, binary] of builds) servers.push(await fleetOnPostgres(count, binary));
      const users = await Promise.all(servers.map((server) => addUser(server.base, ADMIN, "scroll-viewer", "viewer")));
      const open = async (k: number, viewport: typeof DESKTOP) => {
        const watched = await browser.page(viewport);
        const base = servers[k]!.base;
        const login = await watched.page.request.post(`${base}/api/session`, { data: { username: users[k]!.username, password: users[k]!.password } });
        if (!login.ok()) throw new Error(`login failed: ${login.status()}`);
        await watched.page.goto(`${base}/`);
        await watched.page.waitForFunction(() => performance.getEntriesByName("vxman:first-render").length > 0, null, { timeout: 120_000 });
        const first = await watched.page.evaluate(() => performance.getEntriesByName("vxman:first-render")[0]!.startTime);
        return { ...watched, first };
      };
      for (const [view, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
        // First renders one page at a time (the others closed), the builds taking turns.
        const firsts: number[][] = servers.map(() => []);
        for (let round = 0; round < 3; round++) {
          for (const k of servers.keys()) {
            const p = await open(k, viewport);
            firsts[k]!.push(p.first);
            await p.page.close();
          }
        }
        const pages = [];
        for (const k of servers.keys()) pages.push({ ...(await open(k, viewport)), frames: [] as number[] });
        for (let pass = 0; pass < PASSES; pass++) for (const p of pages) p.frames.push(...(await scrollFrames(p.page)));
        for (const [k, p] of pages.entries()) {
          const dom = await p.page.evaluate(() => document.querySelectorAll("[data-id]").length);
          if (p.problems.length) throw new Error(p.problems.join("\n"));
          rows.push([count.toLocaleString(), view, builds[k]![0], Math.round(median(firsts[k]!)), percentile(p.frames, 50), percentile(p.frames, 99), dom]);
          await p.page.close();
        }
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  return table(
    `Scrolling the machine list (${PASSES} passes of 200 jumps top → bottom per page${BASELINE ? ", before and after interleaved" : ""}), compiled binary on PostgreSQL, machines checked every 60 s meanwhile`,
    ["machines", "view", "build", "first render ms (median of 3)", "frame p50 ms", "frame p99 ms", "rows in the DOM at the top"],
    rows,
  ) + "\nTarget (issue 14): frame time p50 ≤ 16.7 ms, p99 ≤ 33 ms at 10,000 and 100,000 machines.\n";
}

if (import.meta.main) await runAlone(runDashboardBench);
