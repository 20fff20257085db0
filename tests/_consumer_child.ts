/**
 * A consumer process for the crash tests: claims jobs with a long-poll,
 * heartbeats while "working" for `--work-ms`, completes them, and prints one
 * machine-readable line per event on stdout:
 *
 * - `ready`
 * - `claimed <jobId> <attempt>`
 * - `completed <jobId>` (only once the broker acknowledged the completion)
 * - `complete-failed <jobId> <code>`
 * - `lost <jobId>` (the lease was lost while working)
 * - `stopped` (after SIGINT/SIGTERM: it finishes the current job first)
 *
 * Transport errors on claim (e.g. the broker restarting) are retried.
 *
 * ```sh
 * deno run -A tests/_consumer_child.ts --url URL --worker NAME [--work-ms 50] [--type T] [--token T]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectClient } from "../worker/client.ts";
import type { OsqueueError } from "../errors.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    worker: { type: "string", default: "consumer" },
    "work-ms": { type: "string", default: "50" },
    type: { type: "string", default: "task" },
    token: { type: "string" },
    "heartbeat-ms": { type: "string", default: "100" },
  },
});
if (values.url === undefined) throw new Error("--url is required");

const workMs = Number(values["work-ms"]);
const workerId = values.worker;
const client = connectClient({
  url: values.url,
  clientId: workerId,
  requestTimeoutMs: 5_000,
  reconnect: { minDelayMs: 50, maxDelayMs: 300 },
  ...(values.token === undefined ? {} : { token: values.token }),
});

let stopping = false;
const onSignal = () => (stopping = true);
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

console.log("ready");
while (!stopping) {
  let jobs;
  try {
    ({ jobs } = await client.claim({ workerId, types: [values.type], max: 1, waitMs: 500 }));
  } catch (error) {
    console.error(`claim failed: ${(error as OsqueueError).code} ${(error as Error).message}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    continue;
  }
  for (const job of jobs) {
    console.log(`claimed ${job.id} ${job.attempt}`);
    let lost = false;
    const stop = client.startHeartbeat(job.id, job.leaseToken, {
      intervalMs: Number(values["heartbeat-ms"]),
      onLost: () => (lost = true),
    });
    await new Promise((resolve) => setTimeout(resolve, workMs));
    stop();
    if (lost) {
      console.log(`lost ${job.id}`);
      continue;
    }
    try {
      await client.complete(job.id, job.leaseToken, { by: workerId });
      console.log(`completed ${job.id}`);
    } catch (error) {
      console.log(`complete-failed ${job.id} ${(error as OsqueueError).code ?? "unknown"}`);
    }
  }
}
Deno.removeSignalListener("SIGINT", onSignal);
Deno.removeSignalListener("SIGTERM", onSignal);
await client.close();
console.log("stopped");
