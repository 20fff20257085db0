/**
 * Failover end to end in one process: two brokers with servers on one store.
 * The standby takes over from a silent leader; a client still talking to the
 * deposed broker gets `not_leader` with the new leader's URL and follows it,
 * and a Worker subscribed to the old broker ends up on the new one.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { type BrokerServer, serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { waitFor } from "./_helpers.ts";

/** Serves a broker that is built once the server's URL is known (it advertises that URL). */
function serveLate(make: (url: string) => Broker): { server: BrokerServer; broker: Broker } {
  const late: { broker?: Broker } = {};
  const backend: QueueBackend = {
    request: (operation, options) => late.broker!.request(operation, options),
    leaderInfo: () => late.broker!.leaderInfo(),
  };
  const server = serveBroker({ backend, hostname: "127.0.0.1", port: 0 });
  const broker = make(server.url);
  late.broker = broker;
  return { server, broker };
}

Deno.test("failover: clients follow not_leader to the new leader", async () => {
  const store = new MemoryStore();
  const a = serveLate((url) =>
    new Broker({ store, identity: { id: "a", url }, renewIntervalMs: 3_600_000 })
  );
  await a.broker.start();
  const b = serveLate((url) =>
    new Broker({ store, identity: { id: "b", url }, takeoverTimeoutMs: 150, standbyPollMs: 10 })
  );
  await b.broker.start();
  const producer = connectClient({ url: a.server.url });
  const workerClient = connectClient({ url: a.server.url });
  const done: string[] = [];
  const worker = new Worker({
    client: workerClient,
    workerId: "w",
    concurrency: 2,
    handlers: {
      task: (job) => {
        done.push(job.id);
        return Promise.resolve(null);
      },
    },
  });
  try {
    await worker.start();
    const first = await producer.push({ type: "task", payload: 1 });
    await waitFor(() => done.includes(first.jobs[0].id));

    // a stays silent past b's takeover timeout: b leads now.
    await waitFor(() => b.broker.role === "leader");
    // The producer still talks to a: a's write conflicts, it steps down and
    // answers not_leader with b's URL; the client follows and retries there.
    const second = await producer.push({ type: "task", payload: 2 });
    assert.equal(a.broker.role, "standby");
    assert.equal(producer.url.replace(/\/$/, ""), b.server.url.replace(/\/$/, ""));
    const stats = await b.broker.request({ op: "stats" });
    assert.equal(stats.totals.pushed, 2);
    // The worker, subscribed to a, is moved to b and runs the new job.
    await waitFor(() => done.includes(second.jobs[0].id), { timeoutMs: 15_000 });
    assert.equal(new Set(done).size, done.length, "no job ran twice");
  } finally {
    await worker.stop({ timeoutMs: 1000 });
    await producer.close();
    await workerClient.close();
    await a.server.shutdown();
    await b.server.shutdown();
    await a.broker.stop();
    await b.broker.stop();
  }
});
