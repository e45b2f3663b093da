// Compile vxman into ONE executable, dist/vxman: the server, the embedded dashboard and docs
// (dist/web, via --asset), PGlite's WASM and seed cluster (imported as files), the migrations
// (imported as text) and every Worker (each must be its own entrypoint or it silently fails to
// load in a compiled binary).
import { $ } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
process.chdir(root);

await $`bun scripts/assets.ts`;

const commit = (await $`git rev-parse --short=12 HEAD`.nothrow().quiet()).stdout.toString().trim() || "unknown";
const dirty = (await $`git status --porcelain --untracked-files=no`.nothrow().quiet()).stdout.toString().trim() ? "-dirty" : "";
const buildDate = new Date().toISOString();

const workers = ["src/monitor/receiver.worker.ts"].filter((f) => existsSync(f));

const args = [
  // Not --production: it turns on --minify-identifiers, which renames TypeBox's
  // TransformDecodeError class, while the request validators Elysia generates recognise that
  // error by its name (error.constructor.name === 'TransformDecodeError'). Renamed, the error is
  // swallowed and query numbers pass unchecked as strings (limit=-1 reached the database: a 500).
  // --keep-names does not help in `bun build --compile` (1.4.4). So: the other two minifications,
  // and NODE_ENV defined as --production would (Bun inlines "development" otherwise).
  "--compile", "--minify-syntax", "--minify-whitespace", "--sourcemap=none", "--bytecode", "--format=esm",
  "--define", 'process.env.NODE_ENV="production"',
  // The binary must behave the same wherever it is started: no .env or bunfig.toml from the cwd.
  "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
  "--define", `__VXMAN_COMMIT__=${JSON.stringify(commit + dirty)}`,
  "--define", `__VXMAN_BUILD_DATE__=${JSON.stringify(buildDate)}`,
  // ssh2's optional native speed-up: not installed (it does not build under Bun); ssh2 falls back
  // to its pure-JavaScript path when the require fails at run time.
  "--external", "cpu-features",
  "--asset", "dist/web",
  "--outfile", "dist/vxman",
  "src/main.ts", ...workers,
];
await $`bun build ${args}`;

console.error(`built dist/vxman (commit ${commit}${dirty}, ${buildDate})`);
