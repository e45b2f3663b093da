// A run survives vxman stopping as a record, never "running" forever: the compiled binary with a
// real sshd, killed with SIGKILL in the middle of a run (its hosts are interrupted when vxman
// starts again; the output written so far is kept), stopped gracefully (the scripts are stopped
// and the record written before it exits), and on PostgreSQL the rule for another instance's
// runs (gone when its instance is: stopped or its heartbeat older than its lease period; a live one is left alone).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { fleetApiAt, FleetApi, hostOf, sshdWithKey } from "../helpers/fleet.ts";
import { destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive, sshdTestsCanRun, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(90_000);
// Records its processes (the shell and a child) so a test can tell whether they are gone.
const SCRIPT = 'echo $$ > "$HOME/$VXMAN_TAG.pids"; sleep 60 & echo $! >> "$HOME/$VXMAN_TAG.pids"; echo started; sleep 61; echo not reached';

describe.skipIf(!sshdTestsCanRun())("runs across a vxman restart (compiled binary)", () => {
  let sshd: TestSshd;
  let key: KeyPair;

  beforeAll(async () => {
    ({ sshd, key } = await sshdWithKey());
  });
  afterAll(async () => {
    await stopAllSshds();
    await destroyAllTestHosts();
  });


  /** A machine on the sshd and a long job; returns the started run once its script printed. */
  async function startLongRun(api: FleetApi, tag: string): Promise<{ runId: number; machineId: number }> {
    const machineId = (await api.machine(sshd.ip)).id;
    const cred = await api.keyCredential("key", key.privateKey);
    await api.sshTo(machineId, sshd, cred.id);
    const job = await api.job({ name: "long", script: SCRIPT, timeout: 120, targets: { machine_ids: [machineId] }, parameters: [{ name: "VXMAN_TAG", default: tag }] });
    const runId = (await api.start(job.id)).id;
    await waitFor("the script to print", async () => hostOf(await api.get(runId), machineId).output === "started\n", 20_000, 50);
    return { runId, machineId };
  }

  test("kill -9 in the middle (PGlite): on restart the run and its host are interrupted, the output so far kept", async () => {
    const served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d" });
    try {
      const api = fleetApiAt(served.base);
      const { runId, machineId } = await startLongRun(api, "killed");
      process.kill(served.pid(), "SIGKILL");
      await served.halt();
      await served.start();
      const run = await api.get(runId);
      expect(run).toMatchObject({ status: "interrupted", message: expect.stringContaining("the vxman instance running it stopped") });
      expect(run.ended_at).not.toBeNull();
      expect(hostOf(run, machineId)).toMatchObject({ state: "interrupted", output: "started\n", message: "vxman stopped during the run: how the script ended is unknown" });
      // (Its processes may outlive it: sshd does not signal a session without a terminal when the
      // client vanishes; they end when they next write, or finish. Nothing could be sent to them.)
    } finally {
      await served.stop();
    }
  });

  test("a graceful stop in the middle: the scripts are stopped on the hosts and the run is recorded interrupted before vxman exits", async () => {
    const served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d" });
    try {
      const api = fleetApiAt(served.base);
      const { runId, machineId } = await startLongRun(api, "stopped");
      expect(await served.halt()).toBe(0);
      const pids = readFileSync(join(sshd.home, "stopped.pids"), "utf8").split(/\s+/).filter(Boolean).map(Number);
      expect(pids.length).toBe(2);
      await waitFor("the script's processes to end", () => pids.every((pid) => !isProcessAlive(pid)), 3000);
      await served.start();
      const run = await api.get(runId);
      expect(run).toMatchObject({ status: "interrupted", message: "vxman stopped during the run; 0 of 1 hosts had succeeded" });
      expect(hostOf(run, machineId)).toMatchObject({ state: "interrupted", message: "vxman stopped during the run; the script was stopped", output: "started\n" });
      expect(served.output()).toContain('"msg":"run ended"');
    } finally {
      await served.stop();
    }
  });

  test("PostgreSQL: another instance's run is left alone while that instance is live, interrupted once it is gone", async () => {
    const url = await (await sharedPgCluster()).createDatabase();
    const served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d", DATABASE_URL: url });
    const db = openPostgres({ url, max: 1 });
    try {
      const api = fleetApiAt(served.base);
      // Killed with its run: on the restart its instance is seen to be gone (same host, pid dead).
      const { runId } = await startLongRun(api, "elsewhere");
      process.kill(served.pid(), "SIGKILL");
      await served.halt();
      // Two other instances: one heard from just now, one whose heartbeat is older than its lease period.
      await db.query(
        `INSERT INTO instances (id, host, pid, version, lease_period_ms, heartbeat_at) VALUES
           ('live-peer', 'elsewhere', 1, 'test', 60000, now()), ('dead-peer', 'elsewhere', 1, 'test', 15000, now() - interval '20 seconds')`,
      );
      const runOf = async (instance: string) => {
        const [{ id } = { id: 0 }] = await db.query<{ id: number }>(
          `INSERT INTO runs (job_name, script, timeout_seconds, parallelism, stop_on_failure, started_by, trigger, instance_id)
           VALUES ('elsewhere', 'true', 1, 1, false, 'test', 'manual', $1) RETURNING id`,
          [instance],
        );
        return id;
      };
      const alive = await runOf("live-peer");
      const orphan = await runOf("dead-peer");
      const forgotten = await runOf("an-instance-no-longer-listed");
      await served.start();
      expect((await api.get(runId)).status).toBe("interrupted");
      expect((await api.get(orphan)).status).toBe("interrupted");
      expect((await api.get(forgotten)).status).toBe("interrupted");
      expect((await api.get(alive)).status).toBe("running");
      await db.query("UPDATE runs SET status = 'cancelled', ended_at = now() WHERE id = $1", [alive]);
    } finally {
      await db.close();
      await served.stop();
    }
  });
});
