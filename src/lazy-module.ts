// A library that most servers never use is loaded on its first use, not at start: ssh2 (fleet
// jobs) and nodemailer (e-mail channels). Both are CommonJS, which the bundle keeps behind a
// function until something requires it, so a server that never runs a job never pays for
// evaluating them. Measured on the compiled binary, idle on PGlite: docs/performance.md.
export function lazyModule<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
