/**
 * Quickstart worker: runs the handlers of the quickstart's job types, up to
 * `--concurrency` at once, until SIGINT or SIGTERM; then it stops taking jobs,
 * lets the running ones finish and exits.
 *
 * ```sh
 * deno run -A examples/quickstart/worker.ts [--url http://127.0.0.1:8080] [--concurrency 4]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectClient, createShutdownHandler, Worker } from "../../worker/mod.ts";
import { brokerUrl, jobs } from "./jobs.ts";
import { TcpWebSocket } from "../../worker/tcp_websocket.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    concurrency: { type: "string", default: "4" },
    "worker-id": { type: "string", default: `quickstart-${crypto.randomUUID().slice(0, 6)}` },
  },
});
const workerId = values["worker-id"];

/** Resolves after `ms`, or rejects when the job's signal aborts (lease lost, shutdown deadline). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

const client = connectClient({ url: brokerUrl(), clientId: workerId, WebSocket: TcpWebSocket });
const worker = new Worker({
  client,
  workerId,
  registry: jobs,
  concurrency: Number(values.concurrency),
  leaseMs: 10_000,
  handlers: {
    // `job.payload` is typed from the schema: {to: string, subject: string, body: string}.
    "email:send": async (job) => {
      await pause(200, job.signal);
      if (job.payload.to.startsWith("flaky@") && job.attempt === 1) {
        throw new Error("simulated SMTP timeout");
      }
      return { delivered: job.payload.to };
    },
    "report:generate": async (job) => {
      await pause(400, job.signal);
      return { url: `https://reports.example.com/${job.payload.month}.${job.payload.format}` };
    },
  },
  onJobStart: (job) => console.log(`start    ${job.type} ${job.id} (attempt ${job.attempt})`),
  onJobComplete: (job, result) =>
    console.log(`complete ${job.type} ${job.id} -> ${JSON.stringify(result)}`),
  onJobFail: (job, error) =>
    console.log(`fail     ${job.type} ${job.id}: ${(error as Error).message ?? error}`),
});

await worker.start();
console.log(
  `worker ${workerId} running ${worker.types.join(", ")} with concurrency ${values.concurrency}` +
    " (ctrl-c to stop)",
);

const onSignal = createShutdownHandler(worker, {
  timeoutMs: 10_000,
  onStopped: async () => {
    await client.close();
    console.log(`worker ${workerId} stopped`);
    Deno.exit(0);
  },
  onError: (error) => {
    console.error("shutdown failed:", error);
    Deno.exit(1);
  },
});
Deno.addSignalListener("SIGINT", () => {
  console.log("SIGINT: finishing running jobs...");
  onSignal();
});
Deno.addSignalListener("SIGTERM", () => {
  console.log("SIGTERM: finishing running jobs...");
  onSignal();
});
