// The Dockerfile, checked without a Docker engine (none runs here): what it copies exists and
// reaches the build context, the build writes what the run stage takes, the run stage is
// non-root with the data volume, and its HEALTHCHECK command works against the real binary.
// The image itself is built and run with Podman by scripts/ops/podman.sh (docs/operations-testing.md).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isolatedBinary, startProcess, waitForHttp } from "../helpers/binary.ts";
import { freePort } from "../helpers/postgres.ts";
import { requirement, which } from "../helpers/requirements.ts";

setDefaultTimeout(90_000);

const ROOT = join(import.meta.dir, "../..");

interface Instruction {
  stage: number;
  op: string;
  args: string;
}

/** Instructions in order (continuation lines joined, comments dropped), each with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  for (const logical of lines.join("\n").replace(/\\\n/g, " ").split("\n")) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(logical);
    if (!m) continue;
    if (m[1] === "FROM") stage++;
    out.push({ stage, op: m[1]!, args: m[2]!.trim() });
  }
  return out;
}

/** Docker's .dockerignore rule (no `!` used here): a path is out when it or a parent matches. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const parts = path.split("/");
  return patterns.some((p) => parts.some((_, i) => new Bun.Glob(p).match(parts.slice(0, i + 1).join("/"))));
}

const steps = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const lastStage = Math.max(...steps.map((s) => s.stage));
const final = (op: string) => steps.filter((s) => s.stage === lastStage && s.op === op).map((s) => s.args);

describe("Dockerfile", () => {
  test("two stages: Bun from the lockfile via npm ci, then the binary on Debian slim", () => {
    expect(steps.filter((s) => s.op === "FROM").map((s) => s.args)).toEqual(["node:22-bookworm-slim AS build", "debian:bookworm-slim"]);
    const build = steps.filter((s) => s.stage === 0 && s.op === "RUN").map((s) => s.args).join("\n");
    expect(build).toContain("npm ci");
    expect(build).toContain("node_modules/.bin/bun scripts/build.ts");
  });

  test("every COPY from the context exists and is not left out by .dockerignore", () => {
    const sources = steps
      .filter((s) => s.op === "COPY" && !s.args.startsWith("--from"))
      .flatMap((s) => s.args.split(/\s+/).slice(0, -1))
      .filter((src) => src !== ".");
    expect(sources).toEqual(["package.json", "package-lock.json"]);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src))).toBe(true);
      expect(dockerIgnored(ignore, src)).toBe(false);
    }
    expect(dockerIgnored(ignore, "node_modules/elysia/package.json")).toBe(true); // the matcher works
  });

  test("the run stage takes what scripts/build.ts writes", () => {
    const [copy] = steps.filter((s) => s.op === "COPY" && s.args.startsWith("--from=build"));
    expect(copy?.args).toBe("--from=build /src/dist/vxman /usr/local/bin/vxman");
    expect(readFileSync(join(ROOT, "scripts/build.ts"), "utf8")).toContain('"--outfile", "dist/vxman"');
  });

  test.skipIf(!requirement("git", which("git") !== null, "apt-get install git"))(
    ".dockerignore leaves out no tracked file (the build would call itself -dirty) and keeps .git (for the commit)",
    () => {
      const tracked = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).stdout.trim().split("\n");
      expect(tracked.length).toBeGreaterThan(10);
      expect(tracked.filter((f) => dockerIgnored(ignore, f))).toEqual([]);
      expect(dockerIgnored(ignore, ".git/HEAD")).toBe(false);
    },
  );

  test("runs as a non-root user, data in a volume, listening on all addresses of the container", () => {
    expect(final("USER")).toEqual(["10001:10001"]);
    expect(final("VOLUME")).toEqual(['["/var/lib/vxman"]']);
    expect(final("EXPOSE")).toEqual(["8080"]);
    const env = final("ENV").join(" ");
    for (const kv of ["DATA_DIR=/var/lib/vxman", "HOST=0.0.0.0", "PORT=8080", "LOG_FORMAT=json"]) expect(env).toContain(kv);
    expect(final("ENTRYPOINT")).toEqual(['["/usr/local/bin/vxman"]']);
    // No file capability: with it, the kernel refuses to exec the binary when NET_RAW is dropped.
    expect(final("RUN").join("\n")).not.toContain("setcap");
    // The group by number too: `useradd --user-group` gave it a system GID (999), not 10001.
    const run = final("RUN").join("\n");
    expect(run).toMatch(/groupadd (--system )?--gid 10001 vxman/);
    expect(run).toMatch(/useradd .*--uid 10001 --gid vxman /);
    expect(run).not.toContain("--user-group");
  });

  describe("HEALTHCHECK", () => {
    const cleanups: (() => void)[] = [];
    afterAll(() => cleanups.forEach((c) => c()));

    test("the image's own command (no curl: the binary as the Bun CLI) says healthy while vxman serves, unhealthy once it stops", async () => {
      const [healthcheck] = final("HEALTHCHECK");
      const cmd = JSON.parse(/CMD (\[.*\])$/.exec(healthcheck ?? "")![1]!) as string[];
      expect(cmd.slice(0, 3)).toEqual(["env", "BUN_BE_BUN=1", "/usr/local/bin/vxman"]);

      const { dir, bin, cleanup } = isolatedBinary();
      cleanups.push(cleanup);
      const port = await freePort();
      const env = { PORT: String(port), HOST: "127.0.0.1", DATA_DIR: join(dir, "data"), LOG_FORMAT: "json" };
      const proc = startProcess([bin], { env });
      cleanups.push(() => proc.kill("SIGKILL"));
      await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000, proc);

      const check = () => {
        const r = Bun.spawnSync(cmd.map((a) => (a === "/usr/local/bin/vxman" ? bin : a)), { env: { ...env, PATH: "/usr/bin:/bin" }, timeout: 10_000 });
        return { code: r.exitCode, err: r.stderr.toString() };
      };
      expect(check()).toEqual({ code: 0, err: "" });
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(check().code).toBe(1);
    });
  });
});
