// Real OpenSSH servers on network-namespace test hosts, to run SSH clients against.
//
//   if (!sshdTestsCanRun()) …skip…                   // root, netns, sshd, ssh-keygen, openssl
//   const sshd = await startSshd();                  // own host, host keys, config, user
//   sshd.authorize((await generateKeyPair("ed25519")).publicKey);
//   … connect to sshd.ip:sshd.port as sshd.user (or with sshd.password) …
//   afterAll(stopAllSshds);                          // before destroyAllTestHosts
//
// The login user `vxtest` exists only for that sshd: sshd runs in a private mount namespace
// (`unshare -m`) where temp copies of /etc/passwd, /etc/shadow and /etc/group that add it are
// bind-mounted over the real ones, so the machine's user database is never touched. /run/sshd
// (privilege separation) is made there too when the machine has none. Everything else lives in
// one temp dir per server: config, host keys, authorized_keys, the user's home, sshd's log.
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, appendFileSync, chmodSync, chownSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostKeyFromWire, type HostKey } from "../../src/jobs/ssh-keys.ts";
import { createTestHost, type TestHost } from "./netns.ts";
import { needs } from "./requirements.ts";

export type KeyType = "ed25519" | "ecdsa" | "rsa";

export interface SshdOptions {
  /** Serve on this test host (it stays when the server stops); default: a new one. */
  host?: TestHost;
  port?: number;
  /** Host key types the server offers; default ed25519 and ecdsa (RSA keys are slow to make). */
  hostKeyTypes?: KeyType[];
}

export interface TestSshd {
  host: TestHost;
  ip: string;
  port: number;
  /** The login user (exists only inside this server's mount namespace). */
  user: string;
  password: string;
  /** The user's home directory, as seen from outside too (it is in the temp dir). */
  home: string;
  /** The host keys the server offers now, as an SSH client sees them. */
  hostKeys: HostKey[];
  /** Add a line (`ssh-ed25519 AAAA… comment`) to the user's authorized keys. */
  authorize(publicKeyLine: string): void;
  /** New host keys and a restarted server: clients that knew the old ones must notice. */
  rotateHostKey(): Promise<HostKey[]>;
  /** PIDs of the test user's processes still alive (scripts, their children). */
  userProcesses(): number[];
  /** What sshd wrote to stderr so far (for failing tests' messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface KeyPair {
  privateKey: string;
  /** One authorized_keys line. */
  publicKey: string;
  /** "SHA256:…" as ssh-keygen -l prints it. */
  fingerprint: string;
}

export const SSHD = "/usr/sbin/sshd";
const USER = "vxtest";
const INSTALL_HINT = "apt-get install openssh-server openssh-client openssl util-linux";
const running = new Set<TestSshd>();

/** Whether real-sshd tests can run here; warns (or fails under VXMAN_TEST_STRICT) when not. */
export function sshdTestsCanRun(): boolean {
  return (
    needs("root", "netns", "sshd", "openssl", "setpriv")
  );
}

/** Start an OpenSSH server on a test host; resolves once it listens. */
export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "vxman-sshd-"));
  const prepared = prepare(dir, opts.hostKeyTypes ?? ["ed25519", "ecdsa"]);
  prepared.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  let host = opts.host;
  const release = async () => {
    rmSync(dir, { recursive: true, force: true });
    if (host && !opts.host) await host.destroy();
  };
  try {
    host ??= await createHostsOneByOne();
    return await launch(host, await prepared, opts.port ?? 22, release);
  } catch (err) {
    await release();
    throw err;
  }
}

let hostQueue: Promise<unknown> = Promise.resolve();

/**
 * createTestHost picks a free address block by looking at what is in use: two calls in flight
 * at once could pick the same one, so this process makes its hosts one after the other.
 */
function createHostsOneByOne(): Promise<TestHost> {
  const next = hostQueue.then(createTestHost);
  hostQueue = next.catch(() => {});
  return next;
}

/** Start `count` servers, a few at a time (ssh-keygen and ip are CPU-bound; the machine is shared). */
export async function startSshds(count: number, opts: Omit<SshdOptions, "host"> = {}, parallel = 4): Promise<TestSshd[]> {
  const started: TestSshd[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, () => startSshd(opts));
    started.push(...(await Promise.all(batch)));
  }
  return started;
}

/** OpenSSH listens on at most this many addresses per server. */
const MAX_LISTEN_ADDRESSES = 16;

export interface LoopbackSshds {
  /** Every address some server listens on (port 22). */
  addresses: string[];
  user: string;
  authorize(publicKeyLine: string): void;
  stop(): Promise<void>;
}

/**
 * Servers on loopback addresses (127.x.y.z, port 22), up to 16 addresses each: many SSH "hosts"
 * for benchmarks, lighter than a namespace each. Same user and login rules as startSshd.
 */
export async function startLoopbackSshds(addresses: string[]): Promise<LoopbackSshds> {
  const servers: { pid: number; dir: string; layout: Layout }[] = [];
  const stop = async () => {
    await killAndWait(servers.map((s) => s.pid));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < addresses.length; i += MAX_LISTEN_ADDRESSES) {
      const mine = addresses.slice(i, i + MAX_LISTEN_ADDRESSES);
      const dir = mkdtempSync(join(tmpdir(), "vxman-sshd-"));
      const { layout } = await prepare(dir, ["ed25519"]);
      writeConfig(layout, mine, 22, ["ed25519"]);
      servers.push({ dir, layout, pid: await spawnSshd(null, layout, 22, mine.at(-1)) });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { addresses, user: USER, authorize: (line) => servers.forEach((s) => appendFileSync(s.layout.authorizedKeys, `${line.trim()}\n`)), stop };
}

/** Stop every server this process started (for afterAll; run it before destroyAllTestHosts). */
export async function stopAllSshds(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** A fresh key pair made by ssh-keygen (OpenSSH format, or PEM for RSA/ECDSA when asked). */
export async function generateKeyPair(type: KeyType, opts: { passphrase?: string; format?: "openssh" | "pem" } = {}): Promise<KeyPair> {
  const dir = mkdtempSync(join(tmpdir(), "vxman-key-"));
  try {
    const file = join(dir, "id");
    const format = opts.format === "pem" ? ["-m", "PEM"] : [];
    await run(["ssh-keygen", "-q", "-t", type, ...keySize(type), ...format, "-N", opts.passphrase ?? "", "-C", `vxman-test-${type}`, "-f", file]);
    const publicKey = readFileSync(`${file}.pub`, "utf8").trim();
    return { privateKey: readFileSync(file, "utf8"), publicKey, fingerprint: hostKeyFromPublicLine(publicKey).fingerprint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function keySize(type: KeyType): string[] {
  return type === "rsa" ? ["-b", "2048"] : type === "ecdsa" ? ["-b", "256"] : [];
}

function hostKeyFromPublicLine(line: string): HostKey {
  return hostKeyFromWire(Buffer.from(line.split(/\s+/)[1] ?? "", "base64"));
}

// ---------------------------------------------------------------------------------------------

interface Layout {
  dir: string;
  home: string;
  config: string;
  authorizedKeys: string;
  logFile: string;
}

interface Prepared {
  layout: Layout;
  uid: number;
  password: string;
  keyTypes: KeyType[];
  hostKeys: HostKey[];
}

/** Everything a server needs that does not depend on its address: made while the host is. */
async function prepare(dir: string, keyTypes: KeyType[]): Promise<Prepared> {
  const layout = prepareDir(dir);
  const uid = freeUid();
  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  const [hostKeys] = await Promise.all([makeHostKeys(dir, keyTypes), writeUserDatabase(dir, uid, layout.home, password)]);
  return { layout, uid, password, keyTypes, hostKeys };
}

async function launch(host: TestHost, prepared: Prepared, port: number, release: () => Promise<void>): Promise<TestSshd> {
  const { layout, uid, password, keyTypes } = prepared;
  let hostKeys = prepared.hostKeys;
  writeConfig(layout, host.ip, port, keyTypes);
  let pid = await spawnSshd(host, layout, port);
  const server: TestSshd = {
    host,
    ip: host.ip,
    port,
    user: USER,
    password,
    home: layout.home,
    get hostKeys() {
      return hostKeys;
    },
    authorize: (line) => appendFileSync(layout.authorizedKeys, `${line.trim()}\n`),
    async rotateHostKey() {
      await killAndWait([pid]);
      hostKeys = await makeHostKeys(layout.dir, keyTypes);
      pid = await spawnSshd(host, layout, port);
      return hostKeys;
    },
    userProcesses: () => processesOf(host, uid),
    log: () => readFileSync(layout.logFile, "utf8"),
    async stop() {
      running.delete(server);
      // The listener first, then what it left: per-connection sshd processes and user sessions.
      const children = descendantsOf(pid, host);
      await killAndWait([pid]);
      await killAndWait([...children, ...processesOf(host, uid)]);
      await release();
    },
  };
  running.add(server);
  return server;
}

function prepareDir(dir: string): Layout {
  // The test user must reach its home and authorized_keys (sshd reads them as the user).
  chmodSync(dir, 0o755);
  const layout = {
    dir,
    home: join(dir, "home"),
    config: join(dir, "sshd_config"),
    authorizedKeys: join(dir, "authorized_keys"),
    logFile: join(dir, "sshd.log"),
  };
  mkdirSync(join(dir, "etc"));
  mkdirSync(layout.home);
  writeFileSync(layout.authorizedKeys, "", { mode: 0o644 });
  return layout;
}

/** A uid no real account uses, so the test user's files and processes are unmistakable. */
function freeUid(): number {
  const used = new Set(readFileSync("/etc/passwd", "utf8").split("\n").map((l) => Number(l.split(":")[2])));
  let uid = 61_000 + (process.pid % 1000);
  while (used.has(uid)) uid++;
  return uid;
}

/**
 * The user database sshd sees: root, its privilege-separation user and the test user. Only the
 * lines it needs, so none of the machine's password hashes is copied into the temp dir.
 */
async function writeUserDatabase(dir: string, uid: number, home: string, password: string): Promise<void> {
  const hash = (await run(["openssl", "passwd", "-6", "-stdin"], password)).trim();
  const today = Math.floor(Date.now() / 86_400_000); // a current "last changed" day: no forced change
  const linesOf = (file: string, names: string[]) =>
    readFileSync(file, "utf8").split("\n").filter((line) => names.includes(line.split(":")[0]!)).map((line) => `${line}\n`).join("");
  const etc = join(dir, "etc");
  writeFileSync(join(etc, "passwd"), `${linesOf("/etc/passwd", ["root", "sshd", "nobody"])}${USER}:x:${uid}:${uid}:vxman test:${home}:/bin/sh\n`);
  writeFileSync(join(etc, "group"), `${linesOf("/etc/group", ["root", "nogroup"])}${USER}:x:${uid}:\n`);
  writeFileSync(join(etc, "shadow"), `root:*:${today}:0:99999:7:::\n${USER}:${hash}:${today}:0:99999:7:::\n`, { mode: 0o600 });
  chownSync(home, uid, uid);
}

async function makeHostKeys(dir: string, types: KeyType[]): Promise<HostKey[]> {
  return Promise.all(
    types.map(async (type) => {
      const file = join(dir, `ssh_host_${type}_key`);
      rmSync(file, { force: true });
      rmSync(`${file}.pub`, { force: true });
      await run(["ssh-keygen", "-q", "-t", type, ...keySize(type), "-N", "", "-f", file]);
      return hostKeyFromPublicLine(readFileSync(`${file}.pub`, "utf8"));
    }),
  );
}

function writeConfig(layout: Layout, ip: string | string[], port: number, keyTypes: KeyType[]): void {
  const lines = [
    ...[ip].flat().map((a) => `ListenAddress ${a}:${port}`),
    ...keyTypes.map((t) => `HostKey ${join(layout.dir, `ssh_host_${t}_key`)}`),
    `PidFile ${join(layout.dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${layout.authorizedKeys}`,
    `AllowUsers ${USER}`,
    "UsePAM no",
    "PasswordAuthentication yes",
    "PubkeyAuthentication yes",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    "StrictModes no", // the temp dir is root's, not the user's
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "MaxAuthTries 20",
    "MaxSessions 100",
    "MaxStartups 200", // many clients in parallel tests: never drop a connection early
    "LoginGraceTime 30",
    "LogLevel VERBOSE",
  ];
  writeFileSync(layout.config, `${lines.join("\n")}\n`);
}

// Runs as root in the namespace, in a private mount namespace: "$1" is the temp dir.
const LAUNCH_SCRIPT = `set -e
mount --bind "$1/etc/passwd" /etc/passwd
mount --bind "$1/etc/shadow" /etc/shadow
mount --bind "$1/etc/group" /etc/group
if [ ! -d /run/sshd ]; then
  mount -t tmpfs -o mode=0755,size=1m vxman-sshd /run
  mkdir -m 0755 /run/sshd
fi
exec ${SSHD} -D -e -f "$1/sshd_config"
`;

/** Start sshd (in the host's namespace; without one, on loopback) and wait for its "Server
 *  listening" line on `lastIp`; returns sshd's PID (every step execs). */
async function spawnSshd(host: TestHost | null, layout: Layout, port: number, lastIp = host!.ip): Promise<number> {
  const logFd = openSync(layout.logFile, "a");
  const logStart = fstatSync(logFd).size; // a restart appends: only lines from now on count
  const inHost = host ? ["ip", "netns", "exec", host.name] : [];
  const cmd = [...inHost, "unshare", "-m", "--propagation", "private", "sh", "-c", LAUNCH_SCRIPT, "vxman-sshd", layout.dir];
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: logFd, stderr: logFd });
  closeSync(logFd);
  const listening = `Server listening on ${lastIp} port ${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (readFileSync(layout.logFile).subarray(logStart).toString().includes(listening)) return proc.pid;
    if (proc.exitCode !== null) break;
    await Bun.sleep(10);
  }
  proc.kill("SIGKILL");
  throw new Error(`sshd on ${lastIp}:${port} did not start:\n${readFileSync(layout.logFile, "utf8")}`);
}

function namespacePids(host: TestHost): number[] {
  const out = Bun.spawnSync(["ip", "netns", "pids", host.name]).stdout.toString();
  return out.split(/\s+/).filter(Boolean).map(Number);
}

function processesOf(host: TestHost, uid: number): number[] {
  return namespacePids(host).filter((pid) => procStatus(pid)?.uid === uid);
}

/** Processes of the namespace descending from `root` (sshd's per-connection children). */
function descendantsOf(root: number, host: TestHost): number[] {
  const parents = new Map(namespacePids(host).map((pid) => [pid, procStatus(pid)?.ppid]));
  const isBelow = (pid: number): boolean => {
    for (let p = parents.get(pid), depth = 0; p !== undefined && depth < 64; p = parents.get(p), depth++) {
      if (p === root) return true;
    }
    return false;
  };
  return [...parents.keys()].filter(isBelow);
}

function procStatus(pid: number): { uid: number; ppid: number; zombie: boolean } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, "m").exec(status)?.[1] ?? "";
    return { uid: Number(field("Uid")), ppid: Number(field("PPid")), zombie: field("State") === "Z" };
  } catch {
    return null; // gone
  }
}

export function isProcessAlive(pid: number): boolean {
  const status = procStatus(pid);
  return status !== null && !status.zombie;
}

/** TERM, then KILL whatever is left after 3 s; bounded either way. */
async function killAndWait(pids: number[]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => pids.filter(isProcessAlive).forEach((pid) => tryKill(pid, sig));
  signal("SIGTERM");
  for (let i = 0; i < 150 && pids.some(isProcessAlive); i++) {
    if (i === 100) signal("SIGKILL");
    await Bun.sleep(30);
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function run(cmd: string[], stdin?: string): Promise<string> {
  const proc = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd[0]} failed (${code}): ${err.trim()}`);
  return out;
}
