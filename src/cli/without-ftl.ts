// `vxman ping` runs without JavaScriptCore's top JIT tier (FTL). A sweep of 10,000 hosts lasts
// ~150 ms, and FTL spends it compiling the hot functions on background threads, for code that
// is done before it pays off: the compiled binary's user time 160–190 ms with FTL, 120–130 ms
// without, wall 150–160 → 130–140 ms (docs/performance.md, the sweep). JSC reads its options
// from the environment only as it starts, so the command starts itself again with FTL off; this
// first process only waits, passes signals on, and exits as the second one did.
import { constants } from "node:os";
import { IN_COMPILED_BINARY } from "../compiled.ts";

/** JSC's option, as Bun reads it from the environment. */
export const FTL_OPTION = "BUN_JSC_useFTLJIT";

/**
 * Runs this command again with FTL off and resolves with its exit code; null when this process
 * already has the option set (it is the second run, or the user chose a value), so the caller
 * goes on with the command itself.
 */
export async function runAgainWithoutFtl(): Promise<number | null> {
  if (process.env[FTL_OPTION] !== undefined) return null;
  // A compiled binary sees its own entry as argv[1] (a path inside the executable) and takes the
  // command's arguments from the OS's argv[1] on; `bun src/main.ts` needs the script again.
  const [, entry = "", ...args] = process.argv;
  const script = IN_COMPILED_BINARY ? [] : [entry];
  const child = Bun.spawn([process.execPath, ...script, ...args], {
    env: { ...process.env, [FTL_OPTION]: "0" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const pass = signals.map((signal) => [signal, () => child.kill(signal)] as const);
  for (const [signal, handler] of pass) process.on(signal, handler);
  try {
    const code = await child.exited;
    const signal = child.signalCode;
    return typeof signal === "string" ? 128 + constants.signals[signal] : code;
  } finally {
    for (const [signal, handler] of pass) process.off(signal, handler);
  }
}
