// A library that most servers never use is loaded on its first use, not at start: ssh2 (fleet
// jobs) and nodemailer (e-mail channels). Both are CommonJS, which the bundle keeps behind a
// function until something requires it, so a server that never runs a job never pays for
// evaluating them. Measured on the compiled binary (1,000 machines at 60 s on PGlite, the build
// before and this one in one run): 232 → 226 MiB of RSS, docs/performance.md.
export function lazyModule<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
