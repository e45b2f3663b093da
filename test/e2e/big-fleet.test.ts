// A fleet bigger than one snapshot part, on the compiled binary: 12,000 machines straight into
// PostgreSQL, watched every 60 s. A dashboard socket gets the snapshot in parts (about 1 MiB
// each, src/live/protocol.ts), every machine once, then the changes after it; Chromium puts the
// parts together the same way and shows them all. The machines are stored in no relation to their
// names, as a fleet registered over time is, and the snapshot comes in the order the dashboard
// opens with (src/live/dashboard-order.ts), which the page then shows as it came.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, admin, machineBody } from "../helpers/app.ts";
import type { ServedBinary } from "../helpers/binary.ts";
import { launchBrowser, type Browser } from "../helpers/browser.ts";
import { needs } from "../helpers/requirements.ts";
import { fleetOnPostgres } from "../helpers/seeded-fleet.ts";
import { LiveClient } from "../live/live-client.ts";
import { FIRST_SORT, sortMachines } from "../../public/lib/view.ts";

const FLEET = 12_000;

describe.skipIf(!needs("chromium") || !needs("root"))(`a fleet of ${FLEET} machines (compiled binary, PostgreSQL)`, () => {
  let server: ServedBinary;
  let browser: Browser;

  beforeAll(async () => {
    server = await fleetOnPostgres(FLEET, undefined, { ADMIN_TOKEN, ANONYMOUS_READ: "true" }, { scattered: true });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const total = async () => ((await (await fetch(`${server.base}/api/machines?limit=1`)).json()) as { total: number }).total;

  test("a dashboard socket gets the snapshot in parts, every machine once, then the changes after it", async () => {
    const c = await LiveClient.connect(`${server.base.replace("http", "ws")}/ws/status`, ["vxman"], 60_000);
    try {
      expect(c.strayPart).toBe(false);
      expect(c.snapshot!.parts).toBeGreaterThan(1);
      const names = new Set(c.snapshot!.machines.map((m) => m.hostname));
      expect(names.size).toBe(FLEET);
      expect(names.has("node-0") && names.has(`node-${FLEET - 1}`)).toBe(true);
      expect(new Set(c.snapshot!.machines.map((m) => m.id)).size).toBe(FLEET);
      // In the order it says: the page's own sort of the same machines.
      expect(c.snapshot!.order).toEqual(FIRST_SORT);
      const byId = new Map(c.snapshot!.machines.map((m) => [m.id, m]));
      expect(c.snapshot!.machines.map((m) => m.id)).toEqual(sortMachines(byId, FIRST_SORT.sort, FIRST_SORT.descending));
      expect(c.snapshot!.machines.map((m) => m.id)).not.toEqual([...byId.keys()].sort((a, b) => a - b)); // stored in no name order

      const res = await fetch(`${server.base}/api/machines/127.11.0.1`, {
        method: "PUT", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify(machineBody(1, { hostname: "came-after" })),
      });
      expect(res.status).toBe(201);
      await c.waitFor(() => c.events.some((e) => e.type === "machine_registered" && e.machine.hostname === "came-after"), "the registration");
      expect(c.events.map((e) => e.seq)).toEqual(c.events.map((_, i) => c.snapshot!.seq + 1 + i));
    } finally {
      c.close();
    }
  }, 90_000);

  test("Chromium shows every machine", async () => {
    const p = await browser.page();
    await p.page.goto(`${server.base}/`);
    await p.page.locator('[data-state="connected"]').waitFor({ timeout: 60_000 });
    await p.page.getByText(`${await total()} machines`, { exact: true }).waitFor({ timeout: 10_000 });
    expect(await p.page.locator("[data-id]").count()).toBeGreaterThan(0);
    // All active: by natural name order (node-2 before node-10), though stored in no such order.
    // (Rows are recycled in place as the list scrolls: their place is aria-rowindex, not the DOM's order.)
    const shown = await p.page.$$eval("[role=row][data-id]", (rows) =>
      rows.map((r) => [Number(r.getAttribute("aria-rowindex")), r.querySelector(".c-host")!.textContent!] as const).sort((a, b) => a[0] - b[0]).map((r) => r[1]),
    );
    // ("came-after", registered by the test above, sorts before them all.)
    expect(shown.slice(0, 12)).toEqual(["came-after", ...Array.from({ length: 11 }, (_, i) => `node-${i}`)]);
    expect(p.problems).toEqual([]);
  }, 90_000);
});
