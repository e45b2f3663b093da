// The idle bench's instrument (bench/idle.ts): CPU from each thread's schedstat, in nanoseconds,
// threads that start and end inside the window included. Checked
// on a child that burns a known amount of CPU (by its own CPU clock, not by wall time) on its
// main thread and on a worker thread that then ends.
import { describe, expect, test } from "bun:test";
import { idleSample } from "../../bench/idle.ts";

// Each thread burns by its own CPU clock (/proc/thread-self/schedstat), whatever else the machine runs.
const BURN = `const burn = (ms) => { const cpuMs = () => Number(require("node:fs").readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6; const end = cpuMs() + ms; while (cpuMs() < end) {} };`;
const CHILD = `
import { Worker } from "node:worker_threads";
${BURN}
console.log("ready");
await Bun.sleep(300);
burn(200);
// A thread that burns 300 ms and ends.
await new Promise((resolve) => new Worker(${JSON.stringify(BURN + " burn(300); process.exit(0);")}, { eval: true }).on("exit", resolve));
await Bun.sleep(60_000);
`;

describe("the idle sampler", () => {
  test("counts each thread's CPU, a thread that started and ended in the window too", async () => {
    const child = Bun.spawn([process.execPath, "-e", CHILD], { stdout: "pipe", stderr: "inherit" });
    try {
      const reader = child.stdout.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain("ready");
      const s = await idleSample(child.pid, 6);
      // Main thread: the 200 ms it burned (and a little for the worker's start and the timers).
      expect(s.mainPct * 6 * 10).toBeGreaterThanOrEqual(190);
      expect(s.mainPct * 6 * 10).toBeLessThan(400);
      // All threads: the main thread's 200 ms and the ended worker's 300 ms, up to its last
      // reading (read every 100 ms: at least 200 ms of it).
      expect(s.cpuPct * 6 * 10).toBeGreaterThanOrEqual(400);
      expect(s.busiest).toMatch(/thread\(s\) ended, [\d.]+ ms of theirs counted/);
    } finally {
      child.kill();
      await child.exited;
    }
  });
});
