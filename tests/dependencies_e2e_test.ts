/**
 * Job dependencies end to end: a flow pushed in one call over WebSocket runs
 * in dependency order under real Workers; waiting children and their links
 * survive broker restarts (log replay and checkpoints) and a takeover by
 * another broker; a failed parent kills its children.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import type { BrokerOptions } from "../broker/options.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { waitFor } from "./_helpers.ts";

async function stack(store: MemoryStore, options: Partial<BrokerOptions> = {}) {
  const broker = new Broker({
    store,
    identity: { id: "deps-e2e" },
    archiveMaxAgeMs: 600_000,
    ...options,
  });
  await broker.start();
  const server = serveBroker({ backend: broker, hostname: "127.0.0.1", port: 0 });
  const client = connectClient({ url: server.url, clientId: "deps" });
  return {
    broker,
    client,
    url: server.url,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.shutdown();
      await broker.stop();
    },
  };
}

Deno.test("a flow pushed in one call runs in dependency order under Workers", async () => {
  await using s = await stack(new MemoryStore());
  const order: string[] = [];
  const { jobs } = await s.client.push([
    { type: "step", payload: "download" },
    { type: "step", payload: "resize", dependsOn: [0] },
    { type: "step", payload: "thumbnail", dependsOn: [0] },
    { type: "step", payload: "publish", dependsOn: [1, 2] },
  ]);
  const workerClient = connectClient({ url: s.url, clientId: "w" });
  const worker = new Worker({
    client: workerClient,
    workerId: "w",
    concurrency: 4,
    handlers: {
      step: (job) => {
        order.push(job.payload as string);
      },
    },
  });
  await worker.start();
  try {
    await waitFor(async () =>
      (await s.client.get(jobs[3].id)).job.state === "completed" ? true : undefined
    );
  } finally {
    await worker.stop({ timeoutMs: 2000 });
    await workerClient.close();
  }
  assert.equal(order[0], "download");
  assert.equal(order[3], "publish");
  assert.deepEqual(new Set(order.slice(1, 3)), new Set(["resize", "thumbnail"]));
});

for (
  const [name, options] of [
    ["log replay", { checkpointMinRecords: 100_000, checkpointMaxRecords: 100_000 }],
    ["a checkpoint", { checkpointMinRecords: 1, checkpointMinIntervalMs: 0 }],
  ] as const
) {
  Deno.test(`waiting children survive a broker restart (${name}) and a takeover`, async () => {
    const store = new MemoryStore();
    let ids: string[];
    {
      await using s = await stack(store, options);
      ids = (await s.client.push([
        { type: "parent", payload: 1 },
        { type: "child", payload: 2, dependsOn: [0] },
        { type: "doomed", payload: 3, dependsOn: [0] },
      ])).jobs.map((j) => j.id);
      // More commits, so that a checkpoint can be written when asked for.
      for (let i = 0; i < 5; i++) await s.client.push({ type: "filler", payload: i });
      if (name === "a checkpoint") {
        await waitFor(() => s.broker.metrics.checkpoints > 0 ? true : undefined);
      } else assert.equal(s.broker.metrics.checkpoints, 0);
    }
    {
      await using s = await stack(store, options);
      const child = (await s.client.get(ids[1])).job;
      assert.equal(child.state, "delayed");
      assert.deepEqual(child.dependsOn, [ids[0]]);
      assert.deepEqual((await s.client.get(ids[0])).job.children, [ids[1], ids[2]]);
      assert.equal((await s.client.claim({ workerId: "w", types: ["child"] })).jobs.length, 0);
      await s.client.cancel(ids[2]); // a waiting child can be cancelled on its own
    }
    // Another broker (another identity) takes over the same store.
    await using s = await stack(store, { ...options, identity: { id: "deps-e2e-2" } });
    const [parent] = (await s.client.claim({ workerId: "w", types: ["parent"] })).jobs;
    assert.equal(parent.id, ids[0]);
    await s.client.complete(parent.id, parent.leaseToken);
    const [child] = (await s.client.claim({ workerId: "w", types: ["child"] })).jobs;
    assert.equal(child?.id, ids[1]);
    assert.equal((await s.client.get(ids[2])).job.state, "cancelled");
  });
}

Deno.test("a parent that fails for good kills its children over WebSocket", async () => {
  await using s = await stack(new MemoryStore());
  const [p, c] = (await s.client.push([
    { type: "p", payload: null, maxAttempts: 1 },
    { type: "c", payload: null, dependsOn: [0] },
  ])).jobs.map((j) => j.id);
  const [job] = (await s.client.claim({ workerId: "w", types: ["p"] })).jobs;
  await s.client.fail(job.id, job.leaseToken, "no disk");
  const child = (await s.client.get(c)).job;
  assert.equal(child.state, "dead");
  assert.match(child.lastError ?? "", new RegExp(`parent job "${p}" is dead`));
  await assert.rejects(
    s.client.push({ type: "c", payload: null, dependsOn: [p] }),
    { code: "validation" },
  );
});
