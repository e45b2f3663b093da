// Whether this code runs inside the compiled binary (`bun build --compile`) or from source. In the
// binary Bun mounts the bundle's files under /$bunfs/root, and every module's import.meta is the
// binary's entry there, so this module's own location tells.

/** Where the compiled binary's embedded files are. */
export const COMPILED_ROOT = "/$bunfs/root";

/** True in the compiled binary, false when run from source (`bun src/main.ts`). */
export const IN_COMPILED_BINARY = import.meta.dir.startsWith(COMPILED_ROOT);
