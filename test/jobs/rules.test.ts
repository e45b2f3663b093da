// The pure rules of fleet jobs: which settings a machine logs in with, which machines a job
// selects, which environment a run gets, what output looks like as text, when a schedule is due,
// and what a failed run's message says.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Machine } from "../../src/api/machines/model.ts";
import { completeLength, displayText } from "../../src/jobs/output-text.ts";
import { describePrivateKey, PrivateKeyError } from "../../src/jobs/ssh.ts";
import { environmentFor } from "../../src/jobs/run-service.ts";
import { dueSlot } from "../../src/jobs/schedules.ts";
import { effectiveSettings, type DefaultRule } from "../../src/jobs/ssh-settings.ts";
import { selectTargets } from "../../src/jobs/targets.ts";
import { renderRunFailed } from "../../src/outages/messages.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const groups = { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 };

describe("SSH settings: the machine's own, else the most specific label default, per setting", () => {
  const rules: DefaultRule[] = [
    { id: 1, labels: [], user: "root", port: null, credential_id: 1 },
    { id: 2, labels: ["role=db"], user: "ops", port: null, credential_id: 2 },
    { id: 3, labels: ["role=db", "site=fra"], user: null, port: 2222, credential_id: null },
    { id: 4, labels: ["site=fra"], user: "fra", port: 22, credential_id: null },
  ];
  const none = { user: null, port: null, credential_id: null };

  test("each setting from where it is set most specifically; the machine's own wins", () => {
    expect(effectiveSettings(["role=db", "site=fra"], none, rules)).toEqual({
      user: "ops", // rules 2 and 4 both have one label: the older (2) wins
      port: 2222,
      credential_id: 2,
      from: { user: "default 2", port: "default 3", credential_id: "default 2" },
    });
    expect(effectiveSettings(["role=db", "site=fra"], { user: "me", port: null, credential_id: 9 }, rules)).toMatchObject({
      user: "me", port: 2222, credential_id: 9, from: { user: "machine", port: "default 3", credential_id: "machine" },
    });
  });

  test("a machine no label rule fits takes the fleet-wide default; port 22 when nothing sets it", () => {
    expect(effectiveSettings(["role=web"], none, rules)).toEqual({
      user: "root", port: 22, credential_id: 1, from: { user: "default 1", port: "built-in", credential_id: "default 1" },
    });
    expect(effectiveSettings([], none, [])).toEqual({ user: null, port: 22, credential_id: null, from: { user: null, port: "built-in", credential_id: null } });
  });
});

describe("job targets", () => {
  const machine = (id: number, ip: string, labels: string[], status: Machine["status"] = "active", extra: Record<string, unknown> = {}) =>
    ({ id, hostname: `node-${id}`, ip_address: ip, mac_address: "52:54:00:00:00:01", status, labels, extra_data: extra }) as Machine;
  const fleet = [
    machine(1, "198.18.0.2", ["role=db"], "active", { vni: 10 }),
    machine(2, "198.18.0.10", ["role=db", "site=fra"], "unreachable"),
    machine(3, "198.18.1.2", ["role=web"], "active", { vni: 10 }),
  ];
  const ids = (targets: Parameters<typeof selectTargets>[1]) => selectTargets(fleet, targets, groups).map((m) => m.id);

  test("every part given must match; {} is every machine", () => {
    expect(ids({})).toEqual([1, 2, 3]);
    expect(ids({ labels: ["role=db"] })).toEqual([1, 2]);
    expect(ids({ labels: ["role=db"], status: "active" })).toEqual([1]);
    expect(ids({ groups: ["vni 10"] })).toEqual([1, 3]);
    expect(ids({ groups: ["subnet 198.18.1.0/24", "vni 99"] })).toEqual([3]);
    expect(ids({ machine_ids: [2, 3], q: "NODE-3" })).toEqual([3]);
    expect(ids({ q: "fra" })).toEqual([2]);
  });
});

describe("a run's environment", () => {
  const params = [
    { name: "VERSION", required: true },
    { name: "MODE", default: "safe" },
    { name: "EXTRA" },
  ];

  test("given values, else defaults; a parameter without either is left out", () => {
    expect(environmentFor(params, { VERSION: "1.2" })).toEqual({ VERSION: "1.2", MODE: "safe" });
    expect(environmentFor(params, { VERSION: "1.2", MODE: "", EXTRA: "x" })).toEqual({ VERSION: "1.2", MODE: "", EXTRA: "x" });
  });

  test("a missing required one and an unknown name are 422s naming the parameter", () => {
    expect(() => environmentFor(params, {})).toThrow("Invalid parameters.VERSION: is required.");
    expect(() => environmentFor(params, { VERSION: "1", NOPE: "x" })).toThrow("Invalid parameters.NOPE: is not a parameter of this job (it takes VERSION, MODE, EXTRA).");
    expect(() => environmentFor([], { __proto__: "x" } as Record<string, string>)).not.toThrow(); // a literal __proto__ is no own key
    expect(() => environmentFor([], JSON.parse('{"__proto__": "x"}'))).toThrow("is not a parameter of this job (it takes none)");
  });
});

describe("output as text", () => {
  test("colours, cursor moves, titles and hyperlinks go; the words stay", () => {
    const raw = "\x1b[1;31mred\x1b[0m \x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b(Bdone\x1b[2K\r\nnext\rover\x07\x00";
    expect(displayText(bytes(raw))).toBe("red link done\nnext\nover");
  });

  test("invalid UTF-8 becomes U+FFFD, never an error", () => {
    expect(displayText(new Uint8Array([0x61, 0xff, 0x62]))).toBe("a\ufffdb");
  });

  test("a chunk is not cut inside a UTF-8 character or an escape sequence", () => {
    const euro = bytes("ok €"); // € is 3 bytes
    expect(completeLength(euro)).toBe(euro.length);
    expect(completeLength(euro.subarray(0, euro.length - 1))).toBe(3);
    expect(completeLength(euro.subarray(0, euro.length - 2))).toBe(3);
    expect(completeLength(bytes("ab\x1b[1;3"))).toBe(2);
    expect(completeLength(bytes("ab\x1b[1;31mc"))).toBe(10);
    expect(completeLength(bytes("ab\x1b]0;still a tit"))).toBe(2);
    expect(completeLength(bytes(`ab\x1b]${"x".repeat(300)}`))).toBe(304); // too long to be one: not held
  });
});

describe("schedules", () => {
  const job = (cron: string, since: string, timezone = "UTC") => ({ cron, timezone, schedule_since: new Date(since) });
  const at = (iso: string) => Date.parse(iso);

  test("the latest slot at or before now that has not run, once", () => {
    const j = job("30 3 * * *", "2025-01-01T00:00:00Z");
    expect(dueSlot(j, null, at("2025-01-05T03:30:00Z"))?.toISOString()).toBe("2025-01-05T03:30:00.000Z");
    // Days of downtime: only the latest missed slot is due (one catch-up).
    expect(dueSlot(j, new Date("2025-01-02T03:30:00Z"), at("2025-01-05T12:00:00Z"))?.toISOString()).toBe("2025-01-05T03:30:00.000Z");
    expect(dueSlot(j, new Date("2025-01-05T03:30:00Z"), at("2025-01-05T12:00:00Z"))).toBeNull();
  });

  test("slots before the schedule was set are not missed runs", () => {
    expect(dueSlot(job("30 3 * * *", "2025-01-05T04:00:00Z"), null, at("2025-01-05T12:00:00Z"))).toBeNull();
  });

  test("the time zone is the job's: 03:30 in Tokyo is 18:30 UTC the day before", () => {
    const j = job("30 3 * * *", "2025-01-01T00:00:00Z", "Asia/Tokyo");
    expect(dueSlot(j, null, at("2025-01-05T19:00:00Z"))?.toISOString()).toBe("2025-01-05T18:30:00.000Z"); // 03:30 on the 6th in Tokyo
    expect(dueSlot(j, null, at("2025-01-05T18:00:00Z"))?.toISOString()).toBe("2025-01-04T18:30:00.000Z");
  });
});

describe("the message of a failed run", () => {
  test("names the run, the job and the hosts that failed, with a link when PUBLIC_URL is set", () => {
    const run = {
      run_id: 12, job_name: "apt upgrade", hosts: 3, failed: 2,
      failed_hosts: [
        { hostname: "db-1", ip_address: "198.18.0.2", state: "failed", message: "exited with code 3" },
        { hostname: "db-2", ip_address: "198.18.0.3", state: "timed_out", message: null },
      ],
    };
    const m = renderRunFailed(run, "2025-01-01T00:00:00.000Z", "https://vxman.example/");
    expect(m).toMatchObject({ kind: "run_failed", group: { by: "job", value: "apt upgrade" }, machines: [], total: 0, url: "https://vxman.example/#/runs/12" });
    expect(m.title).toBe('Run 12 of job "apt upgrade" failed on 2 of 3 machines');
    expect(m.text).toBe("db-1 (198.18.0.2): failed — exited with code 3\ndb-2 (198.18.0.3): timed out\nhttps://vxman.example/#/runs/12");
    expect(renderRunFailed({ ...run, hosts: 0, failed: 0, failed_hosts: [] }, m.at, null).title).toBe('Run 12 of job "apt upgrade" failed: no machine matched its targets');
  });
});

describe("private keys as an admin may paste them", () => {
  test("anything that is not a usable key is a PrivateKeyError (a 422), never another error (a 500)", () => {
    const pem = (label: string) => fc.uint8Array({ maxLength: 600 }).map((b) => `-----BEGIN ${label}-----\n${Buffer.from(b).toString("base64")}\n-----END ${label}-----\n`);
    const keys = fc.oneof(
      fc.string({ maxLength: 300 }),
      pem("OPENSSH PRIVATE KEY"), pem("RSA PRIVATE KEY"), pem("EC PRIVATE KEY"), pem("PRIVATE KEY"), pem("ENCRYPTED PRIVATE KEY"),
      fc.uint8Array({ maxLength: 200 }).map((b) => `ssh-ed25519 ${Buffer.from(b).toString("base64")} comment`),
    );
    fc.assert(
      fc.property(keys, fc.option(fc.string({ maxLength: 20 })), (key, passphrase) => {
        try {
          describePrivateKey(key, passphrase ?? undefined);
        } catch (err) {
          expect(err).toBeInstanceOf(PrivateKeyError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
