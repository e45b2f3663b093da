// The pure parts of running a script over SSH: what is fed to the remote shell, and the cap on
// how much of its output is kept.

export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The command the SSH server runs; the script itself arrives on its stdin. */
export const REMOTE_COMMAND = "exec /bin/sh -s";

/** A single-quoted shell word: nothing inside is expanded, a quote is closed, escaped, reopened. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * What `/bin/sh -s` reads. Environment values travel as `export` lines rather than SSH "env"
 * requests, which sshd refuses unless AcceptEnv lists each name.
 *
 * The script is wrapped in a `{ … } </dev/null` group because the shell parses a group whole
 * before running any of it: a command in the script that reads stdin then gets EOF instead of
 * swallowing the rest of the script, and a script cut short in transit runs not at all. The
 * trailing `exit` ends the shell without closing our side of stdin: an SSH channel whose input
 * is closed can no longer carry the signal that stops a timed-out or cancelled run.
 */
export function scriptInput(script: string, env: Record<string, string> = {}): string {
  const exports = Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new TypeError(`environment variable name ${JSON.stringify(name)} must match ${ENV_NAME}`);
    // A NUL cannot be part of an environment value; saying so names the variable, not the value.
    if (value.includes("\0")) throw new TypeError(`environment variable ${name} contains a NUL character`);
    return `export ${name}=${shellQuote(value)}\n`;
  });
  return `${exports.join("")}{\n${script}\n} </dev/null\nexit $?\n`;
}

export function truncationMark(maxOutputBytes: number): Uint8Array {
  return new TextEncoder().encode(`\n[vxman: output truncated: only the first ${maxOutputBytes} bytes were kept]\n`);
}

export type OutputStream = "stdout" | "stderr";

/** Where output goes; a promise asks the sender to hold further output until it settles. */
export type OutputSink = (stream: OutputStream, chunk: Uint8Array) => void | Promise<void>;

/**
 * Passes output on in arrival order until maxBytes (stdout and stderr together), then one
 * truncation mark; past that it only counts, so the remote side is still drained to its end.
 * Returns what the sink returned for what it passed on (a promise: hold further output).
 */
export class OutputCap {
  /** Bytes the script wrote, including those dropped. */
  seen = 0;
  truncated = false;

  constructor(
    private readonly maxBytes: number,
    private readonly deliver: OutputSink,
  ) {}

  push(stream: OutputStream, chunk: Uint8Array): void | Promise<void> {
    const room = Math.max(0, this.maxBytes - this.seen);
    this.seen += chunk.byteLength;
    if (chunk.byteLength <= room) return this.deliver(stream, chunk);
    const kept = room > 0 ? this.deliver(stream, chunk.subarray(0, room)) : undefined;
    if (this.truncated) return kept;
    this.truncated = true;
    return this.deliver(stream, truncationMark(this.maxBytes)) ?? kept;
  }
}
