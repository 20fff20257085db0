/**
 * One source of truth for lease length: a Worker that does not set `leaseMs`
 * takes the broker's (`heartbeatTimeoutMs`), and heartbeats at a fraction of
 * the lease the broker granted — so a job that runs several leases long keeps
 * its lease, on the broker's terms.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("lease: the broker's heartbeat timeout wins when the Worker sets no leaseMs", async () => {
  const LEASE_MS = 600;
  const broker = new Broker({
    store: new MemoryStore(),
    heartbeatTimeoutMs: LEASE_MS,
    heartbeatCheckMs: 50,
  });
  await broker.start();
  const server = serveBroker({ backend: broker, port: 0 });
  const client = connectClient({ url: server.url });
  const producer = connectClient({ url: server.url });
  const release = Promise.withResolvers<void>();
  const started = Promise.withResolvers<string>();
  const lost: unknown[] = [];
  const worker = new Worker({
    client,
    workerId: "w",
    handlers: {
      slow: async (job) => {
        started.resolve(job.id);
        await release.promise;
        if (job.signal.aborted) throw job.signal.reason;
        return "done";
      },
    },
    onJobFail: (_job, error) => lost.push(error),
    log: () => {},
  });
  try {
    await worker.start();
    const { jobs } = await producer.push({ type: "slow", payload: null });
    const id = await started.promise;
    assert.equal(id, jobs[0].id);
    // The lease the broker holds is its own, not a Worker default of 30 s.
    const { job } = await producer.get(id);
    assert.equal(job.state, "active");
    const left = job.lease!.expiresAt - Date.now();
    assert.ok(left <= LEASE_MS, `lease has ${left} ms left, more than the broker's ${LEASE_MS}`);
    // Run for five leases: heartbeats at a fraction of the granted lease keep it.
    await new Promise((resolve) => setTimeout(resolve, 5 * LEASE_MS));
    const during = await producer.get(id);
    assert.equal(during.job.state, "active");
    assert.equal(during.job.attempts, 1, "the job was never handed out again");
    release.resolve();
    await waitFor(async () => (await producer.get(id)).job.state === "completed");
    assert.deepEqual(lost, []);
  } finally {
    release.resolve();
    await worker.stop({ timeoutMs: 1000 });
    await client.close();
    await producer.close();
    await server.shutdown();
    await broker.stop();
  }
});
