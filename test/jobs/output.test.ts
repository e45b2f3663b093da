// A run's output on its way to the database (PGlite) and the live log: numbered chunks in arrival
// order, never cut inside a character, at most 256 KiB each; past 16 MiB waiting for the
// database, hosts are asked to wait until it catches up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "../../src/db/index.ts";
import { silentLogger } from "../../src/log.ts";
import { RunOutput, type OutputChunk } from "../../src/jobs/run-output.ts";
import { testDatabase } from "../helpers/app.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("run output", () => {
  let db: Database;
  let runId = 0;
  beforeAll(async () => {
    db = await testDatabase("pglite");
  });
  afterAll(() => db.close());

  async function newRun(): Promise<number> {
    const [row] = await db.query<{ id: number }>(
      `INSERT INTO runs (job_name, script, timeout_seconds, parallelism, stop_on_failure, started_by, trigger, instance_id)
       VALUES ('t', 'true', 1, 1, false, 'test', 'manual', 'test') RETURNING id`,
    );
    return (runId = row!.id);
  }
  const stored = () => db.query<{ seq: number; machine_id: number; stream: string; data: Uint8Array }>("SELECT seq, machine_id, stream, data FROM run_output WHERE run_id = $1 ORDER BY seq", [runId]);

  test("pieces become numbered chunks per host, in order; a character split across pieces waits for its end", async () => {
    const told: OutputChunk[] = [];
    const output = new RunOutput(await newRun(), db, silentLogger, (c) => told.push(...c));
    const euro = bytes("€"); // 3 bytes
    output.append(1, "stdout", bytes("a"));
    output.append(1, "stdout", euro.subarray(0, 1));
    output.append(2, "stderr", bytes("warn\n"));
    await output.flush();
    output.append(1, "stdout", euro.subarray(1));
    output.append(1, "stderr", bytes("e"));
    output.endHost(1);
    await output.close();
    const rows = await stored();
    expect(rows.map((r) => [r.seq, r.machine_id, r.stream, new TextDecoder().decode(r.data)])).toEqual([
      [1, 1, "stdout", "a"],
      [2, 2, "stderr", "warn\n"],
      [3, 1, "stdout", "€"],
      [4, 1, "stderr", "e"],
    ]);
    expect(told.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
  });

  test("a big piece becomes chunks of at most 256 KiB; past 16 MiB waiting, the host is asked to wait until it is written", async () => {
    const output = new RunOutput(await newRun(), db, silentLogger, () => {});
    const MiB = 1 << 20;
    const waits: (void | Promise<void>)[] = [];
    for (let i = 0; i < 17; i++) waits.push(output.append(7, "stdout", new Uint8Array(MiB).fill(0x61)));
    expect(waits.slice(0, 16).every((w) => w === undefined)).toBe(true);
    expect(waits[16]).toBeInstanceOf(Promise);
    let released = false;
    void waits[16]!.then(() => (released = true));
    await output.flush();
    expect(released).toBe(true);
    await output.close();
    const rows = await stored();
    expect(rows.length).toBe(17 * 4);
    expect(Math.max(...rows.map((r) => r.data.byteLength))).toBe(256 * 1024);
    expect(rows.reduce((n, r) => n + r.data.byteLength, 0)).toBe(17 * MiB);
  });
});
