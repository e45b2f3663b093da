// The group-commit batcher: requests of one turn of the event loop go together; requests arriving
// while a batch runs go together in the next one; each caller gets its own answer, or its batch's error.
import { expect, test } from "bun:test";
import { Batcher } from "../../src/db/batcher.ts";

function recordingBatcher(maxBatch?: number) {
  // One batch in flight, so the test controls exactly when the next one may start.
  const batches: number[][] = [];
  let release: () => void = () => {};
  const batcher = new Batcher<number, string>(async (inputs) => {
    batches.push(inputs);
    await new Promise<void>((resolve) => (release = resolve));
    return inputs.map((n) => `answer ${n}`);
  }, { maxBatch, maxInFlight: 1 });
  return { batcher, batches, release: () => release() };
}

test("requests of one turn go together; those arriving meanwhile form the next batch, in order", async () => {
  const { batcher, batches, release } = recordingBatcher();
  const answers = [1, 2].map((n) => batcher.submit(n));
  expect(batches).toEqual([]); // not before the turn ends: PGlite's requests would each go alone
  await Bun.sleep(0);
  expect(batches).toEqual([[1, 2]]);
  answers.push(...[3, 4, 5].map((n) => batcher.submit(n)));
  await Bun.sleep(0);
  expect(batches).toEqual([[1, 2]]);
  release();
  await Bun.sleep(0);
  expect(batches).toEqual([[1, 2], [3, 4, 5]]);
  release();
  expect(await Promise.all(answers)).toEqual(["answer 1", "answer 2", "answer 3", "answer 4", "answer 5"]);
});

test("a batch never exceeds maxBatch", async () => {
  const { batcher, batches, release } = recordingBatcher(2);
  const answers = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
  for (let i = 0; i < 3; i++) {
    await Bun.sleep(0);
    release();
  }
  expect(await Promise.all(answers)).toHaveLength(5);
  expect(batches).toEqual([[1, 2], [3, 4], [5]]);
});

test("a failed batch rejects its own callers only; the next batch still runs", async () => {
  let calls = 0;
  const batcher = new Batcher<number, number>(async (inputs) => {
    calls++;
    await Bun.sleep(1);
    if (calls === 1) throw new Error("database unavailable");
    return inputs.map((n) => n * 10);
  });
  const first = batcher.submit(1);
  await Bun.sleep(0); // the first batch has started: the others go in the next
  const rest = [2, 3].map((n) => batcher.submit(n));
  await expect(first).rejects.toThrow("database unavailable");
  expect(await Promise.all(rest)).toEqual([20, 30]);
});

test("up to maxInFlight batches run at once; the rest wait for a free slot", async () => {
  let running = 0;
  let mostAtOnce = 0;
  const batcher = new Batcher<number, number>(
    async (inputs) => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await Bun.sleep(5);
      running--;
      return inputs;
    },
    { maxBatch: 3, maxInFlight: 2 },
  );
  const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => batcher.submit(n)));
  expect(answers).toEqual(Array.from({ length: 20 }, (_, n) => n));
  expect(mostAtOnce).toBe(2);
});
