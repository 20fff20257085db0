/**
 * Embedded mode end to end: one process, a typed `Queue<T>` over an
 * in-process broker, the state in a local directory.
 *
 * ```sh
 * deno run -A examples/embedded/main.ts [--data ./data/embedded] [--jobs 10]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { Queue } from "../../broker/queue.ts";
import { DirectoryStore } from "../../storage/directory_store.ts";

const Email = z.object({ to: z.string().email(), subject: z.string().min(1) });
type Email = z.infer<typeof Email>;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string", default: "./data/embedded" },
    jobs: { type: "string", default: "10" },
  },
});
const count = Number(values.jobs);

const queue = await Queue.open<Email>({
  store: new DirectoryStore({ root: values.data }),
  schema: Email,
  type: "email:send",
  heartbeatTimeoutMs: 10_000,
});

// Producer: one push call for the whole batch is one durable write.
const ids = await queue.pushMany(
  Array.from({ length: count }, (_, i) => ({ to: `user${i}@example.com`, subject: `hello ${i}` })),
);
console.log(`pushed ${ids.length} jobs: ${ids.slice(0, 3).join(", ")}…`);

// An invalid payload is refused at push, and nothing is written.
await queue.push({ to: "not-an-email", subject: "" }).catch((error) =>
  console.log(`refused: ${error.code}: ${error.message}`)
);

// Worker: claim in batches, heartbeat while working, complete.
let done = 0;
while (done < count) {
  const jobs = await queue.claim({ max: 4, waitMs: 1000, workerId: "embedded-worker" });
  await Promise.all(jobs.map(async (job) => {
    await queue.heartbeat(job);
    await queue.complete(job, { sentTo: job.payload.to });
    done++;
  }));
}
const stats = await queue.stats();
console.log(
  `completed ${done}; ready ${stats.ready}, active ${stats.active}, totals ${
    JSON.stringify(stats.totals)
  }`,
);
await queue.close();
