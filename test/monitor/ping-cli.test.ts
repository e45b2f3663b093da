// `vxman ping`, run as a user would: from source (`bun src/main.ts ping`) and as the compiled
// binary alone in an empty directory; then the binary as an unprivileged user, with and
// without CAP_NET_RAW and with unprivileged ICMP sockets allowed (in a private namespace).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseOptions } from "../../src/cli/ping.ts";
import { WITHOUT_FTL } from "../../src/start-with-env.ts";
import { isolatedBinary } from "../helpers/binary.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { needs, which } from "../helpers/requirements.ts";
import { waitFor } from "../helpers/wait.ts";

const ROOT = join(import.meta.dir, "../..");
const canPing = needs("root");
const canNetns = canPing && needs("netns");
const canSetpriv = canPing && needs("setpriv");

test("-t and -p read durations as every setting does: a plain number is seconds", () => {
  const opts = (...args: string[]) => parseOptions([...args, "127.0.0.1"])!;
  expect(opts("-t", "1").timeoutMs).toBe(1000);
  expect(opts("-t", "1.5").timeoutMs).toBe(1500);
  expect(opts("-t", "250ms").timeoutMs).toBe(250);
  expect(opts("-p", "2m").periodMs).toBe(120_000);
  expect(opts().timeoutMs).toBe(1000);
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Run to completion (killed after 30 s: every run here is bounded). */
async function run(cmd: string[], opts: { cwd?: string; stdin?: string } = {}): Promise<Run> {
  const proc = Bun.spawn(cmd, { cwd: opts.cwd ?? ROOT, stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const timer = setTimeout(() => proc.kill(), 30_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

/** A child process of `pid` (any of its threads may have started it), or undefined. */
function childOf(pid: number): number | undefined {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    if (children) return Number(children.split(" ")[0]);
  }
  return undefined;
}

let binary: ReturnType<typeof isolatedBinary> | undefined;
let host: TestHost | undefined;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "vxman-ping-"));
  if (canPing) binary = isolatedBinary();
  if (canNetns) host = await createTestHost();
}, 180_000);

afterAll(async () => {
  binary?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
  await destroyAllTestHosts();
});

const flavours = [
  { name: "from source", ping: (...args: string[]) => [process.execPath, "src/main.ts", "ping", ...args], cwd: () => ROOT },
  { name: "compiled binary in an empty directory", ping: (...args: string[]) => [binary!.bin, "ping", ...args], cwd: () => binary!.dir },
];

for (const flavour of flavours) {
  describe.skipIf(!canPing)(`vxman ping ${flavour.name}`, () => {
    const ping = (args: string[], stdin?: string) => run(flavour.ping(...args), { cwd: flavour.cwd(), stdin });

    test("every host answers: one line each, exit 0", async () => {
      const r = await ping(["127.0.0.1", "::1", "127.9.8.7"]);
      expect(r.code).toBe(0);
      const lines = r.out.trim().split("\n").sort();
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^127\.0\.0\.1 is alive \(\d+\.\d+ ms\)$/);
      expect(lines[1]).toMatch(/^127\.9\.8\.7 is alive \(/);
      expect(lines[2]).toMatch(/^::1 is alive \(/);
    });

    test("-q prints only the summary", async () => {
      const r = await ping(["-q", "127.0.0.1", "127.0.0.2"]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^2 hosts, 2 alive, 0 unreachable\n2 sent, 2 received, 0 lost \(0\.0%\)\nwall time \d+\.\d+ s\n$/);
    });

    test("-c 3: a per-host summary like fping's", async () => {
      const r = await ping(["-c", "3", "-p", "10", "127.0.0.1", "::1"]);
      expect(r.code).toBe(0);
      const lines = r.out.trim().split("\n").sort();
      expect(lines[0]).toMatch(/^127\.0\.0\.1 : xmt\/rcv\/%loss = 3\/3\/0%, min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+$/);
      expect(lines[1]).toMatch(/^::1 : xmt\/rcv\/%loss = 3\/3\/0%/);
    });

    test("-f FILE: one address per line, blank lines and # comments skipped", async () => {
      const file = join(tmp, "hosts.txt");
      writeFileSync(file, "# loopback\n127.0.0.1\n\n  127.0.0.2   # trailing comment\n::1\n");
      const r = await ping(["-q", "-f", file]);
      expect(r.code).toBe(0);
      expect(r.out).toStartWith("3 hosts, 3 alive, 0 unreachable\n");
    });

    test("starts itself again in place with JSC's FTL tier off: one process, the option in its environment", async () => {
      const proc = Bun.spawn(flavour.ping("-c", "20", "-p", "1s", "127.0.0.1"), { cwd: flavour.cwd(), stdout: "ignore", stderr: "ignore", env: { PATH: process.env.PATH ?? "" } });
      try {
        const [name, value] = Object.entries(WITHOUT_FTL)[0]!;
        const environ = () => readFileSync(`/proc/${proc.pid}/environ`, "utf8").split("\0");
        await waitFor("the option in the process's environment", () => environ().includes(`${name}=${value}`));
        expect(childOf(proc.pid)).toBeUndefined();
        proc.kill("SIGTERM");
        await proc.exited;
        expect(proc.signalCode).toBe("SIGTERM");
      } finally {
        proc.kill("SIGKILL");
      }
    });

    test("-f - reads standard input", async () => {
      const r = await ping(["-q", "-f", "-"], "127.0.0.3\n127.0.0.4\n");
      expect(r.out).toStartWith("2 hosts, 2 alive");
    });

    test.skipIf(!canNetns)("some host silent or unreachable: exit 1, said per host", async () => {
      await host!.stopAnswering();
      try {
        const r = await ping(["-t", "200ms", "127.0.0.1", host!.ip, host!.unroutedIp]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("127.0.0.1 is alive");
        expect(r.out).toContain(`${host!.ip} is unreachable\n`);
        expect(r.out).toContain(`${host!.unroutedIp} is unreachable (no route to host (EHOSTUNREACH on send))`);
      } finally {
        await host!.answerAgain();
      }
    });

    test.each([
      [["-c", "abc", "127.0.0.1"], /-c takes a whole number/],
      [["-t", "soon", "127.0.0.1"], /-t takes a duration .* \(a plain number is seconds\)/],
      [["-t", "0", "127.0.0.1"], /-t takes a duration from 1ms to 1h/],
      [["localhost"], /"localhost" is not an IP address.*no DNS/],
      [[], /no hosts given/],
      [["--bogus", "127.0.0.1"], /^vxman ping: unknown option --bogus\n/],
      [["-c"], /^vxman ping: option -c needs a value\n/],
      [["-f", "/nonexistent/hosts"], /cannot read \/nonexistent\/hosts/],
    ])("bad arguments %p: exit 2 with the reason and usage", async (args, reason) => {
      const r = await ping(args as string[]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(reason);
      expect(r.err).toContain("Usage: vxman ping");
      expect(r.out).toBe("");
    });
  });
}

describe.skipIf(!canSetpriv)("the binary as an unprivileged user (nobody)", () => {
  const asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
  /** A private network namespace with its own ping_group_range: the host's is never touched. */
  const inPrivateNetns = (pingGroupRange: string, cmd: string[]) => [
    "unshare", "-n", "sh", "-ec",
    `ip link set lo up; sysctl -qw net.ipv4.ping_group_range="${pingGroupRange}"; exec "$@"`, "sh", ...cmd,
  ];

  test("no CAP_NET_RAW and no unprivileged ICMP: exit 4, with the reason and how to fix it", async () => {
    const r = await run(inPrivateNetns("1 0", [...asNobody, binary!.bin, "ping", "127.0.0.1"]), { cwd: binary!.dir });
    expect(r.code).toBe(4);
    expect(r.err).toContain("EPERM");
    expect(r.err).toContain('net.ipv4.ping_group_range "1 0"');
    expect(r.err).toContain("AmbientCapabilities=CAP_NET_RAW");
    expect(r.err).toContain("setcap cap_net_raw+ep");
    expect(r.err).toContain('sysctl -w net.ipv4.ping_group_range="0 2147483647"');
  });

  test("with ambient CAP_NET_RAW: raw sockets, loopback answers, exit 0", async () => {
    const caps = ["--inh-caps=+net_raw", "--ambient-caps=+net_raw"];
    const r = await run([...asNobody, ...caps, binary!.bin, "ping", "127.0.0.1", "::1"], { cwd: binary!.dir });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("127.0.0.1 is alive");
  });

  test("no capability, but ping_group_range allows ICMP datagram sockets: exit 0", async () => {
    const r = await run(inPrivateNetns("0 2147483647", [...asNobody, binary!.bin, "ping", "-c", "2", "-p", "10", "127.0.0.1", "::1"]), { cwd: binary!.dir });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("127.0.0.1 : xmt/rcv/%loss = 2/2/0%");
    expect(r.out).toContain("::1 : xmt/rcv/%loss = 2/2/0%");
  });

  test("datagram sockets: an ICMP error from a router arrives through the error queue", async () => {
    // Two private namespaces (nothing here can reach the host's network): ours, and a
    // "router" reached over a veth, which answers for 198.18.0.5 with host unreachable.
    const script = `
      ip link set lo up
      sysctl -qw net.ipv4.ping_group_range="0 2147483647"
      unshare -n sleep 30 & router=$!
      for i in $(seq 100); do [ "$(readlink /proc/$router/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
      ip link add vxa type veth peer name vxb netns $router
      ip addr add 198.18.0.1/30 dev vxa
      ip link set vxa up
      nsenter -t $router -n sh -ec "ip addr add 198.18.0.2/30 dev vxb; ip link set vxb up; sysctl -qw net.ipv4.ip_forward=1; ip route add unreachable 198.18.0.5/32"
      ip route add 198.18.0.5/32 via 198.18.0.2
      rc=0
      "$@" || rc=$?
      kill $router
      wait $router 2>/dev/null || true
      exit $rc`;
    const r = await run(["unshare", "-n", "sh", "-ec", script, "sh", ...asNobody, binary!.bin, "ping", "198.18.0.2", "198.18.0.5"], { cwd: binary!.dir });
    expect(r.err).toBe("");
    expect(r.code).toBe(1);
    expect(r.out).toContain("198.18.0.2 is alive");
    expect(r.out).toContain("198.18.0.5 is unreachable (host unreachable from 198.18.0.2)");
  });
});
