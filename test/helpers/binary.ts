// The compiled binary under test: built once per test run with `npm run build`'s script, then
// copied to an empty temp dir by the tests that need "no node_modules, no sources beside it".
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./postgres.ts";

const ROOT = join(import.meta.dir, "../..");
let built: string | undefined;

export function buildBinary(): string {
  if (built) return built;
  const r = spawnSync(process.execPath, ["scripts/build.ts"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stderr}\n${r.stdout}`);
  built = join(ROOT, "dist/vxman");
  return built;
}

/** A fresh temp dir holding only a copy of the binary. */
export function isolatedBinary(binary = buildBinary()): { dir: string; bin: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "vxman-bin-"));
  const bin = join(dir, "vxman");
  copyFileSync(binary, bin);
  spawnSync("chmod", ["755", dir, bin]);
  return { dir, bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningProcess {
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/** Start a command; collects stdout+stderr. Only this process (by its PID) is ever signalled. */
export function startProcess(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): RunningProcess {
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: opts.cwd, env: { PATH: process.env.PATH ?? "", ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null))));
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Poll `url` until it answers (any status) or the deadline passes. Bounded: at most `ms`. */
export async function waitForHttp(url: string, ms = 20_000, proc?: RunningProcess): Promise<Response> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(1000) });
    } catch (err) {
      last = err;
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not answer within ${ms} ms (${last})${proc ? `\n--- output ---\n${proc.output()}` : ""}`);
}

export interface ServedBinary {
  base: string;
  /** The folder it runs in (its DATA_DIR by default). */
  dir: string;
  /** The running process's id, for /proc readings. */
  pid(): number;
  /** Everything every run so far has printed. */
  output(): string;
  /** SIGTERM, wait for the exit, start again on the same port and data: what a deploy does.
   *  Resolves with the stopped run's exit code. */
  restart(): Promise<number | null>;
  /** SIGTERM and wait for the exit, keeping the folder (start() again later). */
  halt(): Promise<number | null>;
  /** kill -9 and wait for the exit, keeping the folder: a crash. */
  crash(): Promise<void>;
  /** Start again on the same port and data (after halt()). */
  start(): Promise<void>;
  /** Run another command of the same binary in its folder, with the same environment. */
  run(args: string[], env?: Record<string, string>): { code: number; stdout: string; stderr: string };
  /** SIGTERM (SIGKILL after 10 s), then remove the folder. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface ServeOptions {
  /** Run it inside a test host's namespace (`ip netns exec NAME`), listening on that host's address. */
  inside?: { name: string; ip: string };
  /** How long it may take to serve (a bench's 100,000 machines take longer than 30 s on a busy machine). */
  startTimeoutMs?: number;
  /** Another build than this tree's (a bench comparing an older commit's side by side). */
  binary?: string;
}

/**
 * The compiled binary, alone in an empty temp dir (embedded PGlite there), listening on a free
 * loopback port (or on a test host's address, inside its namespace). Only the process started
 * here is ever signalled (by its PID); stop() also removes the dir.
 */
export async function serveBinary(env: Record<string, string> = {}, { inside, startTimeoutMs = 30_000, binary }: ServeOptions = {}): Promise<ServedBinary> {
  const { dir, bin, cleanup } = isolatedBinary(binary);
  const port = await freePort();
  const address = inside?.ip ?? "127.0.0.1";
  const base = `http://${address}:${port}`;
  const command = inside ? ["ip", "netns", "exec", inside.name, bin, "serve"] : [bin, "serve"];
  let proc: RunningProcess | undefined;
  let log = "";
  const start = async () => {
    proc = startProcess(command, { cwd: dir, env: { PORT: String(port), HOST: address, LOG_FORMAT: "json", ...env } });
    await waitForHttp(`${base}/health`, startTimeoutMs, proc);
  };
  const halt = async (): Promise<number | null> => {
    if (!proc) return null;
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited, Bun.sleep(10_000).then(() => "timeout" as const)]);
    if (exited === "timeout") proc.kill("SIGKILL");
    const code = await proc.exited;
    log += proc.output();
    proc = undefined;
    return code;
  };
  const stop = async () => {
    const code = await halt();
    cleanup();
    return code;
  };
  try {
    await start();
  } catch (err) {
    await stop();
    throw err;
  }
  const baseEnv = { PORT: String(port), HOST: address, LOG_FORMAT: "json", ...env };
  return {
    base,
    dir,
    pid: () => proc!.pid,
    output: () => log + (proc?.output() ?? ""),
    async restart() {
      const code = await halt();
      await start();
      return code;
    },
    halt,
    async crash() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      log += proc.output();
      proc = undefined;
    },
    start,
    run(args, more = {}) {
      const r = Bun.spawnSync([bin, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...baseEnv, ...more }, timeout: 60_000 });
      return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    stop,
  };
}
