// Runs against real OpenSSH servers on network-namespace test hosts (test/helpers/sshd.ts),
// through the API: in-process on both databases and on the compiled binary over HTTP. Every way
// a host can end, what is kept of its output, host keys trusted on first use, the run record;
// then, on the binary: 20 hosts at most 5 at a time (counted on the servers), the live log over a
// real WebSocket, and a failed run announced to a real webhook receiver.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { truncationMark } from "../../src/jobs/ssh-script.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { FleetApi, hostOf, tokenOfRole } from "../helpers/fleet.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { startHttpReceiver } from "../helpers/receivers.ts";
import { RunClient } from "../helpers/run-client.ts";
import { generateKeyPair, sshdTestsCanRun, startSshd, startSshds, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(60_000);
const MiB = 1 << 20;

describe.skipIf(!sshdTestsCanRun())("runs on real sshd", () => {
  let sshd: TestSshd;
  let silent: TestHost;
  const keys: Record<string, KeyPair> = {};

  beforeAll(async () => {
    [sshd, silent] = await Promise.all([startSshd(), createTestHost()]);
    // The namespace gets the SYN but its answers vanish: a host that is down, seen from here.
    await silent.exec(["ip", "route", "add", "blackhole", `${silent.hostIp}/32`]);
    const [ed25519, ecdsa, rsa, locked, stranger] = await Promise.all([
      generateKeyPair("ed25519"),
      generateKeyPair("ecdsa"),
      generateKeyPair("rsa", { format: "pem" }),
      generateKeyPair("ed25519", { passphrase: "correct horse" }),
      generateKeyPair("ed25519"), // never authorized
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
      let silentId: number;
      const cred: Record<string, number> = {};
      const jobOn = async (script: string, extra: Record<string, unknown> = {}) =>
        api.job({ name: `job-${Math.random().toString(36).slice(2, 8)}`, script, targets: { machine_ids: [machineId] }, ...extra });

      beforeAll(async () => {
        t = await openTarget(name, { JOB_CONNECT_TIMEOUT: "1500ms" });
        api = new FleetApi(t.request);
        // The silent one first: hosts run in machine order, and the stop_on_failure test needs it to fail first.
        silentId = (await api.machine(silent.ip, ["role=down"])).id;
        machineId = (await api.machine(sshd.ip, ["role=ssh-test"])).id;
        cred.ed25519 = (await api.keyCredential("ed25519", keys.ed25519!.privateKey)).id;
        cred.ecdsa = (await api.keyCredential("ecdsa", keys.ecdsa!.privateKey)).id;
        cred.rsa = (await api.keyCredential("rsa pem", keys.rsa!.privateKey)).id;
        cred.locked = (await api.keyCredential("with passphrase", keys.locked!.privateKey, "correct horse")).id;
        cred.stranger = (await api.keyCredential("stranger", keys.stranger!.privateKey)).id;
        cred.password = (await api.passwordCredential("password", sshd.password)).id;
        cred.wrongPassword = (await api.passwordCredential("wrong password", "not-the-password-42")).id;
        await api.sshTo(machineId, sshd, cred.ed25519!);
        await api.ok(201, "POST", "/api/ssh-defaults", { labels: ["role=down"], user: "nobody", credential_id: cred.ed25519 });
      });
      afterAll(() => t.close());

      test("a key logs in: the script runs, exit 0 is success, the host key is trusted from now on", async () => {
        const run = await api.runToEnd((await jobOn("echo hello from $(id -un)")).id);
        expect(run).toMatchObject({ status: "succeeded", trigger: "manual", started_by: "admin-token", hosts_by_state: { succeeded: 1 } });
        expect(hostOf(run, machineId)).toMatchObject({ state: "succeeded", exit_code: 0, output: `hello from ${sshd.user}\n`, truncated: false });
        expect(hostOf(run, machineId).duration_seconds).toBeGreaterThan(0);
        const ssh = await api.ok(200, "GET", `/api/machines/${machineId}/ssh`);
        expect(sshd.hostKeys.map((k) => k.fingerprint)).toContain(ssh.host_key.fingerprint);
        expect(ssh).toMatchObject({ own: { user: sshd.user, port: 22, credential_id: cred.ed25519 }, offered_host_key: null });
      });

      test("ECDSA, RSA (PEM), a passphrase-protected key and a password all log in; a wrong key or password is auth_failed", async () => {
        const job = await jobOn("echo in");
        const outcomes: Record<string, string> = {};
        for (const which of ["ecdsa", "rsa", "locked", "password", "stranger", "wrongPassword"]) {
          await api.ok(200, "PATCH", `/api/machines/${machineId}`, { ssh: { credential_id: cred[which] } });
          const host = hostOf(await api.runToEnd(job.id), machineId);
          outcomes[which] = host.state;
          if (host.state === "auth_failed") expect(host.message).toMatch(/refused the (key|password) for user vxtest/);
        }
        await api.ok(200, "PATCH", `/api/machines/${machineId}`, { ssh: { credential_id: cred.ed25519 } });
        expect(outcomes).toEqual({ ecdsa: "succeeded", rsa: "succeeded", locked: "succeeded", password: "succeeded", stranger: "auth_failed", wrongPassword: "auth_failed" });
      });

      test("a non-zero exit is failed with its code; stdout and stderr are kept in the order written", async () => {
        const run = await api.runToEnd((await jobOn("for i in 1 2 3; do echo out $i; sleep 0.05; echo err $i >&2; sleep 0.05; done; exit 3")).id);
        expect(run).toMatchObject({ status: "failed", message: "1 of 1 hosts did not succeed" });
        expect(hostOf(run, machineId)).toMatchObject({ state: "failed", exit_code: 3, message: "exited with code 3", output: "out 1\nerr 1\nout 2\nerr 2\nout 3\nerr 3\n" });
        const streams = await t.db.query<{ stream: string; text: string }>("SELECT stream, convert_from(data, 'UTF8') AS text FROM run_output WHERE run_id = $1 ORDER BY seq", [run.id]);
        expect(streams.map((c) => `${c.stream}:${c.text}`).join("")).toBe("stdout:out 1\nstderr:err 1\nstdout:out 2\nstderr:err 2\nstdout:out 3\nstderr:err 3\n");
      });

      test("5 MiB of output: the first JOB_OUTPUT_MAX (1 MiB) is kept, then one truncation mark; the exit code is the real one", async () => {
        const run = await api.runToEnd((await jobOn("head -c 5242880 /dev/zero | tr '\\0' x; echo done >&2; exit 5")).id);
        const host = hostOf(run, machineId);
        expect(host).toMatchObject({ state: "failed", exit_code: 5, truncated: true, output_bytes: 5 * MiB + 5 });
        expect(host.output).toBe("x".repeat(MiB) + new TextDecoder().decode(truncationMark(MiB)));
        const [stored] = await t.db.query<{ bytes: number }>("SELECT sum(length(data))::int AS bytes FROM run_output WHERE run_id = $1", [run.id]);
        expect(stored!.bytes).toBe(MiB + truncationMark(MiB).byteLength);
      });

      test("parameters arrive as environment variables, verbatim; defaults fill in; bad ones are 422 and start nothing", async () => {
        const job = await jobOn('printf "%s|%s" "$GREETING" "$WHO"', { parameters: [{ name: "GREETING", required: true }, { name: "WHO", default: "world" }] });
        const run = await api.runToEnd(job.id, { GREETING: "it's $(not run) `here`" });
        expect(run.parameters).toEqual({ GREETING: "it's $(not run) `here`", WHO: "world" });
        expect(hostOf(run, machineId).output).toBe("it's $(not run) `here`|world");
        const before = (await api.ok(200, "GET", `/api/runs?job_id=${job.id}`)).items.length;
        const missing = await api.call("POST", `/api/jobs/${job.id}/runs`, {});
        expect(missing).toMatchObject({ status: 422, json: { details: [{ field: "parameters.GREETING", message: "is required" }] } });
        const unknown = await api.call("POST", `/api/jobs/${job.id}/runs`, { parameters: { GREETING: "x", OTHER: "y" } });
        expect(unknown.json.details[0].field).toBe("parameters.OTHER");
        expect((await api.ok(200, "GET", `/api/runs?job_id=${job.id}`)).items.length).toBe(before);
      });

      test("longer than its timeout: timed_out, the script stopped with TERM", async () => {
        const run = await api.runToEnd((await jobOn("echo started; sleep 30; echo not reached", { timeout: 1 })).id);
        expect(hostOf(run, machineId)).toMatchObject({ state: "timed_out", message: "timed out after 1 s", output: "started\n" });
        await waitFor("no process of the test user left", () => sshd.userProcesses().length === 0, 5000);
      });

      test("cancelled in the middle: the script is stopped on the host, the run is cancelled, who cancelled is recorded", async () => {
        const started = await api.start((await jobOn("echo started; sleep 30; echo not reached")).id);
        await waitFor("the script to start", async () => hostOf(await api.get(started.id), machineId).output === "started\n", 15_000, 50);
        const cancel = await api.call("POST", `/api/runs/${started.id}/cancel`);
        expect(cancel.status).toBe(202);
        const run = await api.ended(started.id);
        expect(run).toMatchObject({ status: "cancelled", cancelled_by: "admin-token" });
        expect(hostOf(run, machineId)).toMatchObject({ state: "cancelled", output: "started\n" });
        await waitFor("no process of the test user left", () => sshd.userProcesses().length === 0, 5000);
        expect((await api.call("POST", `/api/runs/${started.id}/cancel`)).status).toBe(409);
        expect((await api.call("POST", "/api/runs/999999999/cancel")).status).toBe(404);
      });

      test("a host that is down is unreachable after the connect timeout; with stop_on_failure the next host is skipped", async () => {
        const job = await api.job({
          name: `down-${name}`, script: "echo up", targets: { machine_ids: [silentId, machineId] }, parallelism: 1, stop_on_failure: true,
        });
        const run = await api.runToEnd(job.id);
        expect(run.status).toBe("failed");
        expect(hostOf(run, silentId)).toMatchObject({ state: "unreachable", message: `${silent.ip}:22: no SSH login within 1500 ms` });
        expect(hostOf(run, machineId)).toMatchObject({ state: "skipped", started_at: null });
      });

      test("a machine with no credential is an error that says how to set one", async () => {
        const bare = await api.machine(sshd.host.unroutedIp);
        const run = await api.runToEnd((await api.job({ name: `bare-${name}`, script: "true", targets: { machine_ids: [bare.id] } })).id);
        expect(hostOf(run, bare.id)).toMatchObject({ state: "error" });
        expect(hostOf(run, bare.id).message).toContain("no SSH user for this machine: set it on the machine (PATCH /api/machines/{id} with ssh)");
      });

      test("a changed host key is refused (once told, an event), shown, and trusted again only when an admin accepts that key", async () => {
        const other = await startSshd();
        other.authorize(keys.ed25519!.publicKey);
        const m = await api.machine(other.ip);
        await api.sshTo(m.id, other, cred.ed25519!);
        const job = await api.job({ name: `hostkey-${name}`, script: "echo $SSH_CONNECTION", targets: { machine_ids: [m.id] } });
        expect((await api.runToEnd(job.id)).status).toBe("succeeded");
        const [newKey] = await other.rotateHostKey();
        for (let i = 0; i < 2; i++) {
          const host = hostOf(await api.runToEnd(job.id), m.id);
          expect(host).toMatchObject({ state: "host_key_changed", output: "" });
          expect(host.message).toContain("host key changed");
        }
        const events = await api.ok(200, "GET", `/api/events?machine_id=${m.id}&kind=host_key_changed`);
        expect(events.items.length).toBe(1);
        const changed = await api.ok(200, "GET", "/api/host-keys?changed=true");
        const offered = changed.items.find((k: { machine_id: number }) => k.machine_id === m.id).offered_host_key;
        expect(other.hostKeys.map((k) => k.fingerprint)).toContain(offered.fingerprint);
        const wrong = await api.call("POST", `/api/machines/${m.id}/host-key`, { fingerprint: newKey!.fingerprint === offered.fingerprint ? keys.stranger!.fingerprint : newKey!.fingerprint });
        expect(wrong.status).toBe(409);
        const accepted = await api.ok(200, "POST", `/api/machines/${m.id}/host-key`, { fingerprint: offered.fingerprint });
        expect(accepted).toMatchObject({ machine_id: m.id, host_key: { fingerprint: offered.fingerprint }, offered_host_key: null });
        expect((await api.runToEnd(job.id)).status).toBe("succeeded");
        expect((await api.call("POST", `/api/machines/${m.id}/host-key`, { fingerprint: offered.fingerprint })).status).toBe(409);
        await other.stop();
      });
    });
  }

  describe("binary/postgres: many hosts, the live log, notifications", () => {
    let t: Target;
    let api: FleetApi;
    let credId: number;
    const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
    const receiver = startHttpReceiver({ secret });

    beforeAll(async () => {
      t = await openTarget("binary/postgres", { PUBLIC_URL: "http://vxman.test", GROUP_WAIT: "0s" });
      api = new FleetApi(t.request);
      credId = (await api.keyCredential("fleet key", keys.ed25519!.privateKey)).id;
      await api.ok(201, "POST", "/api/ssh-defaults", { labels: ["fleet=yes"], user: sshd.user, credential_id: credId });
    });
    afterAll(async () => {
      await t.close();
      await (await receiver).stop();
    });

    test("20 hosts, parallelism 5: every host runs, never more than 5 sessions at once (counted on the servers)", async () => {
      const servers = await startSshds(20);
      for (const s of servers) s.authorize(keys.ed25519!.publicKey);
      for (const s of servers) await api.machine(s.ip, ["fleet=yes", "batch=20"]);
      const dir = mkdtempSync(join(tmpdir(), "vxman-sessions-"));
      chmodSync(dir, 0o777);
      try {
        // Each script marks itself present, counts who is present, stays a moment, leaves.
        const script = `f="${dir}/$$"; : > "$f"; ls "${dir}" | grep -c '^[0-9]' >> "${dir}/counts.log"; sleep 0.4; rm -f "$f"`;
        const job = await api.job({ name: "twenty", script, targets: { labels: ["batch=20"] }, parallelism: 5 });
        const run = await api.runToEnd(job.id, undefined, 90_000);
        expect(run).toMatchObject({ status: "succeeded", hosts_by_state: { succeeded: 20 } });
        const counts = readFileSync(join(dir, "counts.log"), "utf8").trim().split("\n").map(Number);
        expect(counts.length).toBe(20);
        expect(Math.max(...counts)).toBeLessThanOrEqual(5);
        expect(Math.max(...counts)).toBeGreaterThan(1); // they did run side by side
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await Promise.all(servers.map((s) => s.stop()));
      }
    }, 180_000);

    test("the live log: per host in order, numbered, colour codes removed; a late joiner and a reconnect with ?after= get exactly what they missed", async () => {
      const [a, b] = await Promise.all([startSshd(), startSshd()]);
      a!.authorize(keys.ed25519!.publicKey);
      b!.authorize(keys.ed25519!.publicKey);
      const ma = await api.machine(a!.ip, ["fleet=yes", "live=yes"]);
      const mb = await api.machine(b!.ip, ["fleet=yes", "live=yes"]);
      const script = "printf '\\033[1;31mred\\033[0m <b>&amp;</b>\\n'; for i in 1 2 3 4; do echo line $i; sleep 0.2; echo warn $i >&2; sleep 0.2; done";
      const job = await api.job({ name: "live", script, targets: { labels: ["live=yes"] } });
      const started = await api.start(job.id);
      const first = await RunClient.open(t.base, started.id, ADMIN_TOKEN);
      await first.waitFor(() => first.textOf(ma.id).includes("line 2"), "line 2 from the first host");
      const late = await RunClient.open(t.base, started.id, ADMIN_TOKEN); // joins mid-run: stored + unwritten + live
      const closed = await first.closed;
      expect(closed.code).toBe(1000);
      await late.closed;

      const expected = "red <b>&amp;</b>\nline 1\nwarn 1\nline 2\nwarn 2\nline 3\nwarn 3\nline 4\nwarn 4\n";
      for (const client of [first, late]) {
        expect(client.messages[0]!.type).toBe("run");
        expect(client.messages.at(-1)).toMatchObject({ type: "end", run: { status: "succeeded", hosts_by_state: { succeeded: 2 } } });
        const seqs = client.chunks().map((c) => c.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(client.textOf(ma.id)).toBe(expected);
        expect(client.textOf(mb.id)).toBe(expected);
      }
      expect(late.chunks()).toEqual(first.chunks());
      // The state in the first message, then each change, in the order a host goes through them.
      const states = first.messages.flatMap((m) => (m.type === "hosts" || m.type === "run" ? (m.type === "run" ? m.run.hosts : m.hosts) : []).filter((h) => h.machine_id === ma.id).map((h) => h.state));
      const order = ["queued", "connecting", "running", "succeeded"];
      expect(states.slice(1).map((s) => order.indexOf(s))).toEqual(states.slice(1).map((_, i) => order.indexOf(states[0]!) + i + 1));
      expect(states.at(-1)).toBe("succeeded");
      expect(first.chunks().find((c) => c.text.includes("warn 1"))!.stream).toBe("stderr");

      const cut = first.chunks()[3]!.seq;
      const again = await RunClient.open(t.base, started.id, ADMIN_TOKEN, cut);
      await again.closed;
      expect(again.chunks()).toEqual(first.chunks().filter((c) => c.seq > cut));
      const stored = await api.get(started.id);
      expect(hostOf(stored, ma.id).output).toBe(expected);
      await Promise.all([a!.stop(), b!.stop()]);
    });

    test("a viewer's live log closes (4001) as soon as the viewer's token is revoked", async () => {
      const m = await api.machine(sshd.ip, ["fleet=yes"]);
      const started = await api.start((await api.job({ name: "long-watched", script: "echo started; sleep 30", targets: { machine_ids: [m.id] } })).id);
      const viewer = await tokenOfRole(api, "viewer");
      const client = await RunClient.open(t.base, started.id, viewer.authorization!.slice("Bearer ".length));
      await client.waitFor(() => client.textOf(m.id) === "started\n", "the script's first line");
      const asViewer = new FleetApi(t.request, viewer);
      const [mine] = (await asViewer.ok(200, "GET", "/api/tokens")).items;
      await asViewer.ok(204, "DELETE", `/api/tokens/${mine.id}`);
      expect((await client.closed).code).toBe(4001);
      await api.ok(202, "POST", `/api/runs/${started.id}/cancel`);
      await api.ended(started.id);
    });

    test("the live log refuses what it should: no token 401, an unknown run 404, a bad ?after= 422", async () => {
      expect((await fetch(`${t.base}/ws/runs/1`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } })).status).toBe(401);
      const ws = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", authorization: `Bearer ${ADMIN_TOKEN}` };
      expect((await fetch(`${t.base}/ws/runs/999999999`, { headers: ws })).status).toBe(404);
      expect((await fetch(`${t.base}/ws/runs/1?after=-1`, { headers: ws })).status).toBe(422);
    });

    test("a failed run reaches a webhook through a channel that asked for run_failed", async () => {
      const hook = await receiver;
      await api.ok(201, "POST", "/api/channels", { name: "runs", kind: "webhook", settings: { url: `${hook.url}/runs`, secret }, events: ["run_failed"] });
      const m = await api.machine(sshd.ip, ["fleet=yes"]);
      const job = await api.job({ name: "breaks", script: "echo trying; exit 7", targets: { machine_ids: [m.id] } });
      const run = await api.runToEnd(job.id);
      expect(run.status).toBe("failed");
      const [request] = await hook.waitForRequests(1, 20_000);
      expect(request!.signature).toEqual({ valid: true });
      const message = JSON.parse(request!.body);
      expect(message).toMatchObject({ kind: "run_failed", group: { by: "job", value: "breaks" }, machines: [], url: `http://vxman.test/#/runs/${run.id}` });
      expect(message.title).toBe(`Run ${run.id} of job "breaks" failed on 1 of 1 machines`);
      expect(message.text).toContain(`(${sshd.ip}): failed — exited with code 7`);
      const ok = await api.runToEnd((await api.job({ name: "works", script: "true", targets: { machine_ids: [m.id] } })).id);
      expect(ok.status).toBe("succeeded");
      await Bun.sleep(1000);
      expect(hook.requests.length).toBe(1); // success is not announced
    });
  });
});
