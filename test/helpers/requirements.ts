// Tests that need something this machine may lack (root, chromium, fping) say so loudly when
// they skip. With VXMAN_TEST_STRICT=1 (set by .ci/run) a missing requirement fails instead:
// in CI nothing skips.
export const STRICT = process.env.VXMAN_TEST_STRICT === "1";

export const isRoot = process.getuid?.() === 0;

const announced = new Set<string>();

/** True when available. Otherwise warns once (or throws under VXMAN_TEST_STRICT) and returns false. */
export function requirement(name: string, available: boolean, howToGet: string): boolean {
  if (available) return true;
  if (STRICT) throw new Error(`test requirement missing: ${name}. ${howToGet}`);
  if (!announced.has(name)) {
    announced.add(name);
    console.warn(`\n!!! SKIPPING tests that need ${name}: ${howToGet} !!!\n`);
  }
  return false;
}

export function which(cmd: string): string | null {
  return Bun.which(cmd, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
}
