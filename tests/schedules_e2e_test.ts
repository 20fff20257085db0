/**
 * Schedules end to end: set over WebSocket (admin only), the broker pushes
 * the job at the due time on its own (its wake-up timer, no other tick), and
 * one job per due time across a takeover by another broker and a restart.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import type { BrokerOptions } from "../broker/options.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { delay, waitFor } from "./_helpers.ts";

async function stack(store: MemoryStore, options: Partial<BrokerOptions> = {}) {
  const broker = new Broker({
    store,
    identity: { id: "schedules-e2e" },
    // No periodic ticks within a test: only the broker's wake-ups run schedules.
    heartbeatCheckMs: 60_000,
    takeoverTimeoutMs: 180_000,
    renewIntervalMs: 60_000,
    archiveMaxAgeMs: 600_000,
    ...options,
  });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    hostname: "127.0.0.1",
    port: 0,
    tokens: [
      { token: "admin-secret", role: "admin" },
      { token: "producer-secret", role: "producer" },
    ],
  });
  const admin = connectClient({ url: server.url, clientId: "admin", token: "admin-secret" });
  const producer = connectClient({ url: server.url, clientId: "p", token: "producer-secret" });
  return {
    broker,
    url: server.url,
    admin,
    producer,
    async [Symbol.asyncDispose]() {
      await Promise.all([admin.close(), producer.close()]);
      await server.shutdown();
      await broker.stop();
    },
  };
}

Deno.test("a schedule set over WebSocket pushes its job when due; only admins manage schedules", async () => {
  await using s = await stack(new MemoryStore());
  await assert.rejects(
    s.producer.schedule("x", { everyMs: 1000, job: { type: "x", payload: null } }),
    { code: "forbidden" },
  );
  const { schedule } = await s.admin.schedule("tick", {
    everyMs: 1000,
    job: { type: "tick", payload: { hello: 1 } },
  });
  assert.ok(schedule.nextRunAt! > Date.now());
  // A parked long-poll claim (no other request meanwhile) gets the job only if the broker
  // wakes at the schedule's due time by itself.
  const worker = connectClient({ url: s.url, clientId: "w", token: "admin-secret" });
  try {
    const { jobs } = await worker.claim({ workerId: "w", types: ["tick"], waitMs: 4000 });
    assert.deepEqual(jobs.map((j) => j.payload), [{ hello: 1 }]);
  } finally {
    await worker.close();
  }
  const [listed] = (await s.admin.schedules()).schedules;
  assert.equal(listed.name, "tick");
  assert.ok(listed.lastRunAt !== undefined);
  assert.equal((await s.admin.unschedule("tick")).removed, true);
  const count = (await s.producer.stats()).byType.tick;
  await delay(1500);
  assert.equal((await s.producer.stats()).byType.tick, count, "no runs once removed");
});

Deno.test("one job per due time across a takeover and a restart (catchUp)", async () => {
  const store = new MemoryStore();
  let first: number;
  {
    await using s = await stack(store);
    const { schedule } = await s.admin.schedule("beat", {
      everyMs: 1000,
      job: { type: "beat", payload: null },
      missed: "catchUp",
    });
    first = schedule.nextRunAt!;
    await waitFor(async () =>
      ((await s.producer.stats()).byType.beat ?? 0) >= 2 ? true : undefined
    );
  }
  {
    // Another broker takes over (the first stepped down).
    await using s = await stack(store, { identity: { id: "schedules-e2e-2" } });
    const before = (await s.producer.stats()).byType.beat ?? 0;
    await waitFor(async () =>
      ((await s.producer.stats()).byType.beat ?? 0) >= before + 2 ? true : undefined
    );
  }
  await delay(1200); // runs missed while no broker ran: catchUp pushes them
  await using s = await stack(store);
  await waitFor(async () => {
    const [schedule] = (await s.admin.schedules()).schedules;
    return schedule.lastRunAt !== undefined && schedule.lastRunAt > Date.now() - 1000
      ? true
      : undefined;
  });
  const { schedule } = await s.admin.unschedule("beat");
  const jobs = (await s.producer.stats()).byType.beat;
  // Every due time from the first run to the last pushed exactly one job: no gap, no duplicate.
  assert.ok(jobs >= 5, `got ${jobs}`);
  assert.equal(jobs, (schedule!.lastRunAt! - first) / 1000 + 1);
});
