// Run one script on one host over SSH (ssh2's pure-JavaScript client) and say how it ended, in
// the terms an operator acts on: unreachable, auth_failed, host_key_changed, failed…
//
// Lifecycle: connect (bounded by connectTimeoutMs) → check the host key before authenticating
// → exec `/bin/sh -s` and feed it the script (ssh-script.ts) → stream output through a cap →
// the exit status. A timeout or cancel sends TERM over the channel, KILL after a grace, then
// closes: OpenSSH delivers a channel signal to the session's whole process group (the session
// child is a group leader), so the script's children die with it. Processes that leave the group
// on purpose (setsid, daemons) are out of reach, as with any SSH client.
import type { ClientChannel, PasswordAuthMethod, PublicKeyAuthMethod } from "ssh2";
import { hostKeyFromWire, isSameHostKey, parsePrivateKeyReusing, preferHostKeyAlgorithmsOf, PrivateKeyError, ssh2, type HostKey } from "./ssh-keys.ts";
import { OutputCap, REMOTE_COMMAND, scriptInput, type OutputSink, type OutputStream } from "./ssh-script.ts";

export type { HostKey } from "./ssh-keys.ts";
export { describePrivateKey, PrivateKeyError } from "./ssh-keys.ts";
export { truncationMark } from "./ssh-script.ts";

export type SshAuth = { kind: "ssh-key"; privateKey: string; passphrase?: string } | { kind: "password"; password: string };

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  auth: SshAuth;
  /** null: trust on first use (the key seen is returned in the result). */
  knownHostKey: HostKey | null;
  /** Bounds TCP connect, handshake and authentication together. */
  connectTimeoutMs: number;
}

export type HostOutcome = "succeeded" | "failed" | "timed_out" | "cancelled" | "unreachable" | "auth_failed" | "host_key_changed" | "error";

export interface HostResult {
  outcome: HostOutcome;
  exitCode: number | null;
  /** The signal that ended the script ("TERM", "KILL"…), as the server reported it. */
  signal: string | null;
  /** The key the server presented; null if it never got that far. */
  hostKey: HostKey | null;
  /** Short, for people; never contains a secret. */
  message: string;
  startedAt: number;
  endedAt: number;
  truncated: boolean;
  /** Bytes the script wrote to stdout and stderr, counting those dropped past the cap. */
  outputBytes: number;
}

export interface RunOptions {
  /** Names must match ^[A-Z_][A-Z0-9_]*$; values arrive verbatim (quoted, never expanded). */
  env?: Record<string, string>;
  /** Bounds the script's run, from the moment it starts (connecting has connectTimeoutMs). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Output kept at most (stdout and stderr together); past it, one truncation mark. */
  maxOutputBytes: number;
  /** Output as it arrives. A promise returned pauses the channel until it settles: the remote
   *  script then waits to write, as with a slow terminal (SSH flow control), instead of vxman
   *  buffering without bound. */
  onOutput: OutputSink;
  onConnected?: () => void;
  /** Between TERM and KILL when stopping a run; and between KILL and giving up on the channel. */
  killGraceMs?: number;
}

const DEFAULT_KILL_GRACE_MS = 2000;
/** After the exit status, how long output may still arrive (a background child can hold it open). */
const EXIT_DRAIN_MS = 2000;
const KEEPALIVE_MS = 15_000;
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
};

/** Run `script` on the target. Never rejects for anything the remote side does: see `outcome`. */
export async function runScript(target: SshTarget, script: string, opts: RunOptions): Promise<HostResult> {
  const input = scriptInput(script, opts.env); // a bad env name is the caller's bug: throws
  return new ScriptRun(target, input, opts).result;
}

type AuthMethod = PasswordAuthMethod | PublicKeyAuthMethod;
type Ending = { outcome: HostOutcome; message: string };

class ScriptRun {
  readonly result: Promise<HostResult>;
  private resolve!: (r: HostResult) => void;
  private readonly conn = new (ssh2().Client)();
  private readonly output: OutputCap;
  private readonly startedAt = Date.now();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private hostKey: HostKey | null = null;
  private refusedHostKey = false;
  private execRequested = false;
  private channel: ClientChannel | null = null;
  private exit: { code: number | null; signal: string | null } | null = null;
  private stopping: Ending | null = null;
  private settled = false;
  /** The sink asked to wait: both streams are paused. */
  private holding = false;

  constructor(
    private readonly target: SshTarget,
    private readonly input: string,
    private readonly opts: RunOptions,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
    this.output = new OutputCap(opts.maxOutputBytes, opts.onOutput);
    if (opts.signal?.aborted) {
      this.finish({ outcome: "cancelled", message: "cancelled before connecting" });
      return;
    }
    opts.signal?.addEventListener("abort", this.onAbort);
    this.connect();
  }

  private connect(): void {
    let auth: AuthMethod;
    try {
      auth = authMethod(this.target.auth, this.target.username);
    } catch (err) {
      if (err instanceof PrivateKeyError) return this.finish({ outcome: "auth_failed", message: err.message });
      throw err;
    }
    // ssh2 reports failures as "error" events, also after we have settled: keep one listener.
    this.conn.on("error", (err) => this.onConnectionError(err));
    this.conn.on("ready", () => this.startScript());
    this.conn.on("close", () => this.finish(this.endingOnDisconnect()));
    const known = this.target.knownHostKey;
    try {
      this.conn.connect({
        host: this.target.host,
        port: this.target.port,
        username: this.target.username,
        authHandler: [auth], // only what was given: no "none" probe, no agent, no keyboard
        readyTimeout: this.target.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_MS,
        hostVerifier: (key: Buffer) => this.verifyHostKey(key),
        ...(known ? { algorithms: { serverHostKey: preferHostKeyAlgorithmsOf(known) } } : {}),
      });
    } catch (err) {
      // Settings ssh2 or the socket refuse outright (a port out of range, an unknown key type).
      this.finish({ outcome: "error", message: `cannot connect to ${this.target.host}:${this.target.port}: ${(err as Error).message}` });
    }
  }

  /** Called during key exchange, before any credential is sent. */
  private verifyHostKey(wire: Buffer): boolean {
    this.hostKey = hostKeyFromWire(wire);
    const known = this.target.knownHostKey;
    if (!known || isSameHostKey(known, this.hostKey)) return true;
    this.refusedHostKey = true;
    return false;
  }

  private startScript(): void {
    if (this.settled) return;
    this.opts.onConnected?.();
    this.execRequested = true;
    // From here on the run's own timeout bounds everything, opening the channel included.
    this.after(this.opts.timeoutMs, () => this.stop({ outcome: "timed_out", message: `timed out after ${formatMs(this.opts.timeoutMs)}` }));
    this.conn.exec(REMOTE_COMMAND, (err, channel) => {
      if (err) return this.finish({ outcome: "error", message: `the server would not start the script: ${err.message}` });
      this.channel = channel;
      channel.on("data", (chunk: Buffer) => this.onOutput("stdout", chunk));
      channel.stderr.on("data", (chunk: Buffer) => this.onOutput("stderr", chunk));
      channel.on("exit", (code: number | null, signal?: string) => this.onExit(code, signal));
      channel.on("close", () => this.finish(this.stopping ?? this.endingFromExit()));
      // Stopped while the exec was on its way: the script never starts.
      if (this.stopping || this.settled) return void channel.close();
      // Not ended on purpose: see scriptInput.
      channel.write(this.input);
    });
  }

  private onOutput(stream: OutputStream, chunk: Buffer): void {
    if (this.settled) return;
    const wait = this.output.push(stream, chunk);
    if (wait) this.holdOutputUntil(wait);
  }

  /**
   * Pauses both streams until `wait` settles: ssh2 then stops widening the channel's window and
   * the remote side waits. (No data events come while paused, so one hold at a time is enough.)
   */
  private holdOutputUntil(wait: Promise<void>): void {
    const channel = this.channel;
    if (!channel || this.holding) return;
    this.holding = true;
    channel.pause();
    channel.stderr.pause();
    const release = () => {
      this.holding = false;
      if (this.settled) return;
      channel.resume();
      channel.stderr.resume();
    };
    wait.then(release, release);
  }

  private onExit(code: number | null, signal: string | undefined): void {
    this.exit = { code: code ?? null, signal: signal ?? null };
    this.finishAfterDrain();
  }

  /** Output held back (paused) is still to come: the drain's clock starts once it flows again. */
  private finishAfterDrain(): void {
    this.after(EXIT_DRAIN_MS, () => (this.holding ? this.finishAfterDrain() : this.finish(this.stopping ?? this.endingFromExit())));
  }

  private readonly onAbort = () => {
    const cancelled: Ending = { outcome: "cancelled", message: "cancelled" };
    if (this.execRequested) this.stop(cancelled);
    else this.finish(cancelled); // still connecting: nothing runs remotely yet
  };

  /** TERM the remote process group, KILL it after a grace, then give up on the channel. */
  private stop(ending: Ending): void {
    if (this.settled || this.stopping) return;
    this.stopping = ending;
    const grace = this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.channel?.signal("TERM");
    this.after(grace, () => {
      this.channel?.signal("KILL");
      this.after(grace, () => this.finish(ending));
    });
  }

  private onConnectionError(err: Error & { level?: string; code?: string }): void {
    if (this.settled) return;
    if (this.refusedHostKey) return this.finish(this.hostKeyChanged());
    if (this.stopping) return this.finish(this.stopping);
    if (this.channel) return this.finish({ outcome: "error", message: `connection lost during the run: ${err.message}` });
    this.finish(classifyConnectError(err, this.target));
  }

  private endingOnDisconnect(): Ending {
    if (this.refusedHostKey) return this.hostKeyChanged();
    if (this.stopping) return this.stopping;
    if (this.channel) return this.endingFromExit();
    return { outcome: "unreachable", message: "the server closed the connection before login" };
  }

  private endingFromExit(): Ending {
    const exit = this.exit;
    if (!exit) return { outcome: "error", message: "the connection closed before the script reported how it ended" };
    if (exit.code === 0) return { outcome: "succeeded", message: "exited with code 0" };
    if (exit.code !== null) return { outcome: "failed", message: `exited with code ${exit.code}` };
    return { outcome: "failed", message: `killed by signal ${exit.signal ?? "(unknown)"}` };
  }

  private hostKeyChanged(): Ending {
    const known = this.target.knownHostKey!;
    const seen = this.hostKey!;
    return {
      outcome: "host_key_changed",
      message: `host key changed: expected ${known.algorithm} ${known.fingerprint}, the server presented ${seen.algorithm} ${seen.fingerprint}; not logged in`,
    };
  }

  private finish(ending: Ending): void {
    if (this.settled) return;
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.opts.signal?.removeEventListener("abort", this.onAbort);
    this.conn.end();
    this.resolve({
      ...ending,
      exitCode: this.exit?.code ?? null,
      signal: this.exit?.signal ?? null,
      hostKey: this.hostKey,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      truncated: this.output.truncated,
      outputBytes: this.output.seen,
    });
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}

/** One authentication method, parsed up front so a bad key or passphrase is reported as such. */
function authMethod(auth: SshAuth, username: string): AuthMethod {
  if (auth.kind === "password") return { type: "password", username, password: auth.password };
  return { type: "publickey", username, key: parsePrivateKeyReusing(auth.privateKey, auth.passphrase) };
}

function classifyConnectError(err: Error & { level?: string; code?: string }, target: SshTarget): Ending {
  const where = `${target.host}:${target.port}`;
  if (err.level === "client-authentication") {
    const what = target.auth.kind === "password" ? "password" : "key";
    return { outcome: "auth_failed", message: `${where} refused the ${what} for user ${target.username}` };
  }
  if (err.level === "client-timeout") {
    return { outcome: "unreachable", message: `${where}: no SSH login within ${formatMs(target.connectTimeoutMs)}` };
  }
  const network = err.code ? NETWORK_ERRORS[err.code] : undefined;
  if (network || err.level === "client-socket" || err.level === "client-dns") {
    return { outcome: "unreachable", message: `${where}: ${network ?? err.message}` };
  }
  return { outcome: "error", message: `${where}: SSH handshake failed: ${err.message}` };
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
