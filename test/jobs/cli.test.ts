// The command line of fleet jobs, as the compiled binary: `vxman run JOB --wait` against a server
// (its output prefixed by host, exit 0 only when every host succeeded, a clear word for a wrong
// URL, token or job), and `vxman secret rotate` with the key file and with SECRET_KEY (the
// credentials and channel secrets still open afterwards, under the new key only).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { fleetApiAt, FleetApi, hostOf, tokenOfRole, sshdWithKey } from "../helpers/fleet.ts";
import { destroyAllTestHosts } from "../helpers/netns.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";
import { startHttpReceiver } from "../helpers/receivers.ts";
import { sshdTestsCanRun, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";

setDefaultTimeout(120_000);

describe.skipIf(!sshdTestsCanRun())("vxman run and vxman secret rotate (compiled binary)", () => {
  let sshd: TestSshd;
  let key: KeyPair;

  beforeAll(async () => {
    ({ sshd, key } = await sshdWithKey());
  });
  afterAll(async () => {
    await stopAllSshds();
    await destroyAllTestHosts();
  });

  /** A machine on the sshd that logs in with a new credential; a job on it. */
  async function fleetOn(api: FleetApi, script: string, name = "greet"): Promise<{ machineId: number; jobId: number }> {
    const machineId = (await api.machine(sshd.ip)).id;
    await api.sshTo(machineId, sshd, (await api.keyCredential(`key-${name}`, key.privateKey)).id);
    const jobId = (await api.job({ name, script, targets: { machine_ids: [machineId] }, parameters: [{ name: "WHO", default: "world" }] })).id;
    return { machineId, jobId };
  }

  describe("vxman run", () => {
    let served: ServedBinary;
    let env: Record<string, string>;
    beforeAll(async () => {
      served = await serveBinary({ DATABASE_URL: await (await sharedPgCluster()).createDatabase(), ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d" });
      const api = fleetApiAt(served.base);
      await fleetOn(api, 'echo "hello $WHO"; echo careful >&2; printf "no newline"');
      await api.job({ name: "breaks", script: "echo trying; exit 4", targets: { labels: [] } });
      env = { VXMAN_URL: served.base, VXMAN_TOKEN: (await tokenOfRole(api, "operator")).authorization!.slice("Bearer ".length) };
    });
    afterAll(() => served.stop());

    test("--wait prints each host's lines prefixed by the host, and exits 0 when every host succeeded", () => {
      const r = served.run(["run", "greet", "--wait", "-p", "WHO=you"], env);
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
      expect(r.stdout).toBe("[ssh-1] hello you\n[ssh-1] no newline\n");
      expect(r.stderr).toContain("[ssh-1] careful\n");
      expect(r.stderr).toContain("[ssh-1] succeeded (exit 0)\n");
      expect(r.stderr).toMatch(/run \d+ succeeded: succeeded on all 1 hosts\n$/);
    });

    test("a host that fails makes the exit code 1; without --wait it only starts the run (by id too)", async () => {
      const failed = served.run(["run", "breaks", "--wait"], env);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toBe("[ssh-1] trying\n");
      expect(failed.stderr).toContain("[ssh-1] failed (exit 4)");
      const jobs = await (await fetch(`${served.base}/api/jobs?name=greet`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
      const started = served.run(["run", String(jobs.items[0].id)], env);
      expect(started.code).toBe(0);
      expect(started.stdout).toMatch(new RegExp(`^run \\d+ of job "greet" started on 1 hosts: ${served.base}/#/runs/\\d+\\n$`));
    });

    test("clear words and exit codes for what is wrong: 2 for usage and settings, 3 when the server says no", () => {
      const cases: [string[], Record<string, string>, number, RegExp][] = [
        [["run", "nope", "--wait"], env, 3, /there is no job named or numbered "nope"/],
        [["run", "greet"], { ...env, VXMAN_TOKEN: "vxm_not-a-real-token" }, 3, /refused VXMAN_TOKEN: The token sent is not valid here/],
        [["run", "greet"], { ...env, VXMAN_URL: "" }, 2, /VXMAN_URL is not set/],
        [["run", "greet"], { ...env, VXMAN_URL: "ftp://example" }, 2, /VXMAN_URL="ftp:\/\/example" is not an http/],
        [["run", "greet"], { ...env, VXMAN_URL: "http://127.0.0.1:9" }, 3, /cannot reach http:\/\/127.0.0.1:9/],
        [["run", "greet"], { ...env, VXMAN_TOKEN: "" }, 2, /VXMAN_TOKEN is not set/],
        [["run", "greet", "-p", "NOPE=1"], env, 2, /parameters.NOPE: is not a parameter of this job/],
        [["run", "greet", "-p", "novalue"], env, 2, /-p takes NAME=VALUE/],
        [["run"], env, 2, /Usage:/],
        [["run", "a", "b"], env, 2, /run takes one job/],
      ];
      for (const [args, e, code, message] of cases) {
        const r = served.run(args, e);
        expect({ args, code: r.code }).toEqual({ args, code });
        expect(r.stderr + r.stdout).toMatch(message);
      }
    });
  });

  test("secret rotate with the key file: a new key file, the old one gone, credentials and channel secrets still open", async () => {
    const served = await serveBinary({ ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d" });
    const hookSecret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
    const receiver = await startHttpReceiver({ secret: hookSecret });
    try {
      const api = fleetApiAt(served.base);
      const { machineId, jobId } = await fleetOn(api, "echo ok");
      const channel = await api.ok(201, "POST", "/api/channels", { name: "hook", kind: "webhook", settings: { url: `${receiver.url}/x`, secret: hookSecret }, events: ["run_failed"] });
      const keyFile = join(served.dir, "vxman-data", "secret.key");
      const before = readFileSync(keyFile, "utf8");
      await served.halt();
      const r = served.run(["secret", "rotate"]);
      expect({ code: r.code, stderr: r.stderr.slice(0, 300) }).toMatchObject({ code: 0 });
      expect(r.stderr).toContain("secrets re-sealed under a new key file");
      expect(readFileSync(keyFile, "utf8")).not.toBe(before);
      expect(readdirSync(join(served.dir, "vxman-data")).filter((f) => f.startsWith("secret.key"))).toEqual(["secret.key"]);
      await served.start();
      expect(hostOf(await api.runToEnd(jobId), machineId).state).toBe("succeeded");
      expect(await api.ok(200, "POST", `/api/channels/${channel.id}/test`)).toMatchObject({ ok: true });
      expect(receiver.requests.at(-1)!.signature).toEqual({ valid: true });
    } finally {
      await receiver.stop();
      await served.stop();
    }
  });

  test("secret rotate with SECRET_KEY: the new key is printed; the old key no longer opens, the new one does", async () => {
    const url = await (await sharedPgCluster()).createDatabase();
    const oldKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const base = { DATABASE_URL: url, ADMIN_TOKEN, RATE_LIMIT: "0", PING_INTERVAL: "1d" };
    const first = await serveBinary({ ...base, SECRET_KEY: oldKey });
    const api = fleetApiAt(first.base);
    const { machineId, jobId } = await fleetOn(api, "echo ok");
    await first.halt();
    const r = first.run(["secret", "rotate"]);
    expect(r.code).toBe(0);
    const newKey = r.stdout.trim();
    expect(newKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(newKey).not.toBe(oldKey);
    expect(r.stderr).toContain("set SECRET_KEY to the printed key on every vxman of this database");
    await first.start(); // still the old SECRET_KEY
    const refused = hostOf(await api.runToEnd(jobId), machineId);
    expect(refused).toMatchObject({ state: "error" });
    expect(refused.message).toContain("sealed under another key");
    await first.stop();
    const second = await serveBinary({ ...base, SECRET_KEY: newKey });
    try {
      expect(hostOf(await fleetApiAt(second.base).runToEnd(jobId), machineId).state).toBe("succeeded");
      expect(existsSync(join(second.dir, "vxman-data", "secret.key"))).toBe(false);
    } finally {
      await second.stop();
    }
  });
});
