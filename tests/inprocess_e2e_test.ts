/**
 * End to end in one process: a real `Broker` behind `serveBroker` (port 0),
 * `OsqueueClient`s and `Worker`s talking to it over real WebSockets, on a
 * `MemoryStore` and on a `DirectoryStore`.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { type BrokerServer, serveBroker } from "../server/server.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { JsonValue } from "../protocol/operations.ts";
import { connectClient, type OsqueueClient } from "../worker/client.ts";
import { Worker, type WorkerOptions } from "../worker/worker.ts";
import { delay, tempDir, waitFor } from "./_helpers.ts";

/** A broker on a store, served on a free port, plus the clients and workers made from it. */
class Stack implements AsyncDisposable {
  readonly clients: OsqueueClient[] = [];
  readonly workers: Worker[] = [];

  private constructor(
    readonly broker: Broker,
    readonly server: BrokerServer,
    readonly cleanup: () => Promise<void>,
  ) {}

  static async start(store: ObjectStore, cleanup = async () => {}): Promise<Stack> {
    const broker = new Broker({
      store,
      identity: { id: "e2e-inprocess" },
      // Keep finished jobs readable with `get` for the whole test.
      archiveMaxAgeMs: 600_000,
      archiveMaxJobs: 100_000,
    });
    await broker.start();
    const server = serveBroker({ backend: broker, hostname: "127.0.0.1", port: 0 });
    return new Stack(broker, server, cleanup);
  }

  client(name: string): OsqueueClient {
    const client = connectClient({ url: this.server.url, clientId: name });
    this.clients.push(client);
    return client;
  }

  async worker(options: Omit<WorkerOptions, "client">): Promise<Worker> {
    const worker = new Worker({ client: this.client(options.workerId), ...options });
    this.workers.push(worker);
    await worker.start();
    return worker;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop({ timeoutMs: 2000 })));
    await Promise.all(this.clients.map((client) => client.close()));
    await this.server.shutdown();
    await this.broker.stop();
    await this.cleanup();
  }
}

const STORES: { name: string; open: () => Promise<Stack> }[] = [
  { name: "MemoryStore", open: () => Stack.start(new MemoryStore()) },
  {
    name: "DirectoryStore",
    open: async () => {
      const dir = await tempDir("osqueue-e2e-inprocess-");
      return await Stack.start(
        new DirectoryStore({ root: dir.path }),
        async () => await dir[Symbol.asyncDispose](),
      );
    },
  },
];

for (const { name, open } of STORES) {
  Deno.test(`${name}: push, a worker runs it, get shows it completed with its result`, async () => {
    await using stack = await open();
    const producer = stack.client("producer");
    const { jobs } = await producer.push({ type: "greet", payload: { name: "ada" } });
    assert.equal(jobs.length, 1);
    const id = jobs[0].id;
    assert.equal((await producer.get(id)).job.state, "ready");

    const seen: { id: string; payload: JsonValue; attempt: number }[] = [];
    await stack.worker({
      workerId: "greeter",
      handlers: {
        greet: (job) => {
          seen.push({ id: job.id, payload: job.payload, attempt: job.attempt });
          return { hello: (job.payload as { name: string }).name };
        },
      },
    });
    const job = await waitFor(async () => {
      const { job } = await producer.get(id);
      return job.state === "completed" ? job : undefined;
    }, { message: "the job to complete" });
    assert.deepEqual(seen, [{ id, payload: { name: "ada" }, attempt: 1 }]);
    assert.deepEqual(job.result, { hello: "ada" });
    assert.equal(job.attempts, 1);
    assert.equal(job.lease, undefined);
    assert.equal(typeof job.finishedAt, "number");
    const stats = await producer.stats();
    assert.equal(stats.totals.pushed, 1);
    assert.equal(stats.totals.completed, 1);
    assert.equal(stats.ready + stats.delayed + stats.active, 0);
  });

  Deno.test(`${name}: a failing handler is retried with backoff, then dead-lettered`, async () => {
    await using stack = await open();
    const producer = stack.client("producer");
    const delayMs = 100;
    const { jobs: [{ id }] } = await producer.push({
      type: "flaky",
      payload: null,
      maxAttempts: 3,
      backoff: { type: "exponential", delayMs, jitter: 0 },
    });
    const starts: { attempt: number; at: number }[] = [];
    const failures: string[] = [];
    await stack.worker({
      workerId: "failer",
      handlers: {
        flaky: (job) => {
          starts.push({ attempt: job.attempt, at: Date.now() });
          throw new Error(`boom on attempt ${job.attempt}`);
        },
      },
      onJobFail: (job, error) => failures.push(`${job.id}: ${(error as Error).message}`),
    });
    const job = await waitFor(async () => {
      const { job } = await producer.get(id);
      return job.state === "dead" ? job : undefined;
    }, { message: "the job to be dead-lettered" });
    assert.deepEqual(starts.map((start) => start.attempt), [1, 2, 3]);
    assert.equal(job.attempts, 3);
    assert.equal(job.lastError, "boom on attempt 3");
    assert.deepEqual(failures, [1, 2, 3].map((n) => `${id}: boom on attempt ${n}`));
    // Backoff: attempt n+1 never starts before delay × 2^(n−1) after attempt n started
    // (the broker sets runAt = time of the failure + delay; same clock here).
    assert.ok(starts[1].at - starts[0].at >= delayMs, "second attempt ran before its backoff");
    assert.ok(starts[2].at - starts[1].at >= 2 * delayMs, "third attempt ran before its backoff");
    const stats = await producer.stats();
    assert.deepEqual(
      [stats.totals.failed, stats.totals.retried, stats.totals.dead, stats.totals.completed],
      [3, 2, 1, 0],
    );
    // Dead means dead: nothing is delivered any more.
    await delay(3 * delayMs);
    assert.equal(starts.length, 3);
  });

  Deno.test(`${name}: a worker never runs more handlers than its concurrency`, async () => {
    await using stack = await open();
    const producer = stack.client("producer");
    const count = 30;
    const concurrency = 3;
    await producer.push(Array.from({ length: count }, (_, n) => ({ type: "slow", payload: n })));
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    await stack.worker({
      workerId: "bounded",
      concurrency,
      handlers: {
        slow: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await delay(15);
          running--;
        },
      },
      onJobComplete: () => done++,
    });
    await waitFor(() => done === count, { message: `${count} completions (got ${done})` });
    await waitFor(async () => (await producer.stats()).totals.completed === count, {
      message: "the broker to record every completion",
    });
    assert.ok(maxRunning <= concurrency, `${maxRunning} handlers ran at once`);
    assert.ok(maxRunning >= 2, `the worker never ran jobs concurrently (max ${maxRunning})`);
  });

  Deno.test(`${name}: two workers share 200 jobs; each runs once, never concurrently`, async () => {
    await using stack = await open();
    const producer = stack.client("producer");
    const count = 200;
    const { jobs } = await producer.push(
      Array.from({ length: count }, (_, n) => ({ type: "shared", payload: { n } })),
    );
    const ids = jobs.map((job) => job.id);
    assert.equal(new Set(ids).size, count);

    const runningNow = new Set<string>();
    const overlaps: string[] = [];
    const runs = new Map<string, string[]>(); // job id -> workers that ran it
    const completions = new Map<string, number>();
    for (const workerId of ["w1", "w2"]) {
      await stack.worker({
        workerId,
        concurrency: 4,
        handlers: {
          shared: async (job) => {
            if (runningNow.has(job.id)) overlaps.push(`${job.id} (${workerId})`);
            runningNow.add(job.id);
            runs.set(job.id, [...(runs.get(job.id) ?? []), workerId]);
            await delay(1 + ((job.payload as { n: number }).n % 3));
            runningNow.delete(job.id);
            return { by: workerId };
          },
        },
        onJobComplete: (job) => completions.set(job.id, (completions.get(job.id) ?? 0) + 1),
      });
    }
    await waitFor(() => completions.size === count, {
      timeoutMs: 15_000,
      message: () => `${count} completions (got ${completions.size})`,
    });
    // Let the last completes land, then check the broker's view.
    await waitFor(async () => (await producer.stats()).totals.completed === count, {
      message: "the broker to record every completion",
    });
    assert.deepEqual(overlaps, [], "a job ran on two handlers at once");
    const twice = [...runs].filter(([, by]) => by.length !== 1);
    assert.deepEqual(twice, [], "a job ran more than once");
    assert.deepEqual([...completions.values()].filter((n) => n !== 1), []);
    const byWorker = { w1: 0, w2: 0 } as Record<string, number>;
    for (const id of ids) {
      const { job } = await producer.get(id);
      assert.equal(job.state, "completed", `job ${id}`);
      assert.equal(job.attempts, 1, `job ${id}`);
      const by = (job.result as { by: string }).by;
      assert.deepEqual(runs.get(id), [by], `job ${id}: the result names the worker that ran it`);
      byWorker[by]++;
    }
    assert.ok(
      byWorker.w1 > 0 && byWorker.w2 > 0,
      `one worker got nothing: ${JSON.stringify(byWorker)}`,
    );
    const stats = await producer.stats();
    assert.equal(stats.totals.completed, count);
    assert.equal(stats.totals.failed + stats.totals.expired, 0);
    assert.equal(stats.ready + stats.delayed + stats.active, 0);
  });
}
