// How every vxman executable is compiled: dist/vxman (scripts/build.ts) and the floor programs
// bench/floor.ts measures beside it, so those are built exactly as the real one is.
export const COMPILE_FLAGS = [
  // Not --production: it turns on --minify-identifiers, which renames TypeBox's
  // TransformDecodeError class, while the request validators Elysia generates recognise that
  // error by its name (error.constructor.name === 'TransformDecodeError'). Renamed, the error is
  // swallowed and query numbers pass unchecked as strings (limit=-1 reached the database: a 500).
  // --keep-names does not help in `bun build --compile` (1.4.4). So: the other two minifications,
  // and NODE_ENV defined as --production would (Bun inlines "development" otherwise).
  // --splitting: without it the binary is one module whose imports (every node: built-in the
  // server and its libraries use: net, tls, stream, crypto…) all load before any command runs;
  // with it `vxman ping` and `vxman version` load only their own code (~25–40 ms of CPU less).
  "--compile", "--splitting", "--minify-syntax", "--minify-whitespace", "--sourcemap=none", "--bytecode", "--format=esm",
  "--define", 'process.env.NODE_ENV="production"',
  // The binary must behave the same wherever it is started: no .env or bunfig.toml from the cwd.
  "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
  // ssh2's optional native speed-up: not installed (it does not build under Bun); ssh2 falls back
  // to its pure-JavaScript path when the require fails at run time.
  "--external", "cpu-features",
];
