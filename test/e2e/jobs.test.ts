// Fleet jobs in the dashboard, in Chromium, against the compiled binary on PostgreSQL, with real
// OpenSSH servers on network-namespace test hosts. An admin adds a credential, SSH defaults and a
// machine's own settings, and defines a job, all through the pages (a secret never comes back);
// an operator runs it with a parameter and watches the run page: each host's lines appear while
// the run is still going, host rows change state live, a host's hostile output (HTML, a script
// tag, colour codes) stays text; the log filtered to one host; a run cancelled from the page. A
// viewer sees jobs, runs and logs but no control to run, change or cancel anything; a changed
// host key is a warning everyone sees and only an admin can accept. Every page is checked for
// script errors, CSP violations and dialogs.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { addUser, ARTIFACTS, closeClean, go, launchBrowser, logIn, type Browser, type TestUser, type WatchedPage } from "../helpers/browser.ts";
import type { WebSocketRoute } from "playwright-core";
import type { RunMessage } from "../../src/jobs/run-protocol.ts";
import { fleetApiAt, hostOf, type FleetApi } from "../helpers/fleet.ts";
import { destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { needs } from "../helpers/requirements.ts";
import { generateKeyPair, sshdTestsCanRun, startSshds, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(90_000);

const ADMIN_TOKEN = "jobs-e2e-admin-token-0123456789abcdef";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
const HOSTILE_HTML = "<img src=x onerror=alert(1)>";
const HOSTILE_SCRIPT = "<script>alert(2)</script> in red";
// Prints, then waits (at most 60 s) for a file named by the GATE parameter to appear in its home:
// the test decides when the run may end, so it can look at the page while the run goes on.
const SCRIPT = [
  'echo "start"',
  `printf '%s\\n' '${HOSTILE_HTML}'`,
  `printf '\\033[31m%s\\033[0m\\n' '${HOSTILE_SCRIPT}' >&2`,
  "i=0; while [ ! -e \"$HOME/$GATE\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done",
  'echo "after the gate"',
].join("\n");

describe.skipIf(!needs("chromium") || !sshdTestsCanRun())("fleet jobs in the dashboard (Chromium, compiled binary, real sshd)", () => {
  let served: ServedBinary;
  let browser: Browser;
  let api: FleetApi;
  let sshds: TestSshd[];
  let key: KeyPair;
  let adam: TestUser, olga: TestUser, vera: TestUser;
  let web1: { id: number; hostname: string }, web2: { id: number; hostname: string };
  let jobId = 0;
  let finishedRun = 0;
  let cancelledRun = 0;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [sshds, key] = await Promise.all([startSshds(2), generateKeyPair("ed25519")]);
    for (const s of sshds) s.authorize(key.publicKey);
    const url = await (await sharedPgCluster()).createDatabase();
    served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", DATABASE_URL: url, JOB_CONNECT_TIMEOUT: "5s" });
    api = fleetApiAt(served.base, { authorization: `Bearer ${ADMIN_TOKEN}` });
    browser = await launchBrowser();
    adam = await addUser(served.base, ADMIN_TOKEN, "adam", "admin");
    olga = await addUser(served.base, ADMIN_TOKEN, "olga", "operator");
    vera = await addUser(served.base, ADMIN_TOKEN, "vera", "viewer");
    web1 = await api.machine(sshds[0]!.ip, ["role=web"]);
    web2 = await api.machine(sshds[1]!.ip, ["role=web"]);
  }, 180_000);

  afterAll(async () => {
    try {
      await browser?.close();
      await served?.stop();
    } finally {
      await stopAllSshds();
      await destroyAllTestHosts();
    }
  }, 60_000);

  /** A page of its own (own cookies), logged in as `user`, at `hash`. */
  async function open(user: TestUser, hash = "", viewport = DESKTOP): Promise<WatchedPage> {
    const p = await browser.page(viewport);
    await p.page.goto(`${served.base}/${hash}`);
    await logIn(p, user);
    return p;
  }
  const hostRow = (p: WatchedPage, id: number) => p.page.locator(`.hosts-table tr[data-host="${id}"]`);
  const logText = (p: WatchedPage) => p.page.locator(".run-log").innerText();
  /** Nothing a host printed became an element: only the log's own lines and host marks are in the pane. */
  const onlyTextInLog = (p: WatchedPage) =>
    p.page.evaluate(() => {
      const strays = [...document.querySelectorAll(".run-log *")].filter((el) => !el.matches("div.log-line, span.log-host, span.muted"));
      return { strays: strays.map((el) => el.outerHTML), img: document.querySelectorAll("#app img").length, script: document.querySelectorAll("#app script").length };
    });
  /** What a host printed, line by line, as the page shows it (without the host marks). */
  const linesOf = (p: WatchedPage, id: number) =>
    p.page.locator(`.log-line[data-host="${id}"]`).evaluateAll((els) =>
      els.map((el) => [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("")));
  const openGate = (gate: string) => {
    for (const s of sshds) writeFileSync(join(s.home, gate), "");
  };

  test("an admin adds a credential, SSH defaults by label and a machine's own port, and defines a job with a parameter; no secret comes back", async () => {
    const admin = await open(adam, "#/credentials");
    const a = admin.page;
    await a.getByLabel("Name", { exact: true }).fill("ops key");
    await a.getByLabel("Private key", { exact: true }).fill(key.privateKey);
    await a.getByRole("button", { name: "Add credential" }).click();
    const row = a.locator(".credentials-table tr[data-credential]");
    await row.getByText(key.fingerprint).waitFor();
    expect(await row.innerText()).toContain("ssh-ed25519");
    // A wrong passphrase or a public key pasted by mistake is told at the field, and nothing is stored.
    await a.getByLabel("Name", { exact: true }).fill("pasted the public key");
    await a.getByLabel("Private key", { exact: true }).fill(key.publicKey);
    await a.getByRole("button", { name: "Add credential" }).click();
    await a.locator("#credential-key-error").waitFor();
    expect(await row.count()).toBe(1);
    const secretLine = key.privateKey.split("\n")[2]!;
    expect(await a.content()).not.toContain(secretLine);

    // Defaults for role=web: the user and the credential.
    await a.getByLabel("Labels", { exact: true }).fill("role=web");
    await a.getByLabel("User", { exact: true }).fill(sshds[0]!.user);
    await a.getByLabel("Credential", { exact: true }).selectOption({ label: "ops key" });
    await a.getByRole("button", { name: "Add default" }).click();
    await a.locator(".defaults-table tr[data-default]").getByText("ops key").waitFor();

    // The first machine's own port, on its page; the rest comes from the default.
    await go(admin, `#/machines/${web1.id}`);
    const ssh = a.locator(".machine-ssh");
    await ssh.getByText("SSH default", { exact: false }).first().waitFor();
    await a.getByRole("button", { name: "Edit SSH settings" }).click();
    await a.getByLabel("Port", { exact: true }).fill(String(sshds[0]!.port));
    await a.getByRole("button", { name: "Save SSH settings" }).click();
    await ssh.getByText("SSH settings saved.").waitFor();
    await waitFor("the port from the machine", async () => (await ssh.locator("dd").nth(1).innerText()) === `${sshds[0]!.port} (this machine)`);
    const own = await api.ok(200, "GET", `/api/machines/${web1.id}/ssh`);
    expect(own).toMatchObject({ own: { user: null, port: sshds[0]!.port, credential_id: null }, effective: { user: sshds[0]!.user, from: { user: expect.stringMatching(/^default \d+$/), port: "machine" } } });

    // The job: what the server refuses is told at the field it names; then saved.
    await go(admin, "#/jobs");
    await a.getByRole("button", { name: "New job" }).click();
    await a.getByLabel("Name", { exact: true }).fill("slow and hostile");
    await a.getByLabel("Script", { exact: true }).fill(SCRIPT);
    await a.getByLabel("Labels (all of them)", { exact: true }).fill("role=web");
    await a.getByLabel("Hosts at once, at most", { exact: true }).fill("2");
    await a.getByRole("button", { name: "Add a parameter" }).click();
    await a.locator(".param-row").getByLabel("Name", { exact: true }).fill("GATE");
    await a.locator(".param-row").getByLabel("Required", { exact: true }).check();
    await a.getByLabel("Cron", { exact: true }).fill("30 3 * * *");
    await a.getByRole("button", { name: "Create job" }).click();
    // A schedule with a required parameter that has no default: the server says so at that field.
    await a.locator("#job-new-param-0-default-error").getByText("needs a default").waitFor();
    await a.getByLabel("Cron", { exact: true }).fill("");
    await a.getByRole("button", { name: "Create job" }).click();
    await a.getByText('Job "slow and hostile" created.').waitFor();
    const item = a.locator("li.job").filter({ hasText: "slow and hostile" });
    expect(await item.locator("dd").first().innerText()).toBe("labels role=web");
    await item.getByText("never run").waitFor();
    const [job] = (await api.ok(200, "GET", "/api/jobs?name=slow%20and%20hostile")).items;
    expect(job).toMatchObject({ script: SCRIPT, targets: { labels: ["role=web"] }, parallelism: 2, parameters: [{ name: "GATE", required: true }], schedule: null, created_by: "adam" });
    jobId = job.id;
    await closeClean(admin);
  });

  test("an operator runs it with a parameter: each host's lines appear live while it runs, hostile output stays text, rows change state live, the log filters by host, a broken socket resumes with ?after=", async () => {
    expect(jobId).toBeGreaterThan(0);
    const operator = await open(olga, "#/jobs");
    const o = operator.page;
    // The run page's sockets pass through the test, which cuts the first one in the middle.
    const sockets: WebSocketRoute[] = [];
    const seqsBySocket: number[][] = [];
    await o.routeWebSocket(/\/ws\/runs\//, (ws) => {
      const seqs: number[] = [];
      sockets.push(ws);
      seqsBySocket.push(seqs);
      const server = ws.connectToServer();
      server.onMessage((message) => {
        const msg = JSON.parse(String(message)) as RunMessage;
        if (msg.type === "output") seqs.push(...msg.chunks.map((c) => c.seq));
        ws.send(message);
      });
    });
    await o.getByRole("button", { name: "Run slow and hostile now", exact: true }).click();
    await o.getByLabel("GATE (required)", { exact: true }).fill("gate-1");
    await o.getByRole("button", { name: "Run", exact: true }).click();
    await o.waitForURL(/#\/runs\/\d+$/);
    const runId = Number(/#\/runs\/(\d+)$/.exec(o.url())![1]);
    await o.locator('[data-log-state="connected"]').waitFor();

    // Both hosts' lines, before the gate opens: the run is still running.
    await waitFor("both hosts' hostile lines on the page", async () => (await o.locator(".log-line", { hasText: HOSTILE_HTML }).count()) === 2, 30_000);
    await waitFor("both hosts' stderr lines", async () => (await o.locator(".log-line.stderr", { hasText: HOSTILE_SCRIPT }).count()) === 2, 10_000);
    for (const m of [web1, web2]) expect(await hostRow(operator, m.id).getAttribute("data-state")).toBe("running");
    const during = await api.get(runId, false);
    expect(during.status).toBe("running");
    expect(during.parameters).toEqual({ GATE: "gate-1" });
    expect(await o.locator("[data-run-status]").getAttribute("data-run-status")).toBe("running");
    const text = await logText(operator);
    expect(text).toContain(HOSTILE_HTML);
    expect(text).toContain(HOSTILE_SCRIPT);
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("[31m");
    expect(text).not.toContain("after the gate");
    expect(await onlyTextInLog(operator)).toEqual({ strays: [], img: 0, script: 0 });
    // Each line is marked with its host; lines of one host are in the order printed.
    expect(await linesOf(operator, web1.id)).toEqual(["start", HOSTILE_HTML, HOSTILE_SCRIPT]);
    await o.screenshot({ path: join(ARTIFACTS, "jobs-run-live.png") });

    // One host's log alone.
    await o.getByLabel("Show", { exact: true }).selectOption({ label: web2.hostname });
    await waitFor("only the second host's lines", async () => (await o.locator(`.log-line[data-host="${web1.id}"]`).count()) === 0);
    expect(await o.locator(`.log-line[data-host="${web2.id}"]`).count()).toBe(3);
    expect(await o.locator(".log-host").count()).toBe(0);

    // The connection breaks: the page reconnects asking only for what it has not seen.
    expect(sockets.map((ws) => new URL(ws.url()).search)).toEqual([""]);
    await sockets[0]!.close({ code: 4000, reason: "cut by the test" });
    await waitFor("a second socket", () => sockets.length === 2, 15_000);
    const after = Number(new URL(sockets[1]!.url()).searchParams.get("after"));
    expect(after).toBe(Math.max(...seqsBySocket[0]!));
    await o.locator('[data-log-state="connected"]').waitFor();

    // The gate opens: each row turns to succeeded live, the last lines come, the log ends.
    openGate("gate-1");
    await waitFor("both rows succeeded", async () => {
      const states = await Promise.all([web1, web2].map((m) => hostRow(operator, m.id).getAttribute("data-state")));
      return states.every((s) => s === "succeeded");
    }, 30_000);
    await o.locator('[data-run-status="succeeded"]').waitFor();
    await o.locator('[data-log-state="ended"]').waitFor();
    await o.locator(`.log-line[data-host="${web2.id}"]`, { hasText: "after the gate" }).waitFor();
    await o.getByLabel("Show", { exact: true }).selectOption({ label: "all hosts" });
    await waitFor("both hosts' last lines", async () => (await o.locator(".log-line", { hasText: "after the gate" }).count()) === 2);
    // Nothing twice, nothing missing, in the order printed, across the reconnect.
    for (const m of [web1, web2]) expect(await linesOf(operator, m.id)).toEqual(["start", HOSTILE_HTML, HOSTILE_SCRIPT, "after the gate"]);
    expect(seqsBySocket[1]!.length).toBeGreaterThan(0);
    expect(seqsBySocket[1]!.every((seq) => seq > after)).toBe(true);
    expect(await hostRow(operator, web1.id).locator("td").nth(3).innerText()).toBe("0");
    expect(await o.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    const run = await api.get(runId);
    expect(run).toMatchObject({ status: "succeeded", started_by: "olga" });
    expect(hostOf(run, web1.id).output).toBe(`start\n${HOSTILE_HTML}\n${HOSTILE_SCRIPT}\nafter the gate\n`);
    expect(await onlyTextInLog(operator)).toEqual({ strays: [], img: 0, script: 0 });
    finishedRun = runId;

    // The jobs page names the last run.
    await go(operator, "#/jobs");
    await o.locator("li.job").getByText(`Run ${runId}`).waitFor();
    await closeClean(operator);
  });

  test("an operator cancels a run from its page: running scripts stop, the rows and the run turn cancelled live", async () => {
    const run = await api.start(jobId, { GATE: "never-opened" });
    const operator = await open(olga, `#/runs/${run.id}`);
    const o = operator.page;
    await waitFor("both hosts running with output", async () => (await o.locator(".log-line", { hasText: HOSTILE_HTML }).count()) === 2, 30_000);
    await o.getByRole("button", { name: "Cancel run" }).click();
    await o.getByRole("button", { name: "Yes, cancel it" }).click();
    await o.locator('[data-run-status="cancelled"]').waitFor({ timeout: 30_000 });
    for (const m of [web1, web2]) expect(await hostRow(operator, m.id).getAttribute("data-state")).toBe("cancelled");
    const ended = await api.get(run.id, false);
    expect(ended).toMatchObject({ status: "cancelled", cancelled_by: "olga" });
    cancelledRun = run.id;
    await waitFor("the scripts gone from the servers", () => sshds.every((s) => s.userProcesses().length === 0), 20_000);
    await closeClean(operator);
  });

  test("a viewer reads jobs, runs and logs (live and ended) with no control to run, change or cancel", async () => {
    const viewer = await open(vera, "#/jobs");
    const v = viewer.page;
    await v.locator("li.job").getByText("slow and hostile").waitFor();
    for (const name of ["Run slow and hostile now", "Edit slow and hostile", "Delete slow and hostile", "New job"]) expect(await v.getByRole("button", { name }).count()).toBe(0);
    expect(await v.locator(".nav").getByText("Credentials").count()).toBe(0);

    // The runs list, filtered by status through its form (and the address).
    await go(viewer, "#/runs");
    await v.locator(`.runs-table tr[data-run="${finishedRun}"]`).waitFor();
    expect(await v.locator(".runs-table tbody tr").count()).toBe(2);
    await v.getByLabel("Status", { exact: true }).selectOption("cancelled");
    // The cancelled run was listed already: wait for the filtered list itself.
    await waitFor("the filtered list", async () => (await v.locator(".runs-table tbody tr").count()) === 1, 15_000);
    await v.locator(`.runs-table tr[data-run="${cancelledRun}"]`).waitFor();
    expect(v.url()).toContain("#/runs?status=cancelled");

    // An ended run's log, read back from the database, as text.
    await go(viewer, `#/runs/${finishedRun}`);
    await v.locator('[data-log-state="ended"]').waitFor();
    await waitFor("the whole log", async () => (await v.locator(".log-line").count()) === 8);
    expect(await logText(viewer)).toContain(HOSTILE_HTML);
    expect(await onlyTextInLog(viewer)).toEqual({ strays: [], img: 0, script: 0 });

    // A running one, live: no cancel button; cancelled by someone else, it ends on the page.
    const run = await api.start(jobId, { GATE: "never-either" });
    await go(viewer, `#/runs/${run.id}`);
    await waitFor("live lines for the viewer", async () => (await v.locator(".log-line", { hasText: HOSTILE_HTML }).count()) === 2, 30_000);
    expect(await v.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    await api.ok(202, "POST", `/api/runs/${run.id}/cancel`);
    await v.locator('[data-run-status="cancelled"]').waitFor({ timeout: 30_000 });

    await go(viewer, "#/runs/999999");
    await v.getByText("There is no such run.").waitFor();

    // Admin pages are not theirs; a machine's SSH settings are shown without an edit button.
    await go(viewer, "#/credentials");
    await v.getByText("SSH credentials are kept by admins.").waitFor();
    await go(viewer, `#/machines/${web1.id}`);
    await v.locator(".machine-ssh").getByText(sshds[0]!.user).waitFor();
    expect(await v.getByRole("button", { name: "Edit SSH settings" }).count()).toBe(0);

    // The pages fit a phone, with touch-sized controls.
    const phone = await open(vera, `#/runs/${finishedRun}`, PHONE);
    const small = () =>
      phone.page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('button:not(.link), input:not([type="checkbox"]):not([type="radio"]), select, textarea, summary, .nav a, a.button, label.check')]
          .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
          .map((el) => el.outerHTML.slice(0, 80)),
      );
    for (const [hash, ready] of [[`#/runs/${finishedRun}`, '[data-log-state="ended"]'], ["#/runs", ".runs-table tbody tr"], ["#/jobs", "li.job"]] as const) {
      await go(phone, hash);
      await phone.page.locator(ready).first().waitFor();
      expect({ hash, fits: await phone.page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), small: await small() }).toEqual({ hash, fits: true, small: [] });
      if (hash.startsWith("#/runs/")) await phone.page.screenshot({ path: join(ARTIFACTS, "jobs-run-phone.png"), fullPage: true });
    }
    await closeClean(viewer, phone);
  });

  test("a changed host key: a warning on the jobs page and the machine's page for everyone; only an admin accepts it, then runs log in again", async () => {
    const [newKey] = await sshds[1]!.rotateHostKey();
    openGate("quick");
    const refused = await api.ended((await api.start(jobId, { GATE: "quick" })).id);
    expect(hostOf(refused, web2.id).state).toBe("host_key_changed");
    expect(hostOf(refused, web1.id).state).toBe("succeeded");

    const viewer = await open(vera, "#/jobs");
    await viewer.page.locator("[data-changed-host-keys]").getByText(web2.hostname).waitFor();
    await go(viewer, `#/machines/${web2.id}`);
    const warning = viewer.page.locator(".host-key-changed");
    await warning.waitFor();
    expect(await warning.locator("[data-offered]").innerText()).toContain(newKey!.fingerprint);
    expect(await warning.getByRole("button", { name: "Accept the new key" }).count()).toBe(0);

    const admin = await open(adam, `#/machines/${web2.id}`);
    await admin.page.locator(".host-key-changed").getByRole("button", { name: "Accept the new key" }).click();
    await admin.page.getByText("New host key accepted.").waitFor();
    await waitFor("the warning gone, the new key trusted", async () =>
      (await admin.page.locator(".host-key-changed").count()) === 0 && (await admin.page.locator("[data-host-key]").innerText()).includes(newKey!.fingerprint));
    const again = await api.ended((await api.start(jobId, { GATE: "quick" })).id);
    expect(again.status).toBe("succeeded");
    await closeClean(viewer, admin);
  });
});
