/**
 * An embedded worker: the `Worker` runtime (typed handlers, push delivery,
 * heartbeats, retries, graceful stop) against a `Broker` in the same process
 * — no server, no WebSocket — through `InProcessClient`. The state lives in a
 * local directory (or in memory with `--memory`).
 *
 * ```sh
 * deno run -A examples/embedded_worker/main.ts [--data ./data/embedded-worker] [--memory] [--jobs 10]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { Broker } from "../../broker/broker.ts";
import { InProcessClient } from "../../server/in_process_client.ts";
import { DirectoryStore } from "../../storage/directory_store.ts";
import { MemoryStore } from "../../storage/memory_store.ts";
import { createProducer, defineJobs } from "../../worker/registry.ts";
import { Worker } from "../../worker/worker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string", default: "./data/embedded-worker" },
    memory: { type: "boolean", default: false },
    jobs: { type: "string", default: "10" },
  },
});
const count = Number(values.jobs);

const jobs = defineJobs({
  "thumbnail:make": z.object({ image: z.string(), width: z.number().int().positive() }),
});

const broker = new Broker({
  store: values.memory ? new MemoryStore() : new DirectoryStore({ root: values.data }),
});
await broker.start();
const client = new InProcessClient({ backend: broker });

let completed = 0;
const worker = new Worker({
  client,
  workerId: "embedded-worker-1",
  registry: jobs,
  concurrency: 4,
  handlers: {
    "thumbnail:make": async (job) => {
      // The first attempt of image 3 fails: the job is retried with backoff.
      if (job.payload.image === "img-3.png" && job.attempt === 1) {
        throw new Error("simulated decoder crash");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { thumbnail: `${job.payload.image}@${job.payload.width}w` };
    },
  },
  onJobComplete: (job, result) => {
    completed++;
    console.log(`complete ${job.id} (attempt ${job.attempt}) -> ${JSON.stringify(result)}`);
  },
  onJobFail: (job, error) => console.log(`fail     ${job.id} (attempt ${job.attempt}): ${error}`),
});
await worker.start();

// The producer pushes through the same client (validated by the registry).
const producer = createProducer(client, jobs);
const pushed = await producer.submitMany(
  Array.from({ length: count }, (_, i) => ({
    type: "thumbnail:make" as const,
    payload: { image: `img-${i}.png`, width: 128 },
    options: { backoff: { type: "fixed" as const, delayMs: 50 } },
  })),
);
console.log(`pushed ${pushed.length} jobs`);

while (completed < count) await new Promise((resolve) => setTimeout(resolve, 10));
await worker.stop();
await client.close();
const { totals } = await broker.request({ op: "stats" });
console.log(`completed ${totals.completed}; failed attempts ${totals.failed}`);
await broker.stop();
