import assert from "node:assert/strict";
import { type Batched, BatchQueue } from "./batch_queue.ts";

/** A queue whose batches wait until the test releases them; records each batch. */
function heldQueue(options: { maxBatch?: number; gatherTurn?: boolean } = {}) {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const queue = new BatchQueue<number>({
    maxBatch: options.maxBatch ?? 100,
    gatherTurn: options.gatherTurn,
    run: async (batch: Batched<number>[]) => {
      batches.push(batch.map((item) => item.value));
      await new Promise<void>((resolve) => releases.push(resolve));
      for (const item of batch) item.resolve();
    },
  });
  const releaseAll = async () => {
    while (true) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      const release = releases.shift();
      if (release === undefined) return;
      release();
    }
  };
  return { queue, batches, releaseAll };
}

Deno.test("BatchQueue: items added while a batch runs form the next one, at most maxBatch each", async () => {
  const { queue, batches, releaseAll } = heldQueue({ maxBatch: 3 });
  const done = [queue.add(1)];
  for (let i = 2; i <= 6; i++) done.push(queue.add(i));
  const releasing = releaseAll();
  await Promise.all(done);
  await releasing;
  assert.deepEqual(batches, [[1], [2, 3, 4], [5, 6]]);
});

Deno.test("BatchQueue: with gatherTurn the items added in the same turn go in the first batch", async () => {
  const { queue, batches, releaseAll } = heldQueue({ gatherTurn: true });
  const done = [1, 2, 3].map((n) => queue.add(n));
  const releasing = releaseAll();
  await Promise.all(done);
  await releasing;
  assert.deepEqual(batches, [[1, 2, 3]]);
});

Deno.test("BatchQueue: a run that throws rejects what it left unsettled; the queue goes on", async () => {
  let calls = 0;
  const queue = new BatchQueue<number>({
    maxBatch: 10,
    gatherTurn: true,
    run: (batch) => {
      if (calls++ === 0) {
        batch[0].resolve();
        return Promise.reject(new Error("bug"));
      }
      for (const item of batch) item.resolve();
      return Promise.resolve();
    },
  });
  const [first, second] = await Promise.allSettled([queue.add(1), queue.add(2)]);
  assert.equal(first.status, "fulfilled", "settled before the throw");
  assert.equal(second.status, "rejected");
  assert.match(String((second as PromiseRejectedResult).reason), /bug/);
  await queue.add(3);
});

Deno.test("BatchQueue: an item added as soon as the last batch settled its callers still runs", async () => {
  // The run settles its items and only then returns: the callers' continuation
  // may add the next item before the drain loop looks at the queue again.
  const ran: number[] = [];
  const queue = new BatchQueue<number>({
    maxBatch: 10,
    gatherTurn: true,
    run: (batch) => {
      for (const item of batch) {
        ran.push(item.value);
        item.reject(new Error("no"));
      }
      return Promise.resolve();
    },
  });
  await Promise.allSettled([queue.add(1), queue.add(2)]);
  await Promise.allSettled([queue.add(3), queue.add(4)]);
  assert.deepEqual(ran, [1, 2, 3, 4]);
});
