// Outages and notifications in the dashboard, in Chromium, against the compiled binary on
// PostgreSQL, monitoring for real (fast timings): labels edited by an operator reach a viewer's
// list live; a test host in a network namespace goes quiet and its strip of checks turns red
// live, an outage opens on the Outages page and closes when it answers again; silences made and
// ended from their page; a webhook channel pointing at a loopback receiver added, tested,
// edited without retyping its secret (the receiver still verifies the signature), its deliveries
// in the log. Each role sees only what it may use; hostile labels and names stay text; every
// page fits a phone. Every page is checked for script errors, CSP violations and dialogs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "../../src/api/machines/model.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { addUser, ARTIFACTS, closeClean, go, launchBrowser, logIn, type Browser, type TestUser, type WatchedPage } from "../helpers/browser.ts";
import { createTestHost, type TestHost } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";
import { needs } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ADMIN_TOKEN = "outages-e2e-admin-token-0123456789";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
// Unreachable after 2 failed checks, ~0.5 s after a host goes quiet.
const FAST_MONITOR = { PING_INTERVAL: "200ms", PING_TIMEOUT: "150ms", BACKOFF_MAX: "400ms", FAILURE_THRESHOLD: "2" };
const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const HOSTILE_LABEL = "note=<img src=x onerror=alert(1)>";
const HOSTILE_NAME = "<script>alert(1)</script> ops hook";

describe.skipIf(!needs("chromium") || !needs("root", "netns"))("outages and notifications in the dashboard (Chromium, compiled binary, PostgreSQL)", () => {
  let served: ServedBinary;
  let browser: Browser;
  let host: TestHost;
  let receiver: HttpReceiver;
  let adam: TestUser, olga: TestUser, vera: TestUser;
  let web: Machine, quiet: Machine;
  let mac = 0;

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  const asAdmin = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${served.base}${path}`, { ...init, headers: { ...admin, ...init.headers } });
    return (res.status === 204 ? undefined : await res.json()) as T;
  };
  async function register(ip: string, hostname: string, body: Record<string, unknown> = {}): Promise<Machine> {
    mac++;
    const res = await fetch(`${served.base}/api/machines/${ip}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname, mac_address: `52:54:00:0e:00:${mac.toString(16).padStart(2, "0")}`, ...body }),
    });
    expect([200, 201]).toContain(res.status);
    return res.json();
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    host = await createTestHost();
    receiver = await startHttpReceiver({ secret: SECRET });
    const url = await (await sharedPgCluster()).createDatabase();
    served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", DATABASE_URL: url, ...FAST_MONITOR });
    browser = await launchBrowser();
    adam = await addUser(served.base, ADMIN_TOKEN, "adam", "admin");
    olga = await addUser(served.base, ADMIN_TOKEN, "olga", "operator");
    vera = await addUser(served.base, ADMIN_TOKEN, "vera", "viewer");
    web = await register("127.9.0.1", "web-01", { labels: ["role=web"], extra_data: { vni: 4100 } });
    for (let i = 2; i <= 6; i++) await register(`127.9.0.${i}`, `db-0${i}`, { labels: ["role=db", `rack=r${i % 2}`], extra_data: { vni: 4101 } });
    quiet = await register(host.ip, "goes-quiet", { labels: ["role=edge"], extra_data: { vni: 4200 } });
  }, 120_000);
  afterAll(async () => {
    try {
      await browser?.close();
      await served?.stop();
      await receiver?.stop();
    } finally {
      await host?.destroy();
    }
  }, 30_000);

  /** A page of its own (own cookies), logged in as `user`, live, at `hash`. */
  async function open(user: TestUser, viewport = DESKTOP, hash = ""): Promise<WatchedPage> {
    const p = await browser.page(viewport);
    await p.page.goto(`${served.base}/${hash}`);
    await logIn(p, user);
    await p.page.locator('[data-state="connected"]').waitFor();
    return p;
  }
  /** Test messages the receiver got (the pipeline may send it others: machines went down earlier). */
  const testsReceived = () => receiver.requests.filter((r) => (JSON.parse(r.body) as { kind: string }).kind === "test");
  const row = (p: WatchedPage, m: Machine) => p.page.locator(`[role="row"][data-id="${m.id}"]`);
  const chipTexts = (p: WatchedPage, m: Machine) => row(p, m).locator(".chip").allTextContents();
  /** Whether a row's strip draws any missed check (in red). */
  const redMarks = (p: WatchedPage, m: Machine) => row(p, m).locator(".strip").evaluate((el) => (el as HTMLElement).style.getPropertyValue("--missed") !== "");
  /** [answered, checks] of a strip's accessible text. */
  const stripOf = async (p: WatchedPage, m: Machine): Promise<[number, number] | null> => {
    const said = (await row(p, m).locator(".strip").getAttribute("aria-label")) ?? "";
    const match = /^(\d+) of (\d+) recent checks answered$/.exec(said);
    return match ? [Number(match[1]), Number(match[2])] : null;
  };

  test("labels: an operator adds and removes them on a machine's page (checked at the field); a viewer's list follows live, as text; label and group filters", async () => {
    const viewer = await open(vera);
    await row(viewer, web).locator(".chip").getByText("role=web", { exact: true }).waitFor();
    const operator = await open(olga, DESKTOP, `#/machines/${web.id}`);
    const o = operator.page;
    await o.locator("#detail-h").getByText("web-01").waitFor();

    await o.getByLabel("Add a label").fill("not a label");
    await o.getByRole("button", { name: "Add label" }).click();
    await o.locator("#new-label-error").getByText("Write it as key=value").waitFor();
    expect(await o.getByLabel("Add a label").getAttribute("aria-invalid")).toBe("true");
    for (const label of [HOSTILE_LABEL, "rack=r7"]) {
      await o.getByLabel("Add a label").fill(label);
      await o.getByRole("button", { name: "Add label" }).click();
      await o.locator(".chip-list").getByText(label, { exact: true }).waitFor();
    }
    expect(await o.locator("#new-label-error").count()).toBe(0);
    // The viewer's list shows them live, as text. Each label is its own change, and the second may
    // reach the viewer a coalescing window after the first: wait for both.
    const labelled = [HOSTILE_LABEL, "rack=r7", "role=web"];
    await waitFor("the viewer's row to show the new labels", async () => (await chipTexts(viewer, web)).join("\n") === labelled.join("\n"), 10_000);
    expect(await chipTexts(viewer, web)).toEqual(labelled);
    await o.getByRole("button", { name: "Remove label role=web" }).click();
    await waitFor("role=web gone from the viewer's row", async () => !(await chipTexts(viewer, web)).includes("role=web"), 10_000);
    expect((await asAdmin<Machine>(`/api/machines/${web.id}`)).labels).toEqual([HOSTILE_LABEL, "rack=r7"]);
    const changed = await asAdmin<{ items: { kind: string; actor: string }[] }>(`/api/events?machine_id=${web.id}&kind=labels_changed`);
    expect(changed.items.map((e) => e.actor)).toEqual(["olga", "olga", "olga"]);
    expect(await viewer.page.locator("#app img").count()).toBe(0);

    // Filters: by label (key=value or just the key), by group; q also finds labels.
    const shown = viewer.page.locator("p.shown");
    await viewer.page.getByLabel("Label", { exact: true }).fill("rack=r7");
    await shown.getByText("Showing 1 of").waitFor();
    await row(viewer, web).waitFor();
    await viewer.page.getByLabel("Label", { exact: true }).fill("rack");
    await shown.getByText("Showing 6 of").waitFor();
    await viewer.page.getByLabel("Label", { exact: true }).fill("");
    await viewer.page.getByRole("combobox", { name: /^Group/ }).selectOption("vni 4101");
    await shown.getByText("Showing 5 of").waitFor();
    expect(await row(viewer, web).count()).toBe(0);
    await viewer.page.screenshot({ path: join(ARTIFACTS, "outages-list-group-filter.png") });
    await viewer.page.getByRole("combobox", { name: /^Group/ }).selectOption("");
    await viewer.page.getByLabel("Search").fill("onerror");
    await shown.getByText("Showing 1 of").waitFor();
    await viewer.page.getByLabel("Search").fill("");
    // A label on a machine's page links to the list filtered by it.
    await go(viewer, `#/machines/${web.id}`);
    await viewer.page.locator(".chip-list").getByRole("link", { name: "rack=r7" }).click();
    await shown.getByText("Showing 1 of").waitFor();
    expect(await viewer.page.getByLabel("Label", { exact: true }).inputValue()).toBe("rack=r7");
    await operator.page.screenshot({ path: join(ARTIFACTS, "outages-operator-labels.png"), fullPage: true });
    await closeClean(viewer, operator);
  }, 60_000);

  test("a test host that stops answering: red marks in its strip live, an open outage on the Outages page; closed when it answers again", async () => {
    const list = await open(vera);
    await row(list, quiet).locator(".status").getByText("● active").waitFor({ timeout: 15_000 });
    await waitFor("a few answered checks in the strip", async () => {
      const s = await stripOf(list, quiet);
      return s !== null && s[1] >= 3 && s[0] === s[1];
    }, 15_000);
    expect(await redMarks(list, quiet)).toBe(false);
    const outages = await open(olga, DESKTOP, "#/outages");
    await outages.page.getByText("Nothing is down.").waitFor();

    await host.stopAnswering();
    try {
      await row(list, quiet).locator(".status").getByText("○ unreachable").waitFor({ timeout: 15_000 });
      await waitFor("red marks in the strip", () => redMarks(list, quiet), 10_000);
      await waitFor("red marks adding up live", async () => {
        const s = await stripOf(list, quiet);
        return s !== null && s[1] - s[0] >= 3;
      }, 15_000);
      await list.page.screenshot({ path: join(ARTIFACTS, "outages-list-red-marks.png") });
      // The outage, open, under its group: VNI 4200, one machine down, since when.
      const group = outages.page.locator('.outage-group[data-group="vni 4200"]');
      await group.waitFor({ timeout: 15_000 });
      await group.locator(".tag").getByText("1 down").waitFor();
      await group.getByRole("link", { name: "goes-quiet" }).waitFor();
      await group.locator("time").first().waitFor();
      const history = outages.page.locator(".outages-table tr").filter({ hasText: "goes-quiet" });
      await history.getByText("still down").waitFor();
      const open_ = await asAdmin<{ items: { machine_id: number; ended_at: string | null }[] }>("/api/outages?open=true");
      expect(open_.items.map((x) => x.machine_id)).toEqual([quiet.id]);
      await outages.page.screenshot({ path: join(ARTIFACTS, "outages-page-open.png"), fullPage: true });
      // The group's link opens the list showing its unreachable machines.
      await group.getByRole("link", { name: /show them in the machine list/ }).click();
      await outages.page.locator("p.shown").getByText("Showing 1 of").waitFor();
      await row(outages, quiet).waitFor();
      await go(outages, "#/outages");
      await group.waitFor();
    } finally {
      await host.answerAgain();
    }
    await row(list, quiet).locator(".status").getByText("● active").waitFor({ timeout: 15_000 });
    await outages.page.getByText("Nothing is down.").waitFor({ timeout: 15_000 });
    const closed = outages.page.locator(".outages-table tr").filter({ hasText: "goes-quiet" });
    await waitFor("the outage closed in the history", async () => (await closed.count()) === 1 && (await closed.getByText("still down").count()) === 0, 10_000);
    expect(await closed.locator("time").count()).toBe(2); // down at, back at
    // The machine's page: its strip in words, the outage in its history, uptime as figures.
    await go(list, `#/machines/${quiet.id}`);
    await list.page.locator(".outages-table tbody tr").first().waitFor();
    expect(await list.page.locator(".outages-table").getByText("still down").count()).toBe(0);
    expect(await list.page.locator(".strip-line").textContent()).toMatch(/\d+ of \d+ recent checks answered/);
    expect(await list.page.locator(".uptime-figures dd").allTextContents()).toHaveLength(3);
    await list.page.screenshot({ path: join(ARTIFACTS, "outages-machine-page.png"), fullPage: true });
    await closeClean(list, outages);
  }, 90_000);

  test("silences: an operator creates them from the Silences page (the server's words at the field), sees one active and one scheduled, ends one; a viewer only reads", async () => {
    const p = await open(olga, DESKTOP, "#/silences");
    const o = p.page;
    await o.getByText("No silences active or to come.").waitFor();
    // A schedule the server refuses: each problem at its field.
    await o.getByLabel("Labels").fill("role=db");
    await o.getByLabel("On a schedule").check();
    await o.getByLabel("Cron").fill("0 2 * * 6");
    await o.getByLabel("Time zone").fill("Mars/Olympus_Mons");
    await o.getByRole("button", { name: "Create silence" }).click();
    await o.locator("#silence-timezone-error").getByText("must be an IANA time zone").waitFor();
    await o.getByLabel("Time zone").fill("Europe/Berlin");
    await o.getByLabel("Cron").fill("every saturday");
    await o.getByRole("button", { name: "Create silence" }).click();
    await o.locator("#silence-cron-error").getByText("is not a cron expression").waitFor();
    expect(await o.locator("#silence-timezone-error").count()).toBe(0);
    await p.page.screenshot({ path: join(ARTIFACTS, "outages-silence-cron-error.png"), fullPage: true });
    await o.getByLabel("Cron").fill("0 2 * * 6");
    await o.getByLabel("Each window lasts").selectOption({ label: "1 hour" });
    await o.getByLabel("Comment").fill("weekly backups");
    await o.getByRole("button", { name: "Create silence" }).click();
    await o.getByRole("status").getByText(/^Silence \d+ created\.$/).waitFor();
    const scheduled = o.locator('.silence[data-state="scheduled"]');
    await scheduled.getByText("Next window").waitFor();
    await scheduled.getByText("0 2 * * 6").waitFor();

    // One machine by name, for two hours: active now.
    await o.getByLabel("For a while").check();
    await o.getByLabel("Machines").fill("no-such-host");
    await o.getByRole("button", { name: "Create silence" }).click();
    await o.locator("#silence-machines-error").getByText("No machine is called no-such-host.").waitFor();
    await o.getByLabel("Machines").fill("goes-quiet");
    await o.getByLabel("Duration").selectOption({ label: "2 hours" });
    await o.getByLabel("Comment").fill("<b>kernel upgrade</b>");
    await o.getByRole("button", { name: "Create silence" }).click();
    await o.getByRole("status").getByText(/^Silence \d+ created: active now\.$/).waitFor();
    const active = o.locator('.silence[data-state="active"]');
    await active.getByText("Active until").waitFor();
    await active.getByRole("link", { name: "goes-quiet" }).waitFor();
    expect(await active.locator(".silence-comment").textContent()).toBe("<b>kernel upgrade</b>");
    await active.getByText("olga", { exact: true }).waitFor();
    const { items } = await asAdmin<{ items: { id: number; machine_ids: number[]; created_by: string; active: boolean; comment: string }[] }>("/api/silences");
    const made = items.find((s) => s.machine_ids.includes(quiet.id))!;
    expect(made).toMatchObject({ created_by: "olga", active: true, comment: "<b>kernel upgrade</b>" });
    await p.page.screenshot({ path: join(ARTIFACTS, "outages-silences.png"), fullPage: true });

    // A viewer sees both, and nothing to change them with.
    const v = await open(vera, DESKTOP, "#/silences");
    await v.page.locator(".silence").nth(1).waitFor();
    expect(await v.page.getByRole("button", { name: /End silence/ }).count()).toBe(0);
    expect(await v.page.getByRole("button", { name: "Create silence" }).count()).toBe(0);
    expect(await v.page.locator("#app b").count()).toBe(0);

    // Ended early: asked first; then gone from the list, and ended for the server.
    await active.getByRole("button", { name: `End silence ${made.id} now` }).click();
    await o.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect((await asAdmin<{ items: { id: number }[] }>("/api/silences")).items.map((s) => s.id)).toContain(made.id);
    await active.getByRole("button", { name: `End silence ${made.id} now` }).click();
    await o.getByRole("dialog").getByRole("button", { name: "End now" }).click();
    await o.getByRole("status").getByText(`Silence ${made.id} ended.`).waitFor();
    await active.waitFor({ state: "detached" });
    const all = await asAdmin<{ items: { id: number; expired_at: string | null }[] }>("/api/silences?all=true");
    expect(all.items.find((s) => s.id === made.id)!.expired_at).not.toBeNull();
    await o.getByLabel("Show ended silences").check();
    await o.locator(`.silence[data-silence="${made.id}"][data-state="ended"]`).waitFor();
    await closeClean(p, v);
  }, 60_000);

  test("channels: an admin adds a webhook to a loopback receiver, tests it, edits it without retyping the secret (still signed with it), reads the delivery log, deletes it", async () => {
    const p = await open(adam, DESKTOP, "#/channels");
    const a = p.page;
    await a.getByText("No channels yet").waitFor();
    await a.getByRole("button", { name: "Add a channel" }).click();
    await a.getByLabel("Name", { exact: true }).fill(HOSTILE_NAME);
    await a.getByLabel("URL", { exact: true }).fill(`${receiver.url}/hook`);
    // A secret made in the browser is shown once, to hand to the receiver.
    await a.getByRole("button", { name: "Generate a secret" }).click();
    await a.locator(".secret-field code").getByText(/^whsec_[A-Za-z0-9+/]{43}=$/).waitFor();
    await a.getByLabel("Signing secret").fill("not-a-whsec-secret");
    expect(await a.locator(".secret-field code").count()).toBe(0);
    await a.getByRole("button", { name: "Add a header" }).click();
    await a.getByLabel("Header 1 name").fill("X-Team");
    await a.getByLabel("Value of X-Team").fill("netops");
    await a.getByLabel("Registered").check();
    await a.getByRole("button", { name: "Add channel" }).click();
    await a.locator("#channel-secret-error").getByText("must be a Standard Webhooks secret").waitFor();
    await p.page.screenshot({ path: join(ARTIFACTS, "outages-channel-secret-error.png"), fullPage: true });
    await a.getByLabel("Signing secret").fill(SECRET);
    await a.getByRole("button", { name: "Add channel" }).click();
    await a.getByRole("status").getByText(`Channel "${HOSTILE_NAME}" added.`).waitFor();
    const item = a.locator(".channel").filter({ hasText: "ops hook" });
    expect(await item.locator(".channel-name").textContent()).toBe(HOSTILE_NAME);
    const [saved] = (await asAdmin<{ items: { id: number; events: string[]; settings: Record<string, unknown> }[] }>("/api/channels")).items;
    expect(saved!.events).toEqual(["unreachable", "recovered", "registered"]);
    expect(saved!.settings).toEqual({ url: `${receiver.url}/hook`, secret: { set: true }, headers: { "X-Team": { set: true } } });

    // A test: the receiver gets it, signed; the page says it was delivered.
    await item.getByRole("button", { name: /^Send a test to/ }).click();
    await item.locator(".test-result").getByText("✓ Test delivered").waitFor();
    const [first] = await waitFor("the test at the receiver", () => testsReceived().length === 1 && testsReceived());
    expect(first!.path).toBe("/hook");
    expect(first!.signature).toEqual({ valid: true });
    expect(first!.headers["x-team"]).toBe("netops");
    expect(JSON.parse(first!.body)).toMatchObject({ kind: "test" });

    // Edited: a new name and address; the secret and the header's value are not typed again.
    await item.getByRole("button", { name: /^Edit / }).click();
    const secret = a.getByLabel("Signing secret");
    expect(await secret.getAttribute("placeholder")).toBe("set — leave empty to keep");
    expect(await secret.inputValue()).toBe("");
    await a.locator("#channel-secret-hint").getByText("Set — leave empty to keep it.").waitFor();
    expect(await a.getByLabel("Value of X-Team").getAttribute("placeholder")).toBe("set — leave empty to keep");
    await a.getByLabel("Name", { exact: true }).fill("ops hook, edited");
    await a.getByLabel("URL", { exact: true }).fill(`${receiver.url}/hook2`);
    await p.page.screenshot({ path: join(ARTIFACTS, "outages-channel-editing.png"), fullPage: true });
    await a.getByRole("button", { name: "Save channel" }).click();
    await a.getByRole("status").getByText('Channel "ops hook, edited" saved.').waitFor();
    const edited = a.locator(".channel").filter({ hasText: "ops hook, edited" });
    await edited.getByRole("button", { name: /^Send a test to/ }).click();
    await edited.locator(".test-result").getByText("✓ Test delivered").waitFor();
    const [, second] = await waitFor("the second test at the receiver", () => testsReceived().length === 2 && testsReceived());
    expect(second!.path).toBe("/hook2");
    expect(second!.signature).toEqual({ valid: true }); // the secret was kept
    expect(second!.headers["x-team"]).toBe("netops"); // and the header's value
    expect(await a.evaluate((s) => document.documentElement.outerHTML.includes(s.slice(6)), SECRET)).toBe(false);

    // The delivery log: both tests, sent at the first try, with the receiver's answer.
    const log = a.locator(".deliveries tbody tr").filter({ hasText: "vxman test message" });
    await waitFor("two tests in the log", async () => (await log.count()) === 2, 15_000);
    expect(await log.and(a.locator('[data-status="sent"]')).count()).toBe(2);
    expect(await log.first().locator('[data-label="Tries"]').textContent()).toBe("1");
    expect(await log.first().locator('[data-label="Last answer"]').textContent()).toMatch(/^200/);
    await p.page.screenshot({ path: join(ARTIFACTS, "outages-channels.png"), fullPage: true });

    // An operator reads the log, and nothing else of channels.
    const op = await open(olga, DESKTOP, "#/channels");
    await op.page.getByRole("heading", { name: "Delivery log" }).waitFor();
    await op.page.locator(".deliveries tbody tr").filter({ hasText: "vxman test message" }).nth(1).waitFor();
    expect(await op.page.getByRole("button", { name: /Add a channel|^Edit|^Delete|^Send a test/ }).count()).toBe(0);
    expect(await op.page.locator(".channel").count()).toBe(0);

    // Deleted, once confirmed.
    await edited.getByRole("button", { name: /^Delete / }).click();
    await a.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect((await asAdmin<{ items: unknown[] }>("/api/channels")).items).toHaveLength(1);
    await edited.getByRole("button", { name: /^Delete / }).click();
    await a.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await a.getByText("No channels yet").waitFor();
    expect((await asAdmin<{ items: unknown[] }>("/api/channels")).items).toHaveLength(0);
    await closeClean(p, op);
  }, 60_000);

  test("what each role is offered: a viewer no controls, an operator labels, silences and the delivery log, an admin channels too", async () => {
    const offered = async (user: TestUser) => {
      const p = await open(user, DESKTOP, `#/machines/${web.id}`);
      await p.page.locator("#detail-h").getByText("web-01").waitFor();
      await p.page.locator(".chip-list").waitFor();
      const nav = await p.page.locator("nav.nav a").allTextContents();
      const machinePage = {
        addLabel: await p.page.getByRole("button", { name: "Add label" }).count(),
        removeLabel: await p.page.getByRole("button", { name: /^Remove label/ }).count(),
        silence: await p.page.getByRole("link", { name: "Silence this machine…" }).count(),
      };
      await go(p, "#/silences");
      await p.page.getByRole("heading", { name: "Silences" }).waitFor();
      await p.page.locator(".silence").first().waitFor();
      const silences = {
        create: await p.page.getByRole("button", { name: "Create silence" }).count(),
        end: await p.page.getByRole("button", { name: /^End silence/ }).count(),
      };
      await go(p, "#/channels");
      await p.page.locator("#channels-h, main h2").first().waitFor();
      const channels = (await p.page.locator("main h2").textContent()) ?? "";
      return { p, offered: { nav, ...machinePage, ...silences, channels } };
    };
    const viewer = await offered(vera);
    expect(viewer.offered).toEqual({ nav: ["Machines", "Outages", "Silences", "Jobs", "Runs", "Instances"], addLabel: 0, removeLabel: 0, silence: 0, create: 0, end: 0, channels: "Not here" });
    await viewer.p.page.getByText("Notification channels are set up by admins").waitFor();
    const operator = await offered(olga);
    expect(operator.offered).toEqual({ nav: ["Machines", "Outages", "Silences", "Jobs", "Runs", "Deliveries", "Instances"], addLabel: 1, removeLabel: 2, silence: 1, create: 1, end: 1, channels: "Delivery log" });
    const boss = await offered(adam);
    expect(boss.offered).toEqual({
      nav: ["Machines", "Outages", "Silences", "Jobs", "Runs", "Channels", "Credentials", "Users", "Audit log", "Instances"], addLabel: 1, removeLabel: 2, silence: 1, create: 1, end: 1, channels: "Notification channels",
    });
    await closeClean(viewer.p, operator.p, boss.p);
  }, 60_000);

  test("phone (375 px): every new page fits without sideways scrolling, with touch-sized controls; screenshots", async () => {
    const small = (p: WatchedPage) =>
      p.page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('button:not(.link), input:not([type="checkbox"]):not([type="radio"]), select, textarea, summary, .nav a, label.check')]
          .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
          .map((el) => el.outerHTML.slice(0, 80)),
      );
    const fits = (p: WatchedPage) => p.page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
    const admin = await open(adam, PHONE);
    const operator = await open(olga, PHONE);
    for (const [p, hash, ready, name] of [
      // Filtered to its group (vni 4100: web-01 alone): the list renders only the cards in view
      // and a small margin, and web-01 sorts after the five db machines.
      [admin, "#/?group=vni%204100", `li.card[data-id="${web.id}"] .chip`, "list"],
      [operator, `#/machines/${web.id}`, ".chip-list", "machine"],
      [admin, "#/outages", ".outages-table tbody tr", "outages"],
      [operator, "#/silences", ".silence", "silences"],
      [admin, "#/channels", "#new-channel-h", "channels"],
      [operator, "#/channels", ".deliveries, .delivery-log p", "deliveries"],
    ] as const) {
      await go(p, hash);
      await p.page.locator(ready).first().waitFor();
      await Bun.sleep(300); // whatever else the page asks for lands
      expect({ hash, fits: await fits(p) }).toEqual({ hash, fits: true });
      expect({ hash, small: await small(p) }).toEqual({ hash, small: [] });
      await p.page.screenshot({ path: join(ARTIFACTS, `outages-phone-${name}.png`), fullPage: true });
    }
    // The channel form, open, for each kind: it fits too.
    await admin.page.getByRole("button", { name: "Add a channel" }).click();
    for (const kind of ["webhook", "ntfy", "telegram", "email"]) {
      await admin.page.getByLabel("Kind").selectOption(kind);
      await admin.page.locator(`fieldset[data-kind="${kind}"]`).waitFor();
      expect({ kind, fits: await fits(admin) }).toEqual({ kind, fits: true });
      expect({ kind, small: await small(admin) }).toEqual({ kind, small: [] });
    }
    await admin.page.screenshot({ path: join(ARTIFACTS, "outages-phone-channel-form.png"), fullPage: true });
    await closeClean(admin, operator);
  }, 60_000);
});
