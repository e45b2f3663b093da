// Compile vxman into ONE executable, dist/vxman: the server, the embedded dashboard and docs
// (dist/web, via --asset), PGlite's WASM and seed cluster (imported as files), the migrations
// (imported as text) and every Worker (each must be its own entrypoint or it silently fails to
// load in a compiled binary).
import { $ } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { COMPILE_FLAGS } from "./compile-flags.ts";

const root = join(import.meta.dir, "..");
process.chdir(root);

await $`bun scripts/assets.ts`;

const commit = (await $`git rev-parse --short=12 HEAD`.nothrow().quiet()).stdout.toString().trim() || "unknown";
const dirty = (await $`git status --porcelain --untracked-files=no`.nothrow().quiet()).stdout.toString().trim() ? "-dirty" : "";
const buildDate = new Date().toISOString();

const workers = ["src/monitor/receiver.worker.ts"].filter((f) => existsSync(f));

const args = [
  ...COMPILE_FLAGS,
  "--define", `__VXMAN_COMMIT__=${JSON.stringify(commit + dirty)}`,
  "--define", `__VXMAN_BUILD_DATE__=${JSON.stringify(buildDate)}`,
  "--asset", "dist/web",
  "--outfile", "dist/vxman",
  "src/main.ts", ...workers,
];
await $`bun build ${args}`;

console.error(`built dist/vxman (commit ${commit}${dirty}, ${buildDate})`);
