// Build the files the server embeds: the dashboard bundle (public/ → dist/web), the offline API
// docs page (swagger-ui-dist → dist/web/docs) and the PGlite seed cluster
// (dist/assets/pglite-seed.tar.gz). Run by `npm start`, `npm test` and `npm run build`.
import { PGlite } from "@electric-sql/pglite";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(import.meta.dir, "..");
const out = (p: string) => join(root, "dist", p);

async function buildDashboard() {
  rmSync(out("web"), { recursive: true, force: true });
  mkdirSync(out("web"), { recursive: true });
  const result = await Bun.build({
    entrypoints: [join(root, "public/app.ts")],
    outdir: out("web"),
    target: "browser",
    minify: true,
    sourcemap: "none",
    naming: "[name].[ext]",
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("dashboard bundle failed");
  }
  for (const f of ["index.html", "style.css", "favicon.svg"]) {
    if (existsSync(join(root, "public", f))) cpSync(join(root, "public", f), out(`web/${f}`));
  }
}

function copyDocsUi() {
  // Served from the binary so /docs works with no internet (the plugin's own page uses a CDN).
  const ui = dirname(require.resolve("swagger-ui-dist/package.json"));
  mkdirSync(out("web/docs"), { recursive: true });
  for (const f of ["swagger-ui-bundle.js", "swagger-ui.css"]) cpSync(join(ui, f), out(`web/docs/${f}`));
  for (const f of ["index.html", "init.js"]) cpSync(join(root, "public/docs", f), out(`web/docs/${f}`));
}

async function buildPgliteSeed() {
  // An empty cluster only changes with the PGlite version, so it is made once per version.
  const target = out("assets/pglite-seed.tar.gz");
  const stamp = out("assets/pglite-seed.version");
  const version: string = (await Bun.file(join(root, "node_modules/@electric-sql/pglite/package.json")).json()).version;
  if (existsSync(target) && existsSync(stamp) && (await Bun.file(stamp).text()) === version) return;
  mkdirSync(dirname(target), { recursive: true });
  const pg = await PGlite.create();
  await Bun.write(target, await pg.dumpDataDir("gzip"));
  await pg.close();
  await Bun.write(stamp, version);
}

const t0 = performance.now();
await buildDashboard();
copyDocsUi();
await buildPgliteSeed();
console.log(`assets ready in dist/ (${Math.round(performance.now() - t0)} ms)`);
