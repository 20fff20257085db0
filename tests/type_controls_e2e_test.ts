/**
 * Per-type claim controls end to end: pause/resume and rate/concurrency
 * limits over real WebSockets, parked long-poll claims woken by a resume and
 * by the end of a rate-limit window, admin-only access, and the settings and
 * window counters surviving a broker restart on the same store.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { delay } from "./_helpers.ts";

const MONTH_MS = 30 * 24 * 3600_000;

async function stack(store = new MemoryStore()) {
  // No periodic ticks (expiry checks, renewals) within a test: only the
  // broker's own wake-ups (requests, due times, window ends) answer parked claims.
  const broker = new Broker({
    store,
    identity: { id: "controls-e2e" },
    heartbeatCheckMs: 60_000,
    takeoverTimeoutMs: 180_000,
    renewIntervalMs: 60_000,
  });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    hostname: "127.0.0.1",
    port: 0,
    tokens: [
      { token: "admin-secret", role: "admin" },
      { token: "worker-secret", role: "worker" },
      { token: "producer-secret", role: "producer" },
    ],
  });
  const admin = connectClient({ url: server.url, clientId: "admin", token: "admin-secret" });
  const worker = connectClient({ url: server.url, clientId: "worker", token: "worker-secret" });
  const producer = connectClient({ url: server.url, clientId: "prod", token: "producer-secret" });
  return {
    store,
    broker,
    admin,
    worker,
    producer,
    async [Symbol.asyncDispose]() {
      await Promise.all([admin.close(), worker.close(), producer.close()]);
      await server.shutdown();
      await broker.stop();
    },
  };
}

Deno.test("pause over WebSocket: a parked claim stays parked, resume wakes it; only admins may pause", async () => {
  await using s = await stack();
  await assert.rejects(s.worker.pause(["email"]), (e: Error & { code?: string }) => {
    assert.equal(e.code, "forbidden");
    return true;
  });
  await assert.rejects(s.producer.limit("email", { maxActive: 1 }), { code: "forbidden" });
  assert.deepEqual(await s.admin.pause(["email"]), { paused: ["email"] });
  const [{ id }] = (await s.producer.push({ type: "email", payload: { to: "a" } })).jobs;
  assert.equal((await s.producer.get(id)).job.state, "ready", "pushes are still accepted");
  let settled = false;
  const parked = s.worker.claim({ workerId: "w1", types: ["email"], waitMs: 10_000 }).finally(
    () => settled = true,
  );
  await delay(300);
  assert.equal(settled, false, "the claim waits while the type is paused");
  assert.deepEqual((await s.producer.stats()).paused, ["email"]);
  assert.deepEqual(await s.admin.resume(["email"]), { paused: [] });
  const { jobs } = await parked;
  assert.deepEqual(jobs.map((j) => j.id), [id]);
});

Deno.test("rate limit over WebSocket: N per window, a parked claim is woken when the window ends", async () => {
  await using s = await stack();
  await s.admin.limit("api", { maxPerWindow: 2, windowMs: 500 });
  await s.producer.push(Array.from({ length: 5 }, (_, i) => ({ type: "api", payload: i })));
  const first = await s.worker.claim({ workerId: "w1", types: ["api"], max: 10 });
  assert.ok(first.jobs.length >= 1 && first.jobs.length <= 2, `got ${first.jobs.length}`);
  // Whatever is left of this window's budget, then a claim that must wait for a later window.
  const rest = 2 - first.jobs.length;
  if (rest > 0) await s.worker.claim({ workerId: "w1", types: ["api"], max: rest });
  // Answered with jobs only if the broker wakes at the window end (nothing else ticks for 60 s).
  const later = await s.worker.claim({ workerId: "w1", types: ["api"], max: 10, waitMs: 3_000 });
  assert.ok(later.jobs.length >= 1 && later.jobs.length <= 2, `got ${later.jobs.length}`);
  const stats = await s.producer.stats();
  assert.equal(stats.typeLimits?.api.maxPerWindow, 2);
  assert.ok(stats.typeLimits!.api.active >= 2);
});

Deno.test("maxActive over WebSocket: a completion elsewhere wakes a parked claim", async () => {
  await using s = await stack();
  await s.admin.limit("render", { maxActive: 1 });
  await s.producer.push([{ type: "render", payload: 1 }, { type: "render", payload: 2 }]);
  const [held] = (await s.worker.claim({ workerId: "w1", types: ["render"], max: 5 })).jobs;
  assert.ok(held !== undefined);
  const parked = s.worker.claim({ workerId: "w2", types: ["render"], waitMs: 10_000 });
  await delay(200);
  await s.worker.complete(held.id, held.leaseToken);
  const { jobs } = await parked;
  assert.equal(jobs.length, 1);
  assert.notEqual(jobs[0].id, held.id);
});

Deno.test("pause, limits and the window counter survive a broker restart on the same store", async () => {
  const store = new MemoryStore();
  {
    await using s = await stack(store);
    await s.admin.pause(["paused-type"]);
    await s.admin.limit("api", { maxPerWindow: 2, windowMs: MONTH_MS, maxActive: 10 });
    await s.producer.push(Array.from({ length: 4 }, (_, i) => ({ type: "api", payload: i })));
    const { jobs } = await s.worker.claim({ workerId: "w1", types: ["api"], max: 4 });
    assert.equal(jobs.length, 2);
  }
  await using s = await stack(store);
  const stats = await s.producer.stats();
  assert.deepEqual(stats.paused, ["paused-type"]);
  assert.equal(stats.typeLimits?.api.startedInWindow, 2);
  assert.equal(stats.typeLimits?.api.maxActive, 10);
  assert.equal(stats.ready, 2);
  const { jobs } = await s.worker.claim({ workerId: "w2", types: ["api"], max: 4 });
  assert.equal(jobs.length, 0, "the window's budget was used before the restart");
});
