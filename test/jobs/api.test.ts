// The fleet jobs API without SSH: credentials (checked, sealed, never shown), SSH settings and
// label defaults, jobs, runs that select nothing, roles; bad input is a clear 4xx that changes
// nothing. In-process on both databases and on the compiled binary over HTTP.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { FleetApi, tokenOfRole, type Answer } from "../helpers/fleet.ts";
import { needs } from "../helpers/requirements.ts";
import { generateKeyPair, type KeyPair } from "../helpers/sshd.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

setDefaultTimeout(60_000);

const PASSWORD = "s3cret-Passw0rd-for-a-host";
const PASSPHRASE = "correct horse battery";

describe.skipIf(!needs("sshd"))("fleet jobs API", () => {
  const keys: Record<string, KeyPair> = {};
  beforeAll(async () => {
    [keys.ed25519, keys.ecdsa, keys.rsa, keys.locked] = await Promise.all([
      generateKeyPair("ed25519"),
      generateKeyPair("ecdsa", { format: "pem" }),
      generateKeyPair("rsa"),
      generateKeyPair("ed25519", { passphrase: PASSPHRASE }),
    ]);
  });

  for (const name of TARGETS) {
    describe(name, () => {
      let t: Target;
      let api: FleetApi;
      /** Every answer, to search for secrets afterwards. */
      const answers: Answer[] = [];
      const call = async (method: string, path: string, json?: unknown, headers?: Record<string, string>) => {
        const a = await api.call(method, path, json, headers);
        answers.push(a);
        return a;
      };
      const count = async (table: string) => Number((await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n);

      beforeAll(async () => {
        t = await openTarget(name);
        api = new FleetApi(t.request);
      });
      afterAll(() => t.close());

      test("credentials: each key type and a password; the API shows name, kind, algorithm and fingerprint, never the secret", async () => {
        const made = [
          await call("POST", "/api/credentials", { name: "ed", kind: "ssh-key", private_key: keys.ed25519!.privateKey }),
          await call("POST", "/api/credentials", { name: "ec", kind: "ssh-key", private_key: keys.ecdsa!.privateKey }),
          await call("POST", "/api/credentials", { name: "rsa", kind: "ssh-key", private_key: keys.rsa!.privateKey }),
          await call("POST", "/api/credentials", { name: "locked", kind: "ssh-key", private_key: keys.locked!.privateKey, passphrase: PASSPHRASE }),
          await call("POST", "/api/credentials", { name: "pw", kind: "password", password: PASSWORD }),
        ];
        expect(made.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
        expect(made.map((a) => [a.json.algorithm, a.json.fingerprint])).toEqual([
          ["ssh-ed25519", keys.ed25519!.fingerprint],
          ["ecdsa-sha2-nistp256", keys.ecdsa!.fingerprint],
          ["ssh-rsa", keys.rsa!.fingerprint],
          ["ssh-ed25519", keys.locked!.fingerprint],
          [null, null],
        ]);
        expect(Object.keys(made[0]!.json).sort()).toEqual(["algorithm", "created_at", "created_by", "fingerprint", "id", "kind", "last_used_at", "name"]);
        const list = await call("GET", "/api/credentials");
        expect(list.json.items.map((c: { name: string }) => c.name)).toEqual(["ec", "ed", "locked", "pw", "rsa"]);
        const [row] = await t.db.query<{ sealed: string }>("SELECT sealed FROM credentials WHERE name = 'pw'");
        expect(row!.sealed).toMatch(/^v1\.[0-9a-f]{8}\./);
      });

      test("a bad key or passphrase is a 422 naming the field, without the secret; nothing is stored", async () => {
        const before = await count("credentials");
        const cases: [Record<string, unknown>, string, RegExp][] = [
          [{ kind: "ssh-key", private_key: keys.locked!.privateKey }, "passphrase", /a passphrase is needed/],
          [{ kind: "ssh-key", private_key: keys.locked!.privateKey, passphrase: "wrong battery staple" }, "passphrase", /passphrase is wrong/],
          [{ kind: "ssh-key", private_key: "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END OPENSSH PRIVATE KEY-----\n" }, "private_key", /could not be read/],
          [{ kind: "ssh-key", private_key: keys.ed25519!.publicKey }, "private_key", /public key/],
          [{ kind: "ssh-key" }, "private_key", /is required/],
          [{ kind: "ssh-key", private_key: keys.ed25519!.privateKey, password: PASSWORD }, "password", /is for kind "password"/],
          [{ kind: "password" }, "password", /is required/],
          [{ kind: "password", password: PASSWORD, private_key: keys.ed25519!.privateKey }, "private_key", /is for kind "ssh-key"/],
          [{ kind: "password", password: "" }, "password", /1–1024 characters/],
          [{ kind: "token", password: PASSWORD }, "kind", /"ssh-key" or "password"/],
        ];
        for (const [body, field, message] of cases) {
          const a = await call("POST", "/api/credentials", { name: "bad", ...body });
          expect({ field, status: a.status, detail: a.json.details?.[0]?.field }).toEqual({ field, status: 422, detail: field });
          expect(a.json.message).toMatch(message);
        }
        expect((await call("POST", "/api/credentials", { name: "pw", kind: "password", password: "x" })).status).toBe(409);
        expect(await count("credentials")).toBe(before);
      });

      test("SSH settings: per machine (admins only) and by label; the effective ones say where each comes from", async () => {
        const m = await api.machine("127.30.0.1", ["role=db", "site=fra"]);
        const [ed, pw] = ["ed", "pw"].map((n) => answers.find((a) => a.json?.name === n)!.json.id as number);
        expect((await call("POST", "/api/ssh-defaults", { labels: ["role=db"], user: "ops", credential_id: pw })).status).toBe(201);
        expect((await call("POST", "/api/ssh-defaults", { labels: [], user: "root", port: 2222 })).status).toBe(201);
        let ssh = (await call("GET", `/api/machines/${m.id}/ssh`)).json;
        expect(ssh).toMatchObject({
          own: { user: null, port: null, credential_id: null },
          effective: { user: "ops", port: 2222, credential_id: pw, from: { user: expect.stringMatching(/^default \d+$/), port: expect.stringMatching(/^default/), credential_id: expect.stringMatching(/^default/) } },
          host_key: null,
          offered_host_key: null,
        });
        const patched = await call("PATCH", `/api/machines/${m.id}`, { ssh: { user: "deploy", credential_id: ed }, notes: "ssh set" });
        expect(patched.status).toBe(200);
        expect(patched.json.notes).toBe("ssh set");
        ssh = (await call("GET", `/api/machines/${m.id}/ssh`)).json;
        expect(ssh.effective).toMatchObject({ user: "deploy", port: 2222, credential_id: ed, from: { user: "machine", credential_id: "machine" } });

        const operator = await tokenOfRole(api, "operator");
        const refused = await call("PATCH", `/api/machines/${m.id}`, { ssh: { user: "evil" }, notes: "operator was here" }, operator);
        expect(refused.status).toBe(403);
        expect(refused.json.message).toContain("Changing ssh needs the admin role");
        expect((await call("PATCH", `/api/machines/${m.id}`, { notes: "operators may edit notes" }, operator)).status).toBe(200);

        const unknown = await call("PATCH", `/api/machines/${m.id}`, { ssh: { credential_id: 999999 }, notes: "not applied" });
        expect(unknown).toMatchObject({ status: 422, json: { details: [{ field: "ssh.credential_id" }] } });
        expect((await call("PATCH", `/api/machines/${m.id}`, { ssh: { port: 70000 } })).status).toBe(422);
        expect((await call("PATCH", `/api/machines/${m.id}`, { ssh: { user: "a b" } })).status).toBe(422);
        expect((await call("PATCH", `/api/machines/${m.id}`, { ssh: { shell: "/bin/sh" } })).status).toBe(422);
        expect((await call("GET", `/api/machines/${m.id}`)).json.notes).toBe("operators may edit notes");
        expect((await call("PATCH", `/api/machines/${m.id}`, { ssh: null })).status).toBe(200);
        expect((await call("GET", `/api/machines/${m.id}/ssh`)).json.own).toEqual({ user: null, port: null, credential_id: null });
        const changes = await call("GET", `/api/events?machine_id=${m.id}&kind=ssh_settings_changed`);
        expect(changes.json.items.map((e: { actor: string }) => e.actor)).toEqual(["admin-token", "admin-token"]);

        expect((await call("POST", "/api/ssh-defaults", { labels: ["role=db"] })).status).toBe(422);
        expect((await call("POST", "/api/ssh-defaults", { labels: ["role=db"], credential_id: 999999 })).json.details[0].field).toBe("credential_id");
        expect((await call("POST", "/api/ssh-defaults", { labels: ["not a label"], user: "x" })).status).toBe(422);
        const inUse = await call("DELETE", `/api/credentials/${pw}`);
        expect(inUse.status).toBe(409);
        expect(inUse.json.message).toMatch(/in use \(ssh default \d+\)/);
        for (const d of (await call("GET", "/api/ssh-defaults")).json.items) expect((await call("DELETE", `/api/ssh-defaults/${d.id}`)).status).toBe(204);
        expect((await call("DELETE", `/api/credentials/${pw}`)).status).toBe(204);
        expect((await call("DELETE", `/api/credentials/${pw}`)).status).toBe(404);
      });

      test("jobs: defaults, a schedule with its next run, every bad field a 422 that names it, names unique", async () => {
        const job = await call("POST", "/api/jobs", { name: "uptime", script: "uptime", targets: { labels: ["role=db"], status: "active" }, schedule: { cron: "30 3 * * *", timezone: "Europe/Berlin" } });
        expect(job.status).toBe(201);
        expect(job.json).toMatchObject({ timeout: 300, parallelism: 10, stop_on_failure: false, parameters: [], created_by: "admin-token", schedule: { cron: "30 3 * * *", timezone: "Europe/Berlin" } });
        expect(new Date(job.json.schedule.next_run_at).getTime()).toBeGreaterThan(Date.now());
        const before = await count("jobs");
        const bad: [Record<string, unknown>, string][] = [
          [{ schedule: { cron: "61 * * * *" } }, "schedule.cron"],
          [{ schedule: { cron: "* * * * *", timezone: "Mars/Olympus" } }, "schedule.timezone"],
          [{ parameters: [{ name: "A" }, { name: "A" }] }, "parameters.1.name"],
          [{ parameters: [{ name: "lower" }] }, "parameters.0.name"],
          [{ parameters: [{ name: "V", required: true }], schedule: { cron: "* * * * *" } }, "parameters.0.default"],
          [{ targets: { hosts: ["a"] } }, "targets.hosts"],
          [{ targets: { labels: ["nope"] } }, "targets.labels.0"],
          [{ parallelism: 0 }, "parallelism"],
          [{ timeout: 86_401 }, "timeout"],
          [{ script: "" }, "script"],
          [{ name: "" }, "name"],
        ];
        for (const [change, field] of bad) {
          const a = await call("POST", "/api/jobs", { name: "bad", script: "true", targets: {}, ...change });
          expect({ field, status: a.status, fields: a.json.details?.map((d: { field: string }) => d.field) }).toMatchObject({ field, status: 422, fields: expect.arrayContaining([field]) });
        }
        expect((await call("POST", "/api/jobs", { name: "uptime", script: "true", targets: {} })).status).toBe(409);
        expect(await count("jobs")).toBe(before);

        const patched = await call("PATCH", `/api/jobs/${job.json.id}`, { schedule: null, parallelism: 3 });
        expect(patched.json).toMatchObject({ schedule: null, parallelism: 3, script: "uptime" });
        expect((await call("PATCH", `/api/jobs/${job.json.id}`, { schedule: { cron: "nonsense" } })).json.details[0].field).toBe("schedule.cron");
        expect((await call("PATCH", `/api/jobs/${job.json.id}`, {})).status).toBe(422);
        expect((await call("GET", `/api/jobs?name=uptime`)).json.items.map((j: { id: number }) => j.id)).toEqual([job.json.id]);
        expect((await call("GET", `/api/jobs/${job.json.id}`)).json.parallelism).toBe(3);
      });

      test("a run whose targets select nothing is recorded as failed, saying so; the record outlives its job", async () => {
        const job = await call("POST", "/api/jobs", { name: "nowhere", script: "true", targets: { labels: ["role=none"] } });
        const viewer = await tokenOfRole(api, "viewer");
        const operator = await tokenOfRole(api, "operator");
        expect((await call("POST", `/api/jobs/${job.json.id}/runs`, {}, viewer)).status).toBe(403);
        const started = await call("POST", `/api/jobs/${job.json.id}/runs`, {}, operator);
        expect(started.status).toBe(201);
        expect(started.json).toMatchObject({ job_name: "nowhere", trigger: "manual", started_by: expect.stringMatching(/^operator-\w+ \(token test\)$/), hosts: [] });
        const run = await api.ended(started.json.id);
        const bodiless = await call("POST", `/api/jobs/${job.json.id}/runs`); // no body at all is fine too
        expect(bodiless.status).toBe(201);
        await api.ended(bodiless.json.id);
        expect((await call("POST", `/api/jobs/${job.json.id}/runs`, "go")).status).toBe(422);
        expect(run).toMatchObject({ status: "failed", message: "no machine matched the job's targets", hosts: [], script: "true" });
        expect((await call("GET", `/api/runs/${run.id}`, undefined, viewer)).status).toBe(200);
        expect((await call("GET", `/api/runs?job_id=${job.json.id}`, undefined, viewer)).json.items.map((r: { id: number }) => r.id)).toEqual([bodiless.json.id, run.id]);
        expect((await call("GET", `/api/runs?status=failed&limit=1`)).json.items.length).toBe(1);
        expect((await call("DELETE", `/api/jobs/${job.json.id}`)).status).toBe(204);
        expect((await call("GET", `/api/runs/${run.id}`)).json).toMatchObject({ job_id: null, job_name: "nowhere" });
        const seen = (await call("GET", "/api/events?limit=1000", undefined, viewer)).json.items.map((e: { kind: string }) => e.kind);
        expect(seen).toEqual(expect.arrayContaining(["job_created", "run_started", "run_failed", "job_deleted"]));
        expect(seen).not.toContain("credential_created"); // credentials are the admins' business
      });

      test("bad ids and queries are 4xx, never a 500", async () => {
        for (const [path, status] of [
          ["/api/runs/abc", 422], ["/api/runs/999999999999999", 404], ["/api/runs?limit=-1", 422], ["/api/runs?status=done", 422],
          ["/api/runs?job_id=99999999999", 422], ["/api/jobs/abc", 422], ["/api/runs/1?output=maybe", 422], ["/api/host-keys?changed=2", 422],
          ["/api/machines/999999/ssh", 404],
        ] as const) {
          expect({ path, status: (await call("GET", path)).status }).toEqual({ path, status });
        }
        expect((await call("POST", "/api/jobs/1/runs", { parameters: { A: 1 } })).status).toBe(422);
        expect((await call("POST", "/api/machines/999999/host-key", { fingerprint: "md5:aa" })).status).toBe(422);
      });

      test("no secret in any answer, event or log line", async () => {
        const events = await call("GET", "/api/events?limit=1000");
        const everything = answers.map((a) => a.text).join("\n") + events.text + t.output();
        const secrets = [PASSWORD, PASSPHRASE, ...Object.values(keys).map((k) => k.privateKey.split("\n")[1]!)];
        for (const secret of secrets) expect(everything).not.toContain(secret);
        const [sealed] = await t.db.query<{ all: string }>("SELECT string_agg(sealed, ' ') AS all FROM credentials");
        for (const secret of secrets) expect(sealed!.all ?? "").not.toContain(secret);
      });
    });
  }
});
