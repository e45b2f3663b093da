// systemd/vxman.service: systemd's own checker, and the compiled binary started the way the
// unit starts it (an unprivileged user whose only capability is an ambient CAP_NET_RAW, no new
// privileges) serving and pinging; without the capability it serves with monitoring off and
// says how to fix it. Nothing is installed into, or started by, this host's systemd: the unit
// itself runs under systemd in scripts/ops/systemd-nspawn.sh (docs/operations-testing.md).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeSettings } from "../../src/config.ts";
import { isolatedBinary, startProcess, waitForHttp, type RunningProcess } from "../helpers/binary.ts";
import { createTestHost, destroyAllTestHosts, NETNS_HOW_TO, netnsAvailable } from "../helpers/netns.ts";
import { freePort } from "../helpers/postgres.ts";
import { isRoot, requirement, which } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(90_000);

const SYSTEMD = join(import.meta.dir, "../../systemd");
const UNIT = readFileSync(join(SYSTEMD, "vxman.service"), "utf8");
const NOBODY = 65534;
const CAP_NET_RAW = 1n << 13n;

/** The unit's settings: name → every value it is given. */
function directives(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) c();
  await destroyAllTestHosts();
});

describe("the unit file", () => {
  const unit = directives(UNIT);

  test("runs /usr/local/bin/vxman as a dynamic user with CAP_NET_RAW only, its data in the state directory", () => {
    expect(unit.get("ExecStart")).toEqual(["/usr/local/bin/vxman serve"]);
    expect(unit.get("DynamicUser")).toEqual(["yes"]);
    expect(unit.get("AmbientCapabilities")).toEqual(["CAP_NET_RAW"]);
    expect(unit.get("CapabilityBoundingSet")).toEqual(["CAP_NET_RAW"]);
    expect(unit.get("StateDirectory")).toEqual(["vxman"]);
    expect(unit.get("Environment")).toEqual(["DATA_DIR=%S/vxman", "LOG_FORMAT=json"]);
    expect(unit.get("EnvironmentFile")).toEqual(["-/etc/vxman/vxman.env"]);
    expect(unit.get("Restart")).toEqual(["on-failure"]);
    expect(unit.get("KillSignal")).toEqual(["SIGTERM"]);
    // vxman stops within 10 s; systemd must not SIGKILL it before.
    expect(Number(/^(\d+)s$/.exec(unit.get("TimeoutStopSec")?.[0] ?? "")?.[1])).toBeGreaterThan(10);
  });

  test("is hardened, without the settings that would break the raw socket or Bun's JIT", () => {
    for (const on of ["NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
      "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname", "RestrictNamespaces", "RestrictRealtime",
      "RestrictSUIDSGID", "LockPersonality"]) {
      expect([on, unit.get(on)]).toEqual([on, ["yes"]]);
    }
    expect(unit.get("ProtectSystem")).toEqual(["strict"]);
    expect(unit.get("RestrictAddressFamilies")).toEqual(["AF_INET AF_INET6 AF_UNIX AF_NETLINK"]);
    expect(unit.get("SystemCallArchitectures")).toEqual(["native"]);
    // Both ran under systemd with every check passing, the filter set to kill (scripts/ops/).
    expect(unit.get("SystemCallFilter")).toEqual(["@system-service"]);
    expect(unit.get("SystemCallErrorNumber")).toEqual(["EPERM"]);
    expect(unit.get("ProcSubset")).toEqual(["pid"]);
    expect(unit.get("ProtectProc")).toEqual(["invisible"]);
    expect(unit.get("UMask")).toEqual(["0077"]);
    for (const off of ["MemoryDenyWriteExecute", "PrivateUsers", "PrivateNetwork"]) expect(unit.has(off)).toBe(false);
  });

  test("the example env file documents every setting, at its default", () => {
    const example = readFileSync(join(SYSTEMD, "vxman.env.example"), "utf8");
    for (const s of describeSettings()) expect(example).toMatch(new RegExp(`^#${s.name}=`, "m"));
    // Commented out, all of them: installing the example changes nothing.
    expect(example.split("\n").filter((l) => /^[A-Z_]+=/.test(l))).toEqual([]);
  });

  test.skipIf(!requirement("systemd-analyze", which("systemd-analyze") !== null, "apt-get install systemd"))(
    "passes systemd-analyze verify (a copy pointed at a copy of the built binary)",
    () => {
      const { dir, bin, cleanup } = isolatedBinary();
      cleanups.push(cleanup);
      const copy = join(dir, "vxman.service");
      writeFileSync(copy, UNIT.replace("ExecStart=/usr/local/bin/vxman", `ExecStart=${bin}`));
      const r = Bun.spawnSync(["systemd-analyze", "verify", copy], { timeout: 60_000 });
      expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
      // And it would notice a broken one: the check is real.
      writeFileSync(copy, UNIT.replace("ProtectSystem=", "ProtectSystm="));
      const bad = Bun.spawnSync(["systemd-analyze", "verify", copy], { timeout: 60_000 });
      expect(bad.stderr.toString()).toContain("Unknown key 'ProtectSystm'");
    },
  );
});

const asRoot = requirement("root", isRoot, "run the tests as root (setpriv to another user needs it)") &&
  requirement("setpriv", which("setpriv") !== null, "apt-get install util-linux");

describe.skipIf(!asRoot)("the binary started the way the unit starts it", () => {
  let bin: string;
  beforeAll(() => {
    const copy = isolatedBinary();
    cleanups.push(copy.cleanup);
    bin = copy.bin;
  });

  /** A data folder only the service user can use, as StateDirectory= makes it. */
  const stateDirectory = () => {
    const dir = mkdtempSync(join(tmpdir(), "vxman-state-"));
    chownSync(dir, NOBODY, NOBODY);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  // setpriv as the unit's settings: DynamicUser (here: nobody), CapabilityBoundingSet=,
  // AmbientCapabilities= and NoNewPrivileges=.
  const setpriv = (caps: string[]) => [
    which("setpriv")!, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
    `--inh-caps=-all${caps.map((c) => `,+${c}`).join("")}`,
    ...(caps.length ? [`--ambient-caps=${caps.map((c) => `+${c}`).join(",")}`] : []),
    `--bounding-set=-all${caps.map((c) => `,+${c}`).join("")}`,
    "--no-new-privs", "--",
  ];

  const unitEnv = (port: number) => ({
    DATA_DIR: stateDirectory(),
    LOG_FORMAT: "json",
    PORT: String(port),
    ADMIN_TOKEN: "systemd-test-admin-token-0123",
    PING_INTERVAL: "200ms",
  });

  const start = (cmd: string[], env: Record<string, string>): RunningProcess => {
    const proc = startProcess(cmd, { env });
    cleanups.push(() => proc.kill("SIGKILL"));
    return proc;
  };

  test("with the ambient CAP_NET_RAW: serves as nobody, with that one capability, and pings", async () => {
    const port = await freePort();
    const proc = start([...setpriv(["net_raw"]), bin], { ...unitEnv(port), HOST: "127.0.0.1" });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/health`, 30_000, proc);

    const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
    const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, "m").exec(status)?.[1] ?? "";
    expect(field("Uid").split(/\s+/)).toEqual([String(NOBODY), String(NOBODY), String(NOBODY), String(NOBODY)]);
    expect(field("NoNewPrivs")).toBe("1");
    for (const set of ["CapEff", "CapPrm", "CapAmb", "CapBnd"]) expect([set, BigInt(`0x${field(set)}`)]).toEqual([set, CAP_NET_RAW]);

    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ status: "ok", monitoring: "on" });
    expect(health.monitoring_reason).toBeUndefined();

    const put = await fetch(`${base}/api/machines/127.0.0.77`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: "unit-test", mac_address: "52:54:00:00:00:77" }),
    });
    expect(put.status).toBe(201);
    const pinged = await waitFor("a ping of 127.0.0.77", async () => {
      const m = await (await fetch(`${base}/api/machines/127.0.0.77`, { headers: { authorization: "Bearer systemd-test-admin-token-0123" } })).json();
      return typeof m.last_rtt_ms === "number" ? m : null;
    }, 20_000, 100);
    expect(pinged).toMatchObject({ status: "active", consecutive_failures: 0 });

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });

  test.skipIf(!requirement("netns", netnsAvailable, NETNS_HOW_TO))(
    "without it: still serves, monitoring off, and /health says how to fix it",
    async () => {
      // In a fresh network namespace, where net.ipv4.ping_group_range is the kernel's "1 0": no
      // unprivileged ping socket either, whatever this host's own setting.
      const host = await createTestHost();
      const port = await freePort();
      const proc = start([which("ip")!, "netns", "exec", host.name, ...setpriv([]), bin], { ...unitEnv(port), HOST: "0.0.0.0" });
      const health = await (await waitForHttp(`http://${host.ip}:${port}/health`, 30_000, proc)).json();
      expect(health).toMatchObject({ status: "ok", monitoring: "off" });
      expect(health.monitoring_reason).toContain("AmbientCapabilities=CAP_NET_RAW");
      expect(health.monitoring_reason).toContain("setcap cap_net_raw+ep");
      expect(health.monitoring_reason).toContain("ping_group_range");
      expect(health.monitoring_reason).toContain('--sysctl net.ipv4.ping_group_range="0 2147483647"'); // for containers
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    },
  );

  test("MemoryDenyWriteExecute stays off: under the kernel's W^X rule (PR_SET_MDWE) vxman cannot start", () => {
    const helper = join(import.meta.dir, "fixtures/mdwe-exec.ts");
    const run = (env: Record<string, string>) =>
      Bun.spawnSync([process.execPath, helper, bin, "ping", "-c", "1", "127.0.0.1"], { env: { ...env, PATH: "/usr/bin:/bin" }, timeout: 30_000 });
    const probe = run({});
    if (probe.exitCode === 97) {
      // A kernel feature, not a package CI could install: say so loudly, even in strict mode.
      console.warn("\n!!! SKIPPING the MemoryDenyWriteExecute check: this kernel has no PR_SET_MDWE (Linux 6.3+) !!!\n");
      return;
    }
    expect(run({ MDWE: "off" }).exitCode).toBe(0); // the helper itself is sound
    expect(probe.exitCode).not.toBe(0);
    expect(probe.stderr.toString()).toContain("bun:ffi requires the JIT");
  });
});
