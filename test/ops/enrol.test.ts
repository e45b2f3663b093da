// Enrolment for real: vxman listens on the root side of a network-namespace test host, and the
// script it serves runs INSIDE the namespace, the way a machine runs it:
//   curl -fsS http://MANAGER:PORT/register.sh | sh
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admin, testApp, type TestApp } from "../helpers/app.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { needs, which } from "../helpers/requirements.ts";


// Every character a shell, curl's config or wget's rc file might read as something else.
const TOKEN = `enrol"test\\token'$HOME\`x\`;1`;
const temps: string[] = [];
const tempDir = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `vxman-${name}-`));
  temps.push(dir);
  return dir;
};

/** A vxman on the root side of the host's link, listening only there. */
async function manager(host: TestHost, env: Record<string, string> = {}): Promise<{ t: TestApp; url: string }> {
  const t = await testApp("pglite", env);
  t.app.listen({ hostname: host.hostIp, port: 0 });
  return { t, url: `http://${host.hostIp}:${t.app.server!.port}` };
}

/**
 * Run `sh -c script` inside the namespace. Asynchronous: the manager answering it runs in this
 * process. Bounded: killed after 30 s.
 */
async function inHost(host: TestHost, script: string, env: Record<string, string> = {}, shell = ["sh"]) {
  const proc = Bun.spawn(["ip", "netns", "exec", host.name, ...shell, "-c", script], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** A PATH of BusyBox applets, iproute2's ip and GNU wget: exactly what the script claims to need. */
function busyboxPath(): string {
  const bin = tempDir("bin");
  const applets = ["cat", "uname", "tr", "sed", "mktemp", "rm", "head", "tail", "od", "id", "mkdir", "chmod", "mv", "ln", "sh"];
  for (const a of applets) symlinkSync(which("busybox")!, join(bin, a));
  symlinkSync(which("ip")!, join(bin, "ip"));
  symlinkSync(which("wget")!, join(bin, "wget"));
  return bin;
}

const machines = async (t: TestApp) => (await (await t.request("GET", "/api/machines", { headers: admin })).json()).items as Record<string, unknown>[];

setDefaultTimeout(60_000);

// Each test asks for exactly the tools it runs in the namespace.
describe.skipIf(!needs("root", "netns"))("enrolment from a namespace test host", () => {
  let host: TestHost;
  let open: { t: TestApp; url: string };
  let guarded: { t: TestApp; url: string };
  let hostname: string;
  let mac: string;
  beforeAll(async () => {
    host = await createTestHost();
    open = await manager(host);
    guarded = await manager(host, { REGISTRATION_TOKEN: TOKEN });
    hostname = (await host.exec(["cat", "/proc/sys/kernel/hostname"])).trim();
    // The MAC as the namespace itself reports it, for the interface that routes to the manager.
    const links = JSON.parse(await host.exec(["ip", "-j", "link", "show"])) as { ifname: string; address: string }[];
    mac = links.find((l) => l.ifname !== "lo")!.address;
  });
  afterAll(async () => {
    await open?.t.close();
    await guarded?.t.close();
    await destroyAllTestHosts();
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  test.skipIf(!needs("curl", "dash"))("curl … | sh registers the namespace's IP and MAC; running it again updates, never duplicates", async () => {
    expect(mac).toBe(host.mac);
    const first = await inHost(host, `curl -fsS ${open.url}/register.sh | sh`);
    expect(first).toMatchObject({ code: 0, err: "" });
    expect(first.out).toBe(`registered ${hostname} (${host.ip}, ${mac}) with ${open.url}\n`);
    const [m] = await machines(open.t);
    expect(m).toMatchObject({ ip_address: host.ip, mac_address: mac, hostname, status: "active" });
    expect(m!.extra_data).toMatchObject({ agent: "vxman-register", interface: expect.stringMatching(/^vxn/), arch: process.arch === "x64" ? "x86_64" : expect.any(String) });
    expect(Object.keys(m!.extra_data as object)).toEqual(expect.arrayContaining(["os", "kernel", "cpus", "memory_mb"]));

    const again = await inHost(host, `curl -fsS ${open.url}/register.sh | dash`);
    expect(again).toMatchObject({ code: 0, out: `updated ${hostname} (${host.ip}, ${mac}) at ${open.url}\n` });
    expect((await machines(open.t)).length).toBe(1);
  });

  test.skipIf(!needs("busybox", "wget"))("busybox sh with GNU wget and no curl: the same registration; BusyBox's own wget is refused with a reason", async () => {
    const bin = busyboxPath();
    const wgetOnly = await inHost(host, `wget -qO- ${open.url}/register.sh | sh`, { PATH: bin }, [join(bin, "sh")]);
    expect(wgetOnly).toMatchObject({ code: 0, out: `updated ${hostname} (${host.ip}, ${mac}) at ${open.url}\n`, err: "" });

    rmSync(join(bin, "wget"));
    symlinkSync(which("busybox")!, join(bin, "wget"));
    const busyboxWget = await inHost(host, `wget -qO- ${open.url}/register.sh | sh`, { PATH: bin }, [join(bin, "sh")]);
    expect(busyboxWget.code).toBe(3);
    expect(busyboxWget.err).toContain("cannot send PUT requests (BusyBox wget?): install curl");
  });

  test.skipIf(!needs("curl", "busybox", "wget"))("with REGISTRATION_TOKEN: refused without a token (401, the manager's words), or a wrong one (403); --token or VXMAN_TOKEN works, with curl or wget", async () => {
    const script = `curl -fsS ${guarded.url}/register.sh`;
    const without = await inHost(host, `${script} | sh`);
    expect(without.code).toBe(1);
    expect(without.err).toContain("the manager needs a registration token: pass --token TOKEN or set VXMAN_TOKEN");
    expect(without.err).toContain('It said: This needs the registration token (REGISTRATION_TOKEN): send "Authorization: Bearer <token>".');
    const wrong = await inHost(host, `${script} | sh -s -- --token wrong-token-0123456789`);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("the manager refused the token");
    expect(await machines(guarded.t)).toEqual([]);

    const withFlag = await inHost(host, `${script} | sh -s -- --token "$T"`, { T: TOKEN });
    expect(withFlag).toMatchObject({ code: 0, out: `registered ${hostname} (${host.ip}, ${mac}) with ${guarded.url}\n` });
    const withEnv = await inHost(host, `${script} | sh`, { VXMAN_TOKEN: TOKEN });
    expect(withEnv).toMatchObject({ code: 0, out: `updated ${hostname} (${host.ip}, ${mac}) at ${guarded.url}\n` });
    const bin = busyboxPath();
    const withWget = await inHost(host, `wget -qO- ${guarded.url}/register.sh | sh`, { PATH: bin, VXMAN_TOKEN: TOKEN }, [join(bin, "sh")]);
    expect(withWget).toMatchObject({ code: 0, out: `updated ${hostname} (${host.ip}, ${mac}) at ${guarded.url}\n` });
    expect([withFlag, withEnv, withWget].map((r) => r.out + r.err).join("")).not.toContain(TOKEN);
  });

  test.skipIf(!needs("curl"))("--dry-run prints the request, hides the token, and sends nothing", async () => {
    const fresh = await manager(host, { REGISTRATION_TOKEN: TOKEN });
    try {
      const r = await inHost(host, `curl -fsS ${fresh.url}/register.sh | sh -s -- --dry-run --token "$T"`, { T: TOKEN });
      expect(r).toMatchObject({ code: 0, err: "" });
      expect(r.out).toStartWith(`Dry run: nothing is sent.\nPUT ${fresh.url}/api/machines/${host.ip}\n`);
      expect(r.out).toContain("Authorization: Bearer (the registration token, not shown)");
      expect(r.out).not.toContain(TOKEN);
      const body = JSON.parse(r.out.trim().split("\n").at(-1)!);
      expect(body).toMatchObject({ hostname, mac_address: mac, extra_data: { agent: "vxman-register" } });
      expect(await machines(fresh.t)).toEqual([]);
      expect((await (await fresh.t.request("GET", "/api/events", { headers: admin })).json()).items).toEqual([]);
    } finally {
      await fresh.t.close();
    }
  });

  test.skipIf(!needs("curl"))("a manager that does not answer: exit 1 and a sentence saying so", async () => {
    const r = await inHost(host, `curl -fsS ${open.url}/register.sh | sh -s -- --manager http://${host.hostIp}:1`);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot reach the manager at http://${host.hostIp}:1`);
  });

  test.skipIf(!needs("curl"))("--heartbeat with systemd: installs the script, a root-only config and a timer; the installed copy re-registers", async () => {
    const root = tempDir("root");
    mkdirSync(join(root, "run/systemd/system"), { recursive: true });
    const dry = await inHost(host, `curl -fsS ${guarded.url}/register.sh | sh -s -- --heartbeat --dry-run --root ${root}`);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`--heartbeat would install (systemd, every 5 minutes):\n${root}/usr/local/sbin/vxman-register\n`);
    expect(existsSync(join(root, "etc"))).toBe(false);

    const r = await inHost(host, `curl -fsS ${guarded.url}/register.sh | sh -s -- --heartbeat --root ${root}`, { VXMAN_TOKEN: TOKEN });
    expect(r).toMatchObject({ code: 0, err: "" });
    expect(r.out).toContain("heartbeat: vxman-register.timer registers this machine every 5 minutes");

    const installed = join(root, "usr/local/sbin/vxman-register");
    expect(readFileSync(installed, "utf8")).toBe(await (await fetch(`${guarded.url}/register.sh`)).text());
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    const config = join(root, "etc/vxman-register.conf");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(readFileSync(config, "utf8")).toContain(`VXMAN_MANAGER=${guarded.url}\nVXMAN_TOKEN=${TOKEN}\n`);
    const units = join(root, "etc/systemd/system");
    expect(readFileSync(join(units, "vxman-register.service"), "utf8")).toContain(
      "ExecStart=/usr/local/sbin/vxman-register --config /etc/vxman-register.conf --quiet",
    );
    expect(readFileSync(join(units, "vxman-register.timer"), "utf8")).toContain("OnUnitActiveSec=5min");
    const wants = join(units, "timers.target.wants/vxman-register.timer");
    expect(lstatSync(wants).isSymbolicLink() && readlinkSync(wants)).toBe("/etc/systemd/system/vxman-register.timer");

    // What the timer runs, from the installed copy: quiet on success, the token from the config.
    const before = (await machines(guarded.t))[0]!.last_seen as string;
    const tick = await inHost(host, `${installed} --config ${config} --quiet`);
    expect(tick).toMatchObject({ code: 0, out: "", err: "" });
    expect(Date.parse((await machines(guarded.t))[0]!.last_seen as string)).toBeGreaterThan(Date.parse(before));

    if (needs("systemd-analyze")) {
      // The units as written, pointed at the installed copy (verify checks that ExecStart exists).
      const check = tempDir("units");
      for (const f of ["vxman-register.service", "vxman-register.timer"]) {
        writeFileSync(join(check, f), readFileSync(join(units, f), "utf8").replaceAll("/usr/local/sbin/vxman-register", installed));
      }
      const v = Bun.spawnSync(["systemd-analyze", "verify", join(check, "vxman-register.service"), join(check, "vxman-register.timer")]);
      expect({ code: v.exitCode, err: v.stderr.toString() }).toEqual({ code: 0, err: "" });
    }
  });

  test.skipIf(!needs("curl", "busybox"))("--heartbeat without systemd: a cron.d entry, or a BusyBox crontab line (replaced, not repeated, on a rerun)", async () => {
    const debian = tempDir("root");
    mkdirSync(join(debian, "etc/cron.d"), { recursive: true });
    expect((await inHost(host, `curl -fsS ${open.url}/register.sh | sh -s -- --heartbeat --root ${debian}`)).code).toBe(0);
    const entry = readFileSync(join(debian, "etc/cron.d/vxman-register"), "utf8");
    expect(entry).toMatch(/^\d+(,\d+){11} \* \* \* \* root sleep \d+; \/usr\/local\/sbin\/vxman-register --config \/etc\/vxman-register.conf --quiet$/m);
    expect(readFileSync(join(debian, "etc/vxman-register.conf"), "utf8")).not.toContain("VXMAN_TOKEN");

    const alpine = tempDir("root");
    mkdirSync(join(alpine, "etc/crontabs"), { recursive: true });
    writeFileSync(join(alpine, "etc/crontabs/root"), "0 3 * * * run-backup\n");
    for (let i = 0; i < 2; i++) {
      expect((await inHost(host, `curl -fsS ${open.url}/register.sh | busybox sh -s -- --heartbeat --root ${alpine}`)).code).toBe(0);
    }
    const lines = readFileSync(join(alpine, "etc/crontabs/root"), "utf8").trim().split("\n");
    expect(lines[0]).toBe("0 3 * * * run-backup");
    expect(lines.length).toBe(2);
    expect(lines[1]).toMatch(/^\d+(,\d+){11} \* \* \* \* sleep \d+; \/usr\/local\/sbin\/vxman-register --config/);
    expect(readFileSync(join(alpine, "etc/crontabs/cron.update"), "utf8")).toContain("root");
  });

  test.skipIf(!needs("curl", "setpriv"))("--heartbeat as a non-root user, or with no scheduler: exit 3 and what to do", async () => {
    const asNobody = await inHost(host, `curl -fsS ${open.url}/register.sh | setpriv --reuid=nobody --regid=nogroup --clear-groups sh -s -- --heartbeat`);
    expect(asNobody.code).toBe(3);
    expect(asNobody.err).toContain("--heartbeat installs a system timer: run it as root");
    const bare = tempDir("root");
    const none = await inHost(host, `curl -fsS ${open.url}/register.sh | sh -s -- --heartbeat --root ${bare}`);
    expect(none.code).toBe(3);
    expect(none.err).toContain("neither systemd nor cron was found");
  });
});
