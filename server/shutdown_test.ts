/**
 * Shutdown of the server edge: every wait is bounded, in-flight requests get
 * their committed replies before the sockets close, and the `ping` keepalive.
 */
import assert from "node:assert/strict";
import type { ClaimedJob } from "../protocol/operations.ts";
import { PushDispatcher } from "./dispatcher.ts";
import { deferred, FakeBackend } from "./_test_fake_backend.ts";
import { ManualClock } from "./_test_manual_clock.ts";
import { TestClient } from "./_test_ws_client.ts";
import { serveBroker } from "./server.ts";

/** Resolves with "settled" or "pending" after letting pending callbacks run. */
async function state(promise: Promise<unknown>): Promise<"settled" | "pending"> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done ? "settled" : "pending";
}

/** Races `promise` against `ms`; throws when it is still pending then. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("dispatcher: a claim aborted in flight that the backend never settles stops blocking settled() after the grace", async () => {
  const backend = new FakeBackend();
  const late = deferred<{ jobs: ClaimedJob[] }>();
  // The claim is already in the commit in flight: the abort does not reach it.
  backend.handlers.claim = () => late.promise;
  const clock = new ManualClock();
  const dispatcher = new PushDispatcher({
    backend,
    clock,
    deliver: () => true,
    abortGraceMs: 1000,
  });
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.ops("claim").length === 1, "claim");
  dispatcher.close();
  const settled = dispatcher.settled();
  clock.advance(999);
  assert.equal(await state(settled), "pending");
  clock.advance(1);
  assert.equal(await state(settled), "settled");
  // The claim's jobs, when they come after all, go back to the queue.
  const job: ClaimedJob = {
    id: "j",
    type: "t",
    payload: null,
    attempt: 1,
    maxAttempts: 3,
    priority: 0,
    createdAt: 1,
    leaseToken: "lease-j",
    leaseExpiresAt: 2,
  };
  late.resolve({ jobs: [job] });
  await backend.until(() => backend.ops("release").length === 1, "release of the late job");
});

Deno.test("shutdown: a push claim in flight that never settles does not hang close()", async () => {
  const backend = new FakeBackend();
  const never = deferred<{ jobs: ClaimedJob[] }>();
  backend.handlers.claim = () => never.promise;
  const server = serveBroker({ backend, port: 0, drainTimeoutMs: 300 });
  const client = await TestClient.connect(server.url);
  await client.call("subscribe", { workerId: "w", credits: 1 });
  await backend.until(() => backend.ops("claim").length === 1, "claim in flight");
  const started = performance.now();
  await within(server.shutdown(), 5_000, "shutdown");
  assert.ok(performance.now() - started < 5_000);
  assert.equal((await client.closed).code, 1001);
  never.resolve({ jobs: [] });
});

Deno.test("shutdown: requests in flight get their committed replies before the sockets close", async () => {
  const backend = new FakeBackend();
  const commit = deferred<{ jobs: { id: string; duplicate: boolean }[] }>();
  backend.handlers.push = () => commit.promise;
  backend.handlers.stats = () => ({ ready: 0 });
  const server = serveBroker({ backend, port: 0 });
  const client = await TestClient.connect(server.url);
  const pushId = client.send("push", { jobs: [{ type: "t", payload: 1 }] });
  await backend.until(() => backend.ops("push").length === 1, "push in flight");
  const shutdown = server.shutdown();
  // Taking no new requests: a request sent now is refused, not run.
  const refused = await client.call("stats");
  assert.equal(refused.error?.code, "shutting_down");
  assert.equal(backend.ops("stats").length, 0);
  const health = await fetch(`${server.url}/healthz`).catch(() => null);
  if (health !== null) {
    assert.equal(health.status, 503);
    await health.body?.cancel();
  }
  assert.equal(await state(shutdown), "pending", "shutdown waits for the request in flight");
  commit.resolve({ jobs: [{ id: "j1", duplicate: false }] });
  const reply = await client.next((f) => f.id === pushId);
  assert.deepEqual(reply.result, { jobs: [{ id: "j1", duplicate: false }] });
  await within(shutdown, 5_000, "shutdown");
  assert.equal((await client.closed).code, 1001);
});

Deno.test("shutdown: a request the backend never answers is given up after drainTimeoutMs", async () => {
  const backend = new FakeBackend();
  const never = deferred<unknown>();
  backend.handlers.get = () => never.promise;
  const lines: string[] = [];
  const server = serveBroker({
    backend,
    port: 0,
    drainTimeoutMs: 200,
    log: (line) => lines.push(line),
  });
  const client = await TestClient.connect(server.url);
  client.send("get", { jobId: "x" });
  await backend.until(() => backend.ops("get").length === 1, "get in flight");
  await within(server.shutdown(), 5_000, "shutdown");
  assert.equal((await client.closed).code, 1001);
  assert.ok(lines.some((line) => /gave up waiting for in-flight requests/.test(line)));
  never.resolve(null);
});

Deno.test("ping: answered at once, before authentication too, without the backend", async () => {
  const backend = new FakeBackend();
  const server = serveBroker({ backend, port: 0, token: "secret" });
  try {
    const client = await TestClient.connect(server.url);
    const before = await client.call("ping");
    assert.deepEqual(before.result, { pong: true });
    const denied = await client.call("stats");
    assert.equal(denied.error?.code, "unauthorized");
    await client.call("hello", { token: "secret" });
    const after = await client.call("ping");
    assert.deepEqual(after.result, { pong: true });
    assert.equal(backend.requests.length, 0);
    await client.close();
  } finally {
    await server.shutdown();
  }
});
