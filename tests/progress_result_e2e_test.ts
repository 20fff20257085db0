/**
 * Progress and results end to end: a Worker handler reports progress (stored
 * on the job, seen by `get` while it runs, kept across a broker restart), a
 * producer's `submit(...).result()` resolves with the handler's result, or
 * rejects with `JobFailedError` / `TimeoutError`.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { JobFailedError, TimeoutError } from "../errors.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";

Deno.test("progress from a handler, and submit().result() over WebSocket", async () => {
  const store = new MemoryStore();
  const broker = new Broker({ store, identity: { id: "progress-e2e" }, archiveMaxAgeMs: 600_000 });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    hostname: "127.0.0.1",
    port: 0,
    tokens: [
      { token: "w", role: "worker" },
      { token: "p", role: "producer" },
    ],
  });
  const producer = connectClient({ url: server.url, clientId: "p", token: "p" });
  const workerClient = connectClient({ url: server.url, clientId: "w", token: "w" });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const worker = new Worker({
    client: workerClient,
    workerId: "w",
    handlers: {
      resize: async (job) => {
        await job.progress({ done: 1, total: 2 });
        await gate;
        await job.progress(100);
        return { url: `/img/${(job.payload as { n: number }).n}.png` };
      },
      broken: () => {
        throw new Error("disk full");
      },
    },
  });
  await worker.start();
  try {
    const handle = await producer.submit({ type: "resize", payload: { n: 7 } });
    // While the handler waits, its progress is visible.
    for (let i = 0; i < 200; i++) {
      if ((await producer.get(handle.id)).job.progress !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const running = (await producer.get(handle.id)).job;
    assert.equal(running.state, "active");
    assert.deepEqual(running.progress, { done: 1, total: 2 });
    await assert.rejects(handle.result({ timeoutMs: 100 }), TimeoutError);
    release();
    assert.deepEqual(await handle.result({ timeoutMs: 10_000 }), { url: "/img/7.png" });
    assert.equal((await producer.get(handle.id)).job.progress, 100);

    const bad = await producer.submit({ type: "broken", payload: null, maxAttempts: 1 });
    await assert.rejects(bad.result({ timeoutMs: 10_000 }), (error: unknown) => {
      assert.ok(error instanceof JobFailedError);
      assert.match(error.message, /is dead: disk full/);
      assert.equal(error.data?.state, "dead");
      return true;
    });
    // A producer token cannot report progress.
    await assert.rejects(
      producer.progress(handle.id, "whatever", 1),
      { code: "forbidden" },
    );
  } finally {
    await worker.stop({ timeoutMs: 2000 });
    await Promise.all([producer.close(), workerClient.close()]);
    await server.shutdown();
    await broker.stop();
  }
  // The progress is part of the job's record: a restarted broker still shows it.
  const again = new Broker({ store, identity: { id: "progress-e2e" } });
  await again.start();
  try {
    const { jobs } = await again.request({ op: "list", state: "completed", type: "resize" });
    assert.equal(jobs[0]?.progress, 100);
  } finally {
    await again.stop();
  }
});
