// Scheduled runs. Two compiled binaries on one PostgreSQL with a real sshd: a job on a schedule
// every second runs once per slot (never twice, whichever instance gets there), the live log of a
// run on one instance is followed through the other (it tails the database), and a cancel asked
// of one reaches the run on the other. In-process: after downtime, at most one catch-up run.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { fleetApiAt, FleetApi, hostOf, sshdWithKey } from "../helpers/fleet.ts";
import { destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { RunClient } from "../helpers/run-client.ts";
import { sshdTestsCanRun, stopAllSshds, type TestSshd } from "../helpers/sshd.ts";
import { openTarget } from "../helpers/target.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(120_000);

describe.skipIf(!sshdTestsCanRun())("two instances on one PostgreSQL", () => {
  let sshd: TestSshd;
  let a: ServedBinary;
  let b: ServedBinary;
  let apiA: FleetApi;
  let apiB: FleetApi;
  let machineId: number;

  beforeAll(async () => {
    const url = await (await sharedPgCluster()).createDatabase();
    // Instances that share a database share the key that seals its secrets (each has its own DATA_DIR).
    const SECRET_KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const env = { ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d", DATABASE_URL: url, SECRET_KEY };
    const { sshd: server, key } = await sshdWithKey();
    sshd = server;
    a = await serveBinary(env);
    b = await serveBinary(env);
    [apiA, apiB] = [fleetApiAt(a.base), fleetApiAt(b.base)];
    machineId = (await apiA.machine(sshd.ip)).id;
    await apiA.sshTo(machineId, sshd, (await apiA.keyCredential("key", key.privateKey)).id);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await stopAllSshds();
    await destroyAllTestHosts();
  });

  test("a schedule every second: one run per slot, started by whichever instance got there first", async () => {
    const job = await apiA.job({ name: "tick", script: 'date +%s%N >> "$HOME/ticks.log"', targets: { machine_ids: [machineId] }, schedule: { cron: "* * * * * *" } });
    // A change through B: B reads its jobs again now (otherwise within its minute), so both race for every slot.
    await apiB.ok(200, "PATCH", `/api/jobs/${job.id}`, { description: "every second" });
    await waitFor("eight scheduled runs", async () => (await apiB.ok(200, "GET", `/api/runs?job_id=${job.id}`)).items.length >= 8, 30_000, 200);
    await apiB.ok(200, "PATCH", `/api/jobs/${job.id}`, { schedule: null });
    await Bun.sleep(1500); // a slot either instance had already begun
    await waitFor("the scheduled runs to end", async () => (await apiA.ok(200, "GET", `/api/runs?job_id=${job.id}&status=running`)).items.length === 0, 20_000, 200);
    const runs = (await apiA.ok(200, "GET", `/api/runs?job_id=${job.id}`)).items as { scheduled_for: string; status: string; trigger: string; started_by: string; instance_id: string }[];
    const slots = runs.map((r) => r.scheduled_for);
    expect(new Set(slots).size).toBe(runs.length);
    expect(slots.every((s) => s.endsWith(".000Z"))).toBe(true);
    expect(runs.map((r) => [r.status, r.trigger, r.started_by])).toEqual(runs.map(() => ["succeeded", "schedule", "schedule"]));
    // The script ran once per slot: one line each on the host.
    expect(readFileSync(join(sshd.home, "ticks.log"), "utf8").trim().split("\n").length).toBe(runs.length);
    console.log(`scheduled runs by instance: ${JSON.stringify(Object.groupBy(runs, (r) => r.instance_id), (k, v) => (Array.isArray(v) ? v.length : v))}`);
  });

  test("the live log of a run on one instance, followed through the other (from the database)", async () => {
    const job = await apiA.job({ name: "ticker", script: "for i in 1 2 3 4; do echo tick $i; sleep 0.3; done", targets: { machine_ids: [machineId] } });
    const run = await apiA.start(job.id);
    const client = await RunClient.open(b.base, run.id, ADMIN_TOKEN);
    const closed = await client.closed;
    expect(closed.code).toBe(1000);
    expect(client.messages[0]!.type).toBe("run");
    expect(client.textOf(machineId)).toBe("tick 1\ntick 2\ntick 3\ntick 4\n");
    expect(client.messages.at(-1)).toMatchObject({ type: "end", run: { status: "succeeded" } });
    expect(client.messages.some((m) => m.type === "hosts")).toBe(true);
  });

  test("a cancel asked of one instance stops the run on the other", async () => {
    const job = await apiA.job({ name: "sleeper", script: "echo started; sleep 30", targets: { machine_ids: [machineId] } });
    const started = await apiA.start(job.id);
    await waitFor("the script to start", async () => hostOf(await apiA.get(started.id), machineId).output === "started\n", 15_000, 50);
    expect((await apiB.call("POST", `/api/runs/${started.id}/cancel`)).status).toBe(202);
    const run = await apiB.ended(started.id, 15_000);
    expect(run).toMatchObject({ status: "cancelled", cancelled_by: "admin-token" });
    expect(hostOf(run, machineId).state).toBe("cancelled");
  });
});

describe("missed runs after downtime (in-process)", () => {
  for (const catchUp of [true, false]) {
    test(`JOB_CATCH_UP=${catchUp}: ${catchUp ? "only the latest missed slot runs, once" : "missed slots are skipped"}`, async () => {
      const t = await openTarget("app/pglite", { JOB_CATCH_UP: String(catchUp) });
      try {
        const api = new FleetApi(t.request);
        const job = await api.job({ name: "nightly", script: "true", targets: { labels: ["role=none"] }, schedule: { cron: "0 3 * * *", timezone: "UTC" } });
        // As if vxman had been down for three nights since the schedule was set.
        await t.db.query("UPDATE jobs SET schedule_since = now() - interval '3 days' WHERE id = $1", [job.id]);
        await t.app!.fleet.schedules.runOnce();
        await t.app!.fleet.schedules.runOnce();
        const runs = (await api.ok(200, "GET", `/api/runs?job_id=${job.id}`)).items as { scheduled_for: string; trigger: string }[];
        if (!catchUp) return expect(runs).toEqual([]);
        const lastSlot = new Date();
        lastSlot.setUTCHours(3, 0, 0, 0);
        if (lastSlot.getTime() > Date.now()) lastSlot.setUTCDate(lastSlot.getUTCDate() - 1);
        expect(runs.map((r) => [r.trigger, r.scheduled_for])).toEqual([["schedule", lastSlot.toISOString()]]);
      } finally {
        await t.close();
      }
    });
  }
});
