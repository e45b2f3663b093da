// What tests need beyond Bun and the npm packages, in ONE table: each test asks for exactly what
// it uses (`test.skipIf(!needs("root", "curl"))`), so a missing tool skips only the tests that
// use it, and says so loudly, naming the test's needs and how to get them. With
// VXMAN_TEST_STRICT=1 (set by .ci/run) a missing requirement fails instead: in CI nothing skips.
// The README's test section lists this table (test/docs.test.ts checks it stays complete).
import { existsSync } from "node:fs";

export const STRICT = process.env.VXMAN_TEST_STRICT === "1";

export const isRoot = process.getuid?.() === 0;

export function which(cmd: string): string | null {
  return Bun.which(cmd, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
}

const command = (cmd: string) => () => which(cmd) !== null;

/** Every requirement: how to tell it is here, and how to get it (Debian). */
export const REQUIREMENTS = {
  root: { here: () => isRoot, get: "run the tests as root (network namespaces, raw ICMP sockets, setpriv)" },
  netns: { here: () => isRoot && which("ip") !== null, get: "run as root with iproute2 installed (apt-get install iproute2)" },
  chromium: {
    here: () => existsSync(process.env.VXMAN_CHROMIUM ?? "/usr/bin/chromium"),
    get: "apt-get install chromium (or set VXMAN_CHROMIUM to a Chromium binary)",
  },
  fping: { here: command("fping"), get: "apt-get install fping" },
  curl: { here: command("curl"), get: "apt-get install curl" },
  wget: { here: command("wget"), get: "apt-get install wget (GNU wget)" },
  busybox: { here: command("busybox"), get: "apt-get install busybox" },
  dash: { here: command("dash"), get: "apt-get install dash" },
  setpriv: { here: () => which("setpriv") !== null && which("unshare") !== null, get: "apt-get install util-linux (setpriv, unshare)" },
  "systemd-analyze": { here: command("systemd-analyze"), get: "apt-get install systemd" },
  git: { here: command("git"), get: "apt-get install git" },
  promtool: { here: command("promtool"), get: "apt-get install prometheus (it has promtool)" },
  openssl: { here: command("openssl"), get: "apt-get install openssl" },
  iptables: { here: command("iptables"), get: "apt-get install iptables" },
  pgbouncer: { here: () => existsSync("/usr/sbin/pgbouncer"), get: "apt-get install pgbouncer" },
  node: { here: command("node"), get: "install Node.js (the SMTP test server runs under Node)" },
  sshd: {
    here: () => existsSync("/usr/sbin/sshd") && which("ssh-keygen") !== null,
    get: "apt-get install openssh-server openssh-client",
  },
} satisfies Record<string, { here: () => boolean; get: string }>;

export type Requirement = keyof typeof REQUIREMENTS;

const announced = new Set<string>();

/** True when everything named is here. Otherwise warns once per requirement (or throws under
 *  VXMAN_TEST_STRICT) and returns false: the caller skips. */
export function needs(...names: Requirement[]): boolean {
  const missing = names.filter((n) => !REQUIREMENTS[n].here());
  if (missing.length === 0) return true;
  const how = missing.map((n) => `${n}: ${REQUIREMENTS[n].get}`).join("; ");
  if (STRICT) throw new Error(`test requirement missing (${how})`);
  for (const n of missing) {
    if (announced.has(n)) continue;
    announced.add(n);
    console.warn(`\n!!! SKIPPING tests that need ${n}: ${REQUIREMENTS[n].get} !!!\n`);
  }
  return false;
}

/** The older form, for one-off conditions: true when available, else warns (or throws) like needs(). */
export function requirement(name: string, available: boolean, howToGet: string): boolean {
  if (available) return true;
  if (STRICT) throw new Error(`test requirement missing: ${name}. ${howToGet}`);
  if (!announced.has(name)) {
    announced.add(name);
    console.warn(`\n!!! SKIPPING tests that need ${name}: ${howToGet} !!!\n`);
  }
  return false;
}
