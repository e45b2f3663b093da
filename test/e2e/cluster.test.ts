// Two instances on one PostgreSQL, in Chromium: a dashboard served by instance B shows at once
// what happens through instance A (a registration, a status change, a deletion).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { machineBody } from "../helpers/app.ts";
import { addUser, launchBrowser, logIn, type Browser } from "../helpers/browser.ts";
import { call, startInstances, stopInstances, type Instance } from "../helpers/instances.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";

describe.skipIf(!needs("chromium") || !needs("root"))("a dashboard on one instance, changes through another (Chromium, compiled binaries)", () => {
  let instances: Instance[] = [];
  let browser: Browser;

  beforeAll(async () => {
    instances = await startInstances(2, await (await sharedPgCluster()).createDatabase(), { PING_INTERVAL: "1s", PING_TIMEOUT: "300ms", FAILURE_THRESHOLD: "2", BACKOFF_MAX: "1s" });
    browser = await launchBrowser();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await stopInstances(instances);
  });

  test("registered through A: the row appears on B's page; deleted through A: it goes", async () => {
    const [a, b] = instances as [Instance, Instance];
    const nina = await addUser(a.base, ADMIN_TOKEN, "nina", "viewer");
    const p = await browser.page();
    await p.page.goto(`${b.base}/`);
    await logIn(p, nina);
    await p.page.locator('[data-state="connected"]').waitFor();

    const created = await call<{ id: number }>(a.base, "PUT", "/api/machines/127.3.20.1", machineBody(2001, { hostname: "made-on-a" }));
    expect(created.status).toBe(201);
    const row = p.page.locator(`[data-id="${created.body.id}"]`);
    await row.getByText("made-on-a").waitFor({ timeout: 5_000 });
    // Checked by whichever instance holds it: its RTT shows on B's page too.
    await row.getByText(/\d+(\.\d+)? ms/).first().waitFor({ timeout: 10_000 });

    expect((await call(a.base, "DELETE", `/api/machines/${created.body.id}`)).status).toBe(204);
    await row.waitFor({ state: "detached", timeout: 5_000 });
    expect(p.problems).toEqual([]);
  }, 60_000);

  // Last: it stops A.
  test("the Instances page on B lists A and B as live, B as this instance; A stopped shows as stopped", async () => {
    const [a, b] = instances as [Instance, Instance];
    const vera = await addUser(b.base, ADMIN_TOKEN, "vera", "viewer");
    const p = await browser.page();
    await p.page.goto(`${b.base}/`);
    await logIn(p, vera);
    await p.page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Instances" }).click();
    const row = (i: Instance) => p.page.locator(`tr[data-instance="${i.id}"]`);
    await row(a).and(p.page.locator('[data-state="live"]')).waitFor({ timeout: 5_000 });
    await row(b).and(p.page.locator('[data-state="live"]')).waitFor({ timeout: 5_000 });
    expect(await row(b).getAttribute("class")).toContain("this-instance");
    expect(await row(a).getAttribute("class")).not.toContain("this-instance");
    expect(await row(b).getByText("this instance").count()).toBe(1);
    expect(await p.page.locator("tr[data-instance]").count()).toBe(2);

    expect(await a.binary.halt()).toBe(0);
    // The page asks again every 5 s by itself: no reload.
    await row(a).and(p.page.locator('[data-state="stopped"]')).waitFor({ timeout: 8_000 });
    expect(await row(a).locator(".tag").first().textContent()).toBe("stopped");
    await row(b).and(p.page.locator('[data-state="live"]')).waitFor();
    expect(p.problems).toEqual([]);
  }, 60_000);
});
