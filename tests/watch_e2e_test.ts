/**
 * Job events over WebSocket: a client watches jobs by type or by id and
 * hears completed, failed, dead, cancelled and progress events once their
 * commits have landed; a reconnect keeps the watch.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { serveBroker } from "../server/server.ts";
import { connectClient } from "../worker/client.ts";
import type { JobEvent } from "../protocol/backend.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("watch: completed, failed, dead, cancelled and progress events, by type and by id", async () => {
  const broker = new Broker({ store: new MemoryStore(), identity: { id: "w" } });
  await broker.start();
  const server = serveBroker({ backend: broker, port: 0, hostname: "127.0.0.1" });
  const watcher = connectClient({ url: server.url });
  const byId = connectClient({ url: server.url });
  const actor = connectClient({ url: server.url });
  try {
    const events: JobEvent[] = [];
    await watcher.watch({ types: ["email"] }, (event) => events.push(event));
    const { jobs } = await actor.push([
      { type: "email", payload: 1 },
      { type: "email", payload: 2, maxAttempts: 2 },
      { type: "email", payload: 3 },
      { type: "other", payload: 4 },
    ]);
    const [a, b, c, d] = jobs.map((job) => job.id);
    const idEvents: JobEvent[] = [];
    await byId.watch({ ids: [d] }, (event) => idEvents.push(event));

    const claimed = (await actor.claim({ workerId: "w1", max: 4 })).jobs;
    const lease = (id: string) => claimed.find((job) => job.id === id)!.leaseToken;
    await actor.request({ op: "progress", jobId: a, leaseToken: lease(a), value: 50 });
    await actor.complete(a, lease(a), { sent: true });
    await actor.fail(b, lease(b), "smtp down"); // attempt 1 of 2: retried
    await actor.cancel(c);
    await actor.complete(d, lease(d));

    await waitFor(() => events.length >= 4 && idEvents.length >= 1, {
      message: () => `events ${JSON.stringify(events)} ${JSON.stringify(idEvents)}`,
    });
    const seen = events.map((event) => `${event.id}:${event.event}`);
    assert.deepEqual(seen, [`${a}:progress`, `${a}:completed`, `${b}:failed`, `${c}:cancelled`]);
    assert.deepEqual(events[0].progress, 50);
    assert.deepEqual(events[1].result, { sent: true });
    assert.equal(events[2].error, "smtp down");
    assert.equal(typeof events[2].runAt, "number");
    assert.deepEqual(idEvents.map((event) => `${event.id}:${event.event}`), [`${d}:completed`]);
    assert.ok(!events.some((event) => event.type === "other"), "the type filter holds");

    // The retried attempt dies: a dead event.
    const again = await actor.claim({ workerId: "w1", types: ["email"], waitMs: 5_000 });
    assert.equal(again.jobs[0].id, b);
    await actor.fail(b, again.jobs[0].leaseToken, "still down");
    await waitFor(() => events.some((event) => event.event === "dead"));
    assert.equal(events.at(-1)?.error, "still down");

    // After unwatch, nothing more arrives.
    await watcher.unwatch();
    const count = events.length;
    const late = (await actor.push({ type: "email", payload: 5 })).jobs[0].id;
    await actor.cancel(late);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(events.length, count);
  } finally {
    await Promise.all([watcher.close(), byId.close(), actor.close()]);
    await server.shutdown();
    await broker.stop();
  }
});
