// Settings that the runtime reads from the environment only as the process starts, such as
// JavaScriptCore's options (BUN_JSC_*). A command that wants one starts itself
// again with it set, in place (execve: the same PID, the same open files and terminal), so
// nothing waits in front of it and signals, exit codes and systemd's view are those of one
// process. A value the user set is kept.
import { IN_COMPILED_BINARY } from "./compiled.ts";

/** JSC's top tier off, for `vxman ping`: a sweep of 10,000 hosts lasts ~150 ms, and FTL spends
 *  it compiling the hot functions on background threads, for code that is done before it pays
 *  off (user time 160–190 → 120–130 ms, docs/performance.md, the sweep). */
export const WITHOUT_FTL = { BUN_JSC_useFTLJIT: "0" };

/**
 * Start this command again in place with `settings` added to the environment, unless every one
 * of them is set already (this is the second start, or the user chose). Returns only in that
 * case, or when the new start could not be made (said on stderr): the settings make the
 * command cheaper, not correct, so it goes on without them.
 */
export function startWithEnv(settings: Record<string, string>): void {
  const missing = Object.keys(settings).filter((name) => process.env[name] === undefined);
  if (missing.length === 0) return;
  // A compiled binary sees its own entry as argv[1] (a path inside the executable) and takes the
  // command's arguments from the OS's argv[1] on; `bun src/main.ts` needs the script again.
  const [, entry = "", ...args] = process.argv;
  const argv = [process.execPath, ...(IN_COMPILED_BINARY ? [] : [entry]), ...args];
  const env = { ...process.env };
  for (const name of missing) env[name] = settings[name];
  try {
    if (!process.execve) throw new Error("this runtime has no process.execve");
    process.execve(process.execPath, argv, env);
  } catch (err) {
    console.error(`vxman: could not start again with ${missing.join(", ")} set (${(err as Error).message}); going on without`);
  }
}
