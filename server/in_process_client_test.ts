/**
 * A `Worker` embedded against a `Broker` in the same process, through
 * {@linkcode InProcessClient}: on a MemoryStore and on a DirectoryStore,
 * pushed jobs are handled and completed, a failed attempt is retried, and a
 * lost lease aborts the handler and is reported.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { DisconnectedError, LeaseLostError, ValidationError } from "../errors.ts";
import type { ClaimedJob, JobView } from "../protocol/operations.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { ObjectStore } from "../storage/types.ts";
import { Worker, type WorkerClient } from "../worker/worker.ts";
import { InProcessClient } from "./in_process_client.ts";

async function waitFor<T>(
  read: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function jobState(broker: Broker, id: string, state: JobView["state"]): Promise<JobView> {
  return await waitFor(async () => {
    const { job } = await broker.request({ op: "get", jobId: id });
    return job.state === state ? job : undefined;
  }, `job ${id} to be ${state}`);
}

const stores: [string, () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }>][] = [
  ["MemoryStore", () => Promise.resolve({ store: new MemoryStore(), cleanup: async () => {} })],
  ["DirectoryStore", async () => {
    const root = await Deno.makeTempDir({ prefix: "osqueue-embedded-" });
    return {
      store: new DirectoryStore({ root }),
      cleanup: () => Deno.remove(root, { recursive: true }),
    };
  }],
];

for (const [name, open] of stores) {
  Deno.test(`embedded Worker on a ${name}: handles, completes, retries a failure, reports a lost lease`, async () => {
    const { store, cleanup } = await open();
    const broker = new Broker({ store, maxLingerMs: 0 });
    await broker.start();
    const client = new InProcessClient({ backend: broker });
    const attempts = new Map<string, number>();
    const failures: { job: ClaimedJob; error: unknown }[] = [];
    const aborted: unknown[] = [];
    let slowStarted: string | undefined;
    const worker = new Worker({
      client,
      workerId: "embedded-1",
      concurrency: 4,
      leaseMs: 5_000,
      heartbeatIntervalMs: 20,
      handlers: {
        double: (job) => ({ doubled: (job.payload as number) * 2 }),
        flaky: (job) => {
          attempts.set(job.id, job.attempt);
          if (job.attempt === 1) throw new Error("first attempt fails");
          return { attempt: job.attempt };
        },
        slow: (job) => {
          slowStarted = job.id;
          return new Promise((_, reject) => {
            job.signal.addEventListener("abort", () => {
              aborted.push(job.signal.reason);
              reject(job.signal.reason);
            });
          });
        },
      },
      onJobFail: (job, error) => failures.push({ job, error }),
      log: () => {},
    });
    try {
      await worker.start();
      assert.equal(worker.state, "running");

      // Pushed jobs are handled and completed with the handler's result.
      const { jobs } = await broker.request({
        op: "push",
        jobs: [1, 2, 3].map((n) => ({ type: "double", payload: n })),
      });
      for (const [i, { id }] of jobs.entries()) {
        const job = await jobState(broker, id, "completed");
        assert.deepEqual(job.result, { doubled: (i + 1) * 2 });
      }

      // A failed attempt is retried (with the job's backoff) and then completes.
      const [flaky] = (await broker.request({
        op: "push",
        jobs: [{
          type: "flaky",
          payload: null,
          maxAttempts: 3,
          backoff: { type: "fixed", delayMs: 10 },
        }],
      })).jobs;
      const retried = await jobState(broker, flaky.id, "completed");
      assert.deepEqual(retried.result, { attempt: 2 });
      assert.equal(attempts.get(flaky.id), 2);
      assert.equal(failures.length, 1);
      assert.equal(failures[0].job.id, flaky.id);
      assert.match(String(failures[0].error), /first attempt fails/);

      // A lease lost while the handler runs (here: the job is cancelled) aborts
      // the handler with LeaseLostError, is reported, and its outcome is dropped.
      const [slow] = (await broker.request({
        op: "push",
        jobs: [{ type: "slow", payload: null }],
      })).jobs;
      await waitFor(() => slowStarted === slow.id ? true : undefined, "the slow job to start");
      await broker.request({ op: "cancel", jobId: slow.id });
      await waitFor(() => aborted.length > 0 ? true : undefined, "the handler to be aborted");
      assert.ok(aborted[0] instanceof LeaseLostError, `aborted with ${aborted[0]}`);
      const lost = await waitFor(
        () => failures.find((f) => f.job.id === slow.id),
        "the lost lease to be reported",
      );
      assert.ok(lost.error instanceof LeaseLostError);
      await waitFor(() => worker.running === 0 ? true : undefined, "the handler to finish");
      assert.equal((await broker.request({ op: "get", jobId: slow.id })).job.state, "cancelled");
      // Every credit came back: the worker can take `concurrency` jobs again, plus as many
      // held ahead (prefetch, by default `concurrency`).
      assert.equal(client.credits, 8);
    } finally {
      await worker.stop({ timeoutMs: 1_000 });
      await client.close();
      await broker.stop();
      await cleanup();
    }
  });
}

Deno.test("InProcessClient satisfies WorkerClient and validates subscribe params", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const client = new InProcessClient({ backend: broker });
  try {
    const asWorkerClient: WorkerClient = client;
    assert.equal(typeof asWorkerClient.subscribe, "function");
    await assert.rejects(
      client.subscribe({ workerId: "", credits: -1 }, () => {}),
      (error: unknown) => error instanceof ValidationError && /workerId/.test(error.message),
    );
    await client.close();
    await assert.rejects(client.request({ op: "stats" }), DisconnectedError);
  } finally {
    await client.close();
    await broker.stop();
  }
});
