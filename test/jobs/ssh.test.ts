// runScript against real OpenSSH servers in network namespaces (test/helpers/sshd.ts): every
// outcome an operator can see, and proof that stopped scripts are really gone on the host.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describePrivateKey, runScript, type HostKey, type HostResult, type RunOptions, type SshAuth } from "../../src/jobs/ssh.ts";
import { parsePrivateKeyReusing } from "../../src/jobs/ssh-keys.ts";
import { OutputCap, scriptInput, shellQuote, truncationMark } from "../../src/jobs/ssh-script.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { generateKeyPair, isProcessAlive, sshdTestsCanRun, startSshd, startSshds, stopAllSshds, type KeyPair, type TestSshd } from "../helpers/sshd.ts";
import { waitFor } from "../helpers/wait.ts";

setDefaultTimeout(30_000);
const MiB = 1 << 20;
const decoder = new TextDecoder();

describe("the script as the remote shell reads it", () => {
  test("single quotes survive quoting", () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
  });

  test("env names are checked, NUL in a value is refused without echoing the value", () => {
    expect(() => scriptInput("true", { "A-B": "x" })).toThrow(/must match/);
    expect(() => scriptInput("true", { lower: "x" })).toThrow(/must match/);
    expect(() => scriptInput("true", { TOKEN: "se\0cret" })).toThrow(/TOKEN contains a NUL/);
    expect(() => scriptInput("true", { TOKEN: "se\0cret" })).not.toThrow(/secret/);
  });

  test("the output cap keeps exactly maxBytes and marks the cut once", () => {
    const seen: Uint8Array[] = [];
    const cap = new OutputCap(10, (_s, c) => void seen.push(c));
    for (const text of ["1234", "5678", "90ab", "cdef"]) cap.push("stdout", new TextEncoder().encode(text));
    expect(seen.map((c) => decoder.decode(c))).toEqual(["1234", "5678", "90", decoder.decode(truncationMark(10))]);
    expect(cap).toMatchObject({ seen: 16, truncated: true });
  });
});

describe.skipIf(!sshdTestsCanRun())("runScript against a real sshd", () => {
  let sshd: TestSshd;
  const keys: Record<string, KeyPair> = {};

  beforeAll(async () => {
    sshd = await startSshd();
    const made = await Promise.all([
      generateKeyPair("ed25519"),
      generateKeyPair("ecdsa"),
      generateKeyPair("rsa"),
      generateKeyPair("ecdsa", { format: "pem" }),
      generateKeyPair("rsa", { format: "pem" }),
      generateKeyPair("ed25519", { passphrase: "correct horse" }),
      generateKeyPair("rsa", { format: "pem", passphrase: "correct horse" }),
      generateKeyPair("ed25519"), // never authorized
    ]);
    const names = ["ed25519", "ecdsa", "rsa", "ecdsa-pem", "rsa-pem", "ed25519-passphrase", "rsa-pem-passphrase", "stranger"];
    names.forEach((name, i) => (keys[name] = made[i]!));
    for (const name of names.slice(0, -1)) sshd.authorize(keys[name]!.publicKey);
  });

  afterAll(async () => {
    await stopAllSshds();
    await destroyAllTestHosts();
  });

  const keyAuth = (name: string, passphrase?: string): SshAuth => ({ kind: "ssh-key", privateKey: keys[name]!.privateKey, passphrase });

  interface Run {
    result: HostResult;
    chunks: { stream: "stdout" | "stderr"; text: string }[];
    stdout: string;
    stderr: string;
    ms: number;
  }

  async function run(
    script: string,
    opts: Partial<RunOptions> & { auth?: SshAuth; knownHostKey?: HostKey | null; server?: { ip: string; port: number }; connectTimeoutMs?: number } = {},
  ): Promise<Run> {
    const chunks: Run["chunks"] = [];
    const server = opts.server ?? sshd;
    const started = performance.now();
    const result = await runScript(
      {
        host: server.ip,
        port: server.port,
        username: sshd.user,
        auth: opts.auth ?? keyAuth("ed25519"),
        knownHostKey: opts.knownHostKey ?? null,
        connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      },
      script,
      {
        timeoutMs: 10_000,
        maxOutputBytes: MiB,
        ...opts,
        onOutput: (stream, chunk) => {
          chunks.push({ stream, text: decoder.decode(chunk) });
          return opts.onOutput?.(stream, chunk);
        },
      },
    );
    const text = (stream: string) => chunks.filter((c) => c.stream === stream).map((c) => c.text).join("");
    return { result, chunks, stdout: text("stdout"), stderr: text("stderr"), ms: performance.now() - started };
  }

  /** Every process the script left (read from its pid file) and every process of the user is gone. */
  async function expectRemoteGone(pidFile: string): Promise<void> {
    const pids = readFileSync(join(sshd.home, pidFile), "utf8").split(/\s+/).filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    await waitFor("the script's processes to end", () => pids.every((pid) => !isProcessAlive(pid)), 3000);
    await waitFor("no process of the test user left", () => sshd.userProcesses().length === 0, 3000);
  }

  describe("authentication", () => {
    test("ed25519 key: the script runs, exit 0 is success, the host key seen is returned (trust on first use)", async () => {
      const { result, stdout } = await run("echo hello from $(id -un)");
      expect(result).toMatchObject({ outcome: "succeeded", exitCode: 0, signal: null, truncated: false });
      expect(stdout).toBe(`hello from ${sshd.user}\n`);
      expect(sshd.hostKeys).toContainEqual(result.hostKey!);
      expect(result.endedAt).toBeGreaterThanOrEqual(result.startedAt);
    });

    test.each(["ecdsa", "rsa", "ecdsa-pem", "rsa-pem"])("%s key", async (name) => {
      const { result, stdout } = await run("echo ok", { auth: keyAuth(name) });
      expect(result.outcome).toBe("succeeded");
      expect(stdout).toBe("ok\n");
    });

    test.each(["ed25519-passphrase", "rsa-pem-passphrase"])("%s: right passphrase logs in, wrong or missing one is auth_failed", async (name) => {
      expect((await run("true", { auth: keyAuth(name, "correct horse") })).result.outcome).toBe("succeeded");
      const wrong = (await run("true", { auth: keyAuth(name, "wrong battery") })).result;
      expect(wrong).toMatchObject({ outcome: "auth_failed", message: "the private key's passphrase is wrong" });
      const missing = (await run("true", { auth: keyAuth(name) })).result;
      expect(missing).toMatchObject({ outcome: "auth_failed", message: "the private key is encrypted: a passphrase is needed" });
    });

    test("password: right one logs in, a wrong one is auth_failed and not echoed", async () => {
      expect((await run("true", { auth: { kind: "password", password: sshd.password } })).result.outcome).toBe("succeeded");
      const { result } = await run("true", { auth: { kind: "password", password: "not-the-password" } });
      expect(result.outcome).toBe("auth_failed");
      expect(result.message).not.toContain("not-the-password");
      expect(result.hostKey).not.toBeNull();
    });

    test("a key the server does not know is auth_failed", async () => {
      const { result } = await run("true", { auth: keyAuth("stranger") });
      expect(result).toMatchObject({ outcome: "auth_failed", message: `${sshd.ip}:22 refused the key for user vxtest` });
    });

    test("a key that is not a private key is auth_failed without touching the network", async () => {
      const pub = await run("true", { auth: { kind: "ssh-key", privateKey: keys.ed25519!.publicKey } });
      expect(pub.result).toMatchObject({ outcome: "auth_failed", hostKey: null });
      expect(pub.result.message).toMatch(/public key/);
      const garbage = await run("true", { auth: { kind: "ssh-key", privateKey: "-----BEGIN NONSENSE-----\nAAAA\n" } });
      expect(garbage.result).toMatchObject({ outcome: "auth_failed", hostKey: null });
    });
  });

  describe("host keys", () => {
    test("a known host key of another type than the server prefers still matches", async () => {
      const ecdsa = sshd.hostKeys.find((k) => k.algorithm.startsWith("ecdsa"))!;
      const { result } = await run("true", { knownHostKey: ecdsa });
      expect(result).toMatchObject({ outcome: "succeeded", hostKey: ecdsa });
    });

    test("a changed host key is refused before authenticating, naming both fingerprints", async () => {
      const other = await startSshd({ hostKeyTypes: ["ed25519"] });
      const before = other.hostKeys[0]!;
      const after = (await other.rotateHostKey())[0]!;
      const logLines = () => other.log().split("\n").filter((l) => /Accepted|Failed|Postponed|Invalid user/.test(l)).length;
      const attemptsBefore = logLines();
      const { result } = await run("touch $HOME/should-not-exist", {
        server: other,
        knownHostKey: before,
        auth: { kind: "password", password: other.password },
      });
      expect(result).toMatchObject({ outcome: "host_key_changed", hostKey: after, exitCode: null });
      expect(result.message).toContain(before.fingerprint);
      expect(result.message).toContain(after.fingerprint);
      expect(logLines()).toBe(attemptsBefore);
      expect(existsSync(join(other.home, "should-not-exist"))).toBe(false);

      // A known key of a type this server does not have: it shows what it has, and is refused.
      const ecdsa = sshd.hostKeys.find((k) => k.algorithm.startsWith("ecdsa"))!;
      const otherType = (await run("true", { server: other, knownHostKey: ecdsa })).result;
      expect(otherType).toMatchObject({ outcome: "host_key_changed", hostKey: after });
      expect(otherType.message).toContain(`expected ${ecdsa.algorithm} ${ecdsa.fingerprint}, the server presented ssh-ed25519 ${after.fingerprint}`);
      await other.stop();
    });
  });

  describe("unreachable hosts", () => {
    let silent: TestHost;
    beforeAll(async () => {
      // The namespace gets the SYN but its answers vanish: a host that is down, seen from here.
      silent = await createTestHost();
      await silent.exec(["ip", "route", "add", "blackhole", `${silent.hostIp}/32`]);
    });

    test("a host that does not answer is unreachable once the connect timeout has passed", async () => {
      const { result, ms } = await run("true", { server: { ip: silent.ip, port: 22 }, connectTimeoutMs: 1500 });
      expect(result).toMatchObject({ outcome: "unreachable", hostKey: null });
      expect(result.message).toContain("no SSH login within 1500 ms");
      expect(ms).toBeGreaterThanOrEqual(1400);
      expect(ms).toBeLessThan(3000);
    });

    test("a refused port is unreachable at once", async () => {
      const { result, ms } = await run("true", { server: { ip: sshd.ip, port: 2222 } });
      expect(result).toMatchObject({ outcome: "unreachable", message: `${sshd.ip}:2222: connection refused` });
      expect(ms).toBeLessThan(1000);
    });

    test("an address with no route is unreachable at once", async () => {
      const { result, ms } = await run("true", { server: { ip: sshd.host.unroutedIp, port: 22 } });
      expect(result.outcome).toBe("unreachable");
      // The kernel says EHOSTUNREACH; Bun 1.4.4 reports it as ECONNREFUSED.
      expect(result.message).toMatch(/no route to host|network unreachable|connection refused/);
      expect(ms).toBeLessThan(1000);
    });
  });

  describe("stopping a script", () => {
    const LONG_SCRIPT = (pidFile: string) =>
      `echo $$ > "$HOME/${pidFile}"; sleep 30 & echo $! >> "$HOME/${pidFile}"; echo started; sleep 31; echo not reached`;

    test("past its timeout: TERM reaches the whole remote process group, outcome timed_out", async () => {
      const { result, stdout, ms } = await run(LONG_SCRIPT("timeout.pids"), { timeoutMs: 1000 });
      expect(result).toMatchObject({ outcome: "timed_out", message: "timed out after 1 s" });
      expect(stdout).toBe("started\n");
      expect(ms).toBeLessThan(4000);
      await expectRemoteGone("timeout.pids");
    });

    test("cancelled in the middle: outcome cancelled, nothing left running", async () => {
      const abort = new AbortController();
      const { result, stdout } = await run(LONG_SCRIPT("cancel.pids"), {
        signal: abort.signal,
        onOutput: (_s, chunk) => void (decoder.decode(chunk).includes("started") && abort.abort()),
      });
      expect(result).toMatchObject({ outcome: "cancelled", message: "cancelled" });
      expect(stdout).toBe("started\n");
      await expectRemoteGone("cancel.pids");
    });

    test("a script that ignores TERM is KILLed after the grace", async () => {
      const script = `trap '' TERM; echo $$ > "$HOME/stubborn.pids"; echo started; while :; do sleep 1; done`;
      const abort = new AbortController();
      const { result, ms } = await run(script, {
        signal: abort.signal,
        killGraceMs: 500,
        onOutput: () => abort.abort(),
      });
      expect(result.outcome).toBe("cancelled");
      expect(ms).toBeLessThan(2500);
      await expectRemoteGone("stubborn.pids");
    });

    test("cancelled before it starts: no connection at all", async () => {
      const abort = new AbortController();
      abort.abort();
      const { result, chunks } = await run("touch $HOME/never", { signal: abort.signal });
      expect(result).toMatchObject({ outcome: "cancelled", hostKey: null });
      expect(chunks).toEqual([]);
      expect(existsSync(join(sshd.home, "never"))).toBe(false);
    });
  });

  describe("output and exit", () => {
    test("5 MiB of output: exactly maxOutputBytes kept, one truncation mark, and the real exit code", async () => {
      const { result, chunks } = await run("head -c 5242880 /dev/zero | tr '\\0' x; echo done >&2; exit 5");
      const mark = decoder.decode(truncationMark(MiB));
      const marks = chunks.filter((c) => c.text === mark);
      const kept = chunks.filter((c) => c.text !== mark).reduce((n, c) => n + Buffer.byteLength(c.text), 0);
      expect(marks.length).toBe(1);
      expect(kept).toBe(MiB);
      expect(result).toMatchObject({ outcome: "failed", exitCode: 5, truncated: true, outputBytes: 5 * MiB + 5 });
    });

    test("a sink that asks to wait holds the remote script (SSH flow control); nothing is lost when it lets go", async () => {
      const flag = join(sshd.home, "wrote-everything");
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let first = true;
      const running = run(`head -c ${8 * MiB} /dev/zero | tr '\\0' y; touch "${flag}"`, {
        maxOutputBytes: 16 * MiB,
        onOutput: () => {
          if (!first) return;
          first = false;
          return held;
        },
      });
      await waitFor("the first output", () => !first, 10_000);
      await Bun.sleep(500);
      expect(existsSync(flag)).toBe(false); // 8 MiB do not fit in the channel's window and the pipes
      release();
      const { result, stdout } = await running;
      expect(result).toMatchObject({ outcome: "succeeded", truncated: false, outputBytes: 8 * MiB });
      expect(stdout.length).toBe(8 * MiB);
      expect(existsSync(flag)).toBe(true);
    });

    test("stdout and stderr keep the order they were written in", async () => {
      const script = "for i in 1 2 3 4 5; do echo out $i; sleep 0.05; echo err $i >&2; sleep 0.05; done";
      const { chunks } = await run(script);
      const expected = [1, 2, 3, 4, 5].flatMap((i) => [{ stream: "stdout" as const, text: `out ${i}\n` }, { stream: "stderr" as const, text: `err ${i}\n` }]);
      expect(chunks).toEqual(expected);
    });

    test("env values with quotes, spaces, newlines and $() arrive verbatim and are not executed", async () => {
      const env = {
        QUOTES: `it's "double" and 'single'`,
        SPACES: "  a  b  ",
        NEWLINES: "line 1\nline 2\n",
        SUBST: "$(touch $HOME/pwned) `touch $HOME/pwned2` $HOME ${HOME}",
        BACKSLASH: "\\n \\ \\'",
        EMPTY: "",
        UNICODE: "héllo ✓",
      };
      const script = `printf '%s\\0' ${Object.keys(env).map((name) => `"$${name}"`).join(" ")}`;
      const { result, stdout } = await run(script, { env });
      expect(result.outcome).toBe("succeeded");
      expect(stdout.split("\0").slice(0, -1)).toEqual(Object.values(env));
      expect(existsSync(join(sshd.home, "pwned"))).toBe(false);
      expect(existsSync(join(sshd.home, "pwned2"))).toBe(false);
    });

    test("a command that reads stdin gets EOF instead of the rest of the script", async () => {
      const { result, stdout } = await run("cat\necho after cat");
      expect(result.outcome).toBe("succeeded");
      expect(stdout).toBe("after cat\n");
    });

    test("exit 3 is failed with exitCode 3", async () => {
      const { result } = await run("echo bye; exit 3");
      expect(result).toMatchObject({ outcome: "failed", exitCode: 3, message: "exited with code 3" });
    });

    test("onConnected is called once logged in, before any output", async () => {
      const events: string[] = [];
      await run("echo x", { onConnected: () => void events.push("connected"), onOutput: () => void events.push("output") });
      expect(events).toEqual(["connected", "output"]);
    });
  });

  describe("describePrivateKey", () => {
    test.each(["ed25519", "ecdsa", "rsa", "ecdsa-pem", "rsa-pem"])("%s: the fingerprint ssh-keygen prints", (name) => {
      const described = describePrivateKey(keys[name]!.privateKey);
      expect(described.fingerprint).toBe(keys[name]!.fingerprint);
      expect(described.algorithm).toBe(keys[name]!.publicKey.split(" ")[0]!);
    });

    test("a passphrase-protected key: described with the passphrase, a clear error without it or with a wrong one", () => {
      const { privateKey, fingerprint } = keys["ed25519-passphrase"]!;
      expect(describePrivateKey(privateKey, "correct horse").fingerprint).toBe(fingerprint);
      expect(() => describePrivateKey(privateKey)).toThrow("the private key is encrypted: a passphrase is needed");
      expect(() => describePrivateKey(privateKey, "hunter2")).toThrow("the private key's passphrase is wrong");
    });

    test("a decrypted key is reused, not decrypted again for every host (bcrypt is slow in JavaScript)", () => {
      const { privateKey } = keys["ed25519-passphrase"]!;
      const first = parsePrivateKeyReusing(privateKey, "correct horse");
      const started = performance.now();
      expect(parsePrivateKeyReusing(privateKey, "correct horse")).toBe(first);
      expect(performance.now() - started).toBeLessThan(20);
      expect(() => parsePrivateKeyReusing(privateKey, "wrong battery")).toThrow("passphrase is wrong");
    });

    test("garbage is a clear error that does not repeat the input", () => {
      const garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n";
      let message = "";
      try {
        describePrivateKey(garbage);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/could not be read/);
      expect(message).not.toContain("c2VjcmV0");
    });
  });

  describe("many hosts", () => {
    const COUNT = Number(process.env.VXMAN_SSHD_COUNT ?? 20);

    test(`${COUNT} servers start in reasonable time and each runs a script`, async () => {
      const t0 = performance.now();
      const servers = await startSshds(COUNT);
      const startMs = performance.now() - t0;
      for (const s of servers) s.authorize(keys.ed25519!.publicKey);
      const t1 = performance.now();
      const results = await Promise.all(servers.map((s) => run("echo $SSH_CONNECTION", { server: s })));
      const runMs = performance.now() - t1;
      console.log(`${COUNT} sshds started in ${Math.round(startMs)} ms; one script on each, in parallel, in ${Math.round(runMs)} ms`);
      expect(results.map((r) => r.result.outcome)).toEqual(servers.map(() => "succeeded"));
      results.forEach((r, i) => expect(r.stdout).toContain(` ${servers[i]!.ip} 22`));
      await Promise.all(servers.map((s) => s.stop()));
    }, 120_000);
  });
});
