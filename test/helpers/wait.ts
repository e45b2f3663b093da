type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/** Poll `check` until it returns a truthy value; fail with `what` after `ms`. Always bounded. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 10_000, everyMs = 25): Promise<Truthy<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
}
