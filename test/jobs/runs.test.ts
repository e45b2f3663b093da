// Runs against real OpenSSH servers on network-namespace test hosts (test/helpers/sshd.ts),
// through the API: in-process on both databases, and on the compiled binary over HTTP. Every way
// a host can end, what is kept of its output, host keys trusted on first use, and the run record.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { FleetApi, hostOf } from "../helpers/fleet.ts";
import { createTestHost, destroyAllTestHosts } from "../helpers/netns.ts";
import { generateKeyPair, sshdTestsCanRun, startSshd, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

setDefaultTimeout(60_000);

describe.skipIf(!sshdTestsCanRun())("runs on real sshd", () => {
  let sshd: TestSshd;
  const keys: Record<string, KeyPair> = {};

  beforeAll(async () => {
    sshd = await startSshd();
    const [ed25519, ecdsa, rsa, locked, stranger] = await Promise.all([
      generateKeyPair("ed25519"),
      generateKeyPair("ecdsa"),
      generateKeyPair("rsa", { format: "pem" }),
      generateKeyPair("ed25519", { passphrase: "correct horse" }),
      generateKeyPair("ed25519"),
    ]);
    Object.assign(keys, { ed25519, ecdsa, rsa, locked, stranger });
    for (const k of [ed25519, ecdsa, rsa, locked]) sshd.authorize(k.publicKey);
  });

  afterAll(async () => {
    await stopAllSshds();
    await destroyAllTestHosts();
  });

  for (const name of TARGETS) {
    describe(name, () => {
      let t: Target;
      let api: FleetApi;
      let machineId: number;
      let keyId: number;

      beforeAll(async () => {
        t = await openTarget(name, { JOB_CONNECT_TIMEOUT: "2s", JOB_OUTPUT_MAX: "64KiB" });
        api = new FleetApi(t.request);
        machineId = (await api.machine(sshd.ip, ["role=ssh-test"])).id;
        keyId = (await api.keyCredential("ed25519", keys.ed25519!.privateKey)).id;
        await api.sshTo(machineId, sshd, keyId);
      });
      afterAll(() => t.close());

      test("a key logs in: the script runs, exit 0 is success, the host key is trusted from now on", async () => {
        const job = await api.job({ name: "hello", script: "echo hello from $(id -un)", targets: { machine_ids: [machineId] } });
        const run = await api.runToEnd(job.id);
        expect(run).toMatchObject({ status: "succeeded", trigger: "manual", started_by: "admin-token", job_name: "hello" });
        expect(hostOf(run, machineId)).toMatchObject({ state: "succeeded", exit_code: 0, output: `hello from ${sshd.user}\n`, truncated: false });
        const ssh = await api.ok(200, "GET", `/api/machines/${machineId}/ssh`);
        expect(sshd.hostKeys.map((k) => k.fingerprint)).toContain(ssh.host_key.fingerprint);
        expect(ssh).toMatchObject({ own: { user: sshd.user, port: 22, credential_id: keyId }, offered_host_key: null });
      });
    });
  }
});
