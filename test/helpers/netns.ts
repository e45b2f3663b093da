// Test hosts in network namespaces: real machines to ping, that a test can silence and revive.
//
//   const host = await createTestHost();      // root side host.hostIp, namespace side host.ip
//   await host.stopAnswering();               // echo requests are ignored from now on
//   await host.answerAgain();
//   afterAll(destroyAllTestHosts);            // also on failure (leftovers of crashed runs
//                                             // are reaped by the next createTestHost)
//
// Every host gets its own /29 of 198.18.0.0/16 (198.19.0.0/16 holds whole test segments): .1 root side and .2 namespace side of a veth
// pair (a /30), and a few spare addresses for routing tricks; the rest of the /29 has an
// `unreachable` route. So has the whole /15 in the root namespace (added if missing): nothing
// in that range leaves the machine; the hosts' more specific routes win over it. Names carry a per-run prefix
// (vxt-<pid>-<n>), and cleanup deletes exactly what this run created. Needs root and `ip`.
import { spawnSync } from "node:child_process";
import { isRoot, which } from "./requirements.ts";

export const netnsAvailable = isRoot && which("ip") !== null;
export const NETNS_HOW_TO = "run the tests as root on Linux with iproute2 (`ip`) installed";

export interface TestHost {
  /** The network namespace's name (also usable with `ip netns exec`). */
  name: string;
  /** The host's address (namespace side): ping this. */
  ip: string;
  /** The root namespace's address on the link to this host. */
  hostIp: string;
  /** MAC of the host's interface. */
  mac: string;
  /** The host's interface (inside the namespace). */
  dev: string;
  /**
   * An address routed to this host, which it answers with ICMP "host unreachable" (it
   * forwards into an `unreachable` route of its own): the real ICMP error path.
   */
  unreachableBehind(): Promise<string>;
  /** An address of this host's block with no route but the root's unreachable one: sends fail. */
  readonly unroutedIp: string;
  stopAnswering(): Promise<void>;
  answerAgain(): Promise<void>;
  /** Run a command inside the namespace; resolves with stdout, rejects on failure. */
  exec(cmd: string[]): Promise<string>;
  destroy(): Promise<void>;
}

const RANGE = "198.18.0.0/15";
const BLOCKS = 1 << 13; // /29 blocks in 198.18.0.0/16 (198.19.0.0/16 is for test segments)
const prefix = `vxt-${process.pid}`;
const live = new Map<string, () => void>();
let counter = 0;
let addedUnreachableRoute = false;

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err.trim()}`);
  return out;
}

function runSync(cmd: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout ?? "" };
}

function blockAddress(block: number, offset: number): string {
  const n = (198 << 24) + (18 << 16) + block * 8 + offset;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A /29 no address or route in the root namespace uses yet, from a per-process offset. */
function freeBlock(): number {
  const inUse = runSync(["ip", "-4", "-o", "addr", "show"]).out + runSync(["ip", "-4", "route", "show"]).out;
  const used = new Set(inUse.match(/198\.1[89]\.\d+\.\d+/g) ?? []);
  const start = (process.pid * 37 + counter) % BLOCKS;
  for (let i = 0; i < BLOCKS; i++) {
    const block = (start + i) % BLOCKS;
    if (block === 0) continue; // keep 198.18.0.0 itself out of it
    if (![0, 1, 2, 3, 4, 5, 6, 7].some((o) => used.has(blockAddress(block, o)))) return block;
  }
  throw new Error(`no free /29 left in ${RANGE}`);
}

function ensureUnreachableRoute(): void {
  if (runSync(["ip", "route", "show", "type", "unreachable", RANGE]).out.trim()) return;
  addedUnreachableRoute = runSync(["ip", "route", "add", "unreachable", RANGE]).ok;
}

/**
 * Keep the whole test range on this machine for the whole run: called once before any test
 * (test/setup.ts), so that a test that reaches for a 198.18.x.y address while no test host
 * exists (a registered machine gets pinged; an SSH connect to a host already torn down) meets
 * the unreachable route, never the default route out of the machine.
 */
export function guardTestRange(): void {
  if (netnsAvailable) ensureUnreachableRoute();
}

/** Create a namespace host reachable from here. Throws if not root. */
export async function createTestHost(): Promise<TestHost> {
  if (!netnsAvailable) throw new Error(`test hosts need ${NETNS_HOW_TO}`);
  reapDeadRuns();
  ensureUnreachableRoute();
  const n = ++counter;
  const name = `${prefix}-${n}`;
  const tag = `${process.pid.toString(36)}${n}`;
  const outside = `vxh${tag}`.slice(0, 15);
  const inside = `vxn${tag}`.slice(0, 15);
  const block = freeBlock();
  const hostIp = blockAddress(block, 1);
  const ip = blockAddress(block, 2);
  const inNs = (cmd: string[]) => run(["ip", "netns", "exec", name, ...cmd]);
  const cleanup = () => {
    // The link first: deleting it removes both veth ends at once, while a namespace's
    // devices are torn down asynchronously after `ip netns del` returns.
    runSync(["ip", "link", "del", outside]);
    runSync(["ip", "netns", "del", name]);
    runSync(["ip", "route", "del", `${blockAddress(block, 5)}/32`]);
    runSync(["ip", "route", "del", "unreachable", `${blockAddress(block, 0)}/29`]);
    live.delete(name);
    // The /15's unreachable route stays until the run ends (releaseTestRange).
  };
  live.set(name, cleanup);
  try {
    // The host's own block is unreachable except where more specific routes say otherwise, so
    // unroutedIp stays safe even if another run removes the shared /15 route meanwhile.
    await run(["ip", "route", "add", "unreachable", `${blockAddress(block, 0)}/29`]);
    await run(["ip", "netns", "add", name]);
    await run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", name]);
    await run(["ip", "addr", "add", `${hostIp}/30`, "dev", outside]);
    await run(["ip", "link", "set", outside, "up"]);
    await run(["ip", "-n", name, "addr", "add", `${ip}/30`, "dev", inside]);
    await run(["ip", "-n", name, "link", "set", inside, "up"]);
    await run(["ip", "-n", name, "link", "set", "lo", "up"]);
    await inNs(["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0"]);
    const mac = JSON.parse(await run(["ip", "-n", name, "-j", "link", "show", inside]))[0].address as string;
    await waitForLink(outside);
    let behind: string | undefined;
    return {
      name,
      ip,
      hostIp,
      mac,
      dev: inside,
      unroutedIp: blockAddress(block, 6),
      async unreachableBehind() {
        if (behind) return behind;
        const target = blockAddress(block, 5);
        await inNs(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        await run(["ip", "-n", name, "route", "add", "unreachable", `${target}/32`]);
        await run(["ip", "route", "add", `${target}/32`, "via", ip, "dev", outside]);
        return (behind = target);
      },
      stopAnswering: () => inNs(["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"]).then(() => {}),
      answerAgain: () => inNs(["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0"]).then(() => {}),
      exec: inNs,
      destroy: async () => cleanup(),
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

export interface TestSegment {
  /** The namespace host that answers for every address of the segment. */
  host: TestHost;
  /** The segment's addresses (up to 1,000, in one /22 of 198.19.0.0/16). */
  ips: string[];
  stopAnswering(): Promise<void>;
  answerAgain(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A whole segment behind one test host: `count` addresses that all answer (and all stop, at
 * once), like the machines of a VXLAN segment behind a switch that dies. One namespace holds
 * them all, routed to from here; 198.19.0.0/16 is inside the test range that never leaves the
 * machine.
 */
export async function createTestSegment(count: number): Promise<TestSegment> {
  if (count < 1 || count > 1000) throw new Error("a test segment has 1 to 1,000 addresses");
  const host = await createTestHost();
  const base = freeSegment();
  const prefix = `198.19.${base}.0/22`;
  const ips = Array.from({ length: count }, (_, i) => `198.19.${base + Math.floor(i / 250)}.${(i % 250) + 1}`);
  const release = async () => {
    runSync(["ip", "route", "del", prefix]);
    await host.destroy();
  };
  try {
    const batch = Bun.spawn(["ip", "-n", host.name, "-batch", "-"], { stdin: new Blob([ips.map((ip) => `addr add ${ip}/32 dev ${host.dev}\n`).join("")]), stderr: "pipe" });
    if ((await batch.exited) !== 0) throw new Error(`adding the segment's addresses failed: ${await new Response(batch.stderr).text()}`);
    await run(["ip", "route", "add", prefix, "via", host.ip]);
  } catch (err) {
    await release();
    throw err;
  }
  return { host, ips, stopAnswering: host.stopAnswering, answerAgain: host.answerAgain, destroy: release };
}

/** A /22 of 198.19.0.0/16 that no route or address here uses yet: its third octet. */
function freeSegment(): number {
  const used = runSync(["ip", "-4", "route", "show"]).out + runSync(["ip", "-4", "-o", "addr", "show"]).out;
  const start = ((process.pid + counter) % 64) * 4;
  for (let i = 0; i < 64; i++) {
    const third = (start + i * 4) % 256;
    if (![0, 1, 2, 3].some((k) => used.includes(`198.19.${third + k}.`))) return third;
  }
  throw new Error("no free /22 left in 198.19.0.0/16");
}

/** A fresh veth can take a moment to report carrier; wait for it (at most ~2 s). */
async function waitForLink(dev: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (runSync(["ip", "-o", "link", "show", dev]).out.includes("LOWER_UP")) return;
    await Bun.sleep(20);
  }
  throw new Error(`${dev} did not come up`);
}

/** Delete every host this run created (for afterAll: it also runs when a test failed). */
export async function destroyAllTestHosts(): Promise<void> {
  for (const cleanup of [...live.values()]) cleanup();
}

/** At the end of the run (test/setup.ts): remove the unreachable route if this run added it
 *  and no test hosts (of any run) remain. */
export function releaseTestRange(): void {
  if (!addedUnreachableRoute || live.size > 0) return;
  if (/198\.1[89]\./.test(runSync(["ip", "-4", "-o", "addr", "show"]).out)) return; // another run's hosts
  runSync(["ip", "route", "del", "unreachable", RANGE]);
  addedUnreachableRoute = false;
}

/**
 * Hosts left by runs that died before their cleanup (bun test fires no "exit" event, and a
 * crash skips afterAll): their names say which process made them; that process is gone.
 */
function reapDeadRuns(): void {
  for (const [, pidText, n] of runSync(["ip", "netns", "list"]).out.matchAll(/^vxt-(\d+)-(\d+)\b/gm)) {
    const pid = Number(pidText);
    if (pid === process.pid || isAlive(pid)) continue;
    const outside = `vxh${pid.toString(36)}${n}`.slice(0, 15);
    const addr = /inet (198\.1[89]\.\d+\.\d+)\//.exec(runSync(["ip", "-4", "-o", "addr", "show", "dev", outside]).out)?.[1];
    runSync(["ip", "link", "del", outside]);
    runSync(["ip", "netns", "del", `vxt-${pid}-${n}`]);
    if (addr) runSync(["ip", "route", "del", "unreachable", `${addr.replace(/\d+$/, (last) => String(Number(last) & ~7))}/29`]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only, nothing is sent
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
