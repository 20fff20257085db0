import assert from "node:assert/strict";
import { z } from "zod";
import { Broker } from "./broker.ts";
import { Queue } from "./queue.ts";
import { JobNotFoundError, LeaseLostError, ValidationError } from "../errors.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import type { PushOperation } from "../protocol/operations.ts";

const Email = z.object({ to: z.string().email(), subject: z.string().min(1) });
type Email = z.infer<typeof Email>;

Deno.test("Queue: push, claim, heartbeat, complete with a typed payload", async () => {
  const queue = await Queue.open<Email>({ store: new MemoryStore(), schema: Email, type: "email" });
  const id = await queue.push({ to: "a@example.com", subject: "hi" }, { priority: 5 });
  const [job] = await queue.claim();
  assert.equal(job.id, id);
  assert.equal(job.payload.to, "a@example.com");
  assert.equal(job.priority, 5);
  const expires = await queue.heartbeat(job, 60_000);
  assert.ok(expires >= job.leaseExpiresAt);
  await queue.complete(job, { ok: true });
  const record = await queue.get(id);
  assert.equal(record.state, "completed");
  assert.deepEqual(record.result, { ok: true });
  await assert.rejects(queue.complete(job), LeaseLostError);
  await queue.close();
});

Deno.test("Queue: an invalid payload is refused at push and nothing is written", async () => {
  const store = new MemoryStore();
  const queue = await Queue.open<Email>({ store, schema: Email });
  const before = await store.get("queue.json");
  const error = await queue.push({ to: "nope", subject: "" }).catch((e) => e);
  assert.ok(error instanceof ValidationError);
  assert.match(error.message, /to: .*email/i);
  assert.match(error.message, /subject/);
  assert.equal((await store.get("queue.json"))?.etag, before?.etag);
  assert.equal((await queue.stats()).totals.pushed, 0);
  await queue.close();
});

Deno.test("Queue: a payload that fails the schema at claim is dead-lettered, not returned", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  // Someone without the schema pushes a bad payload of the same type.
  const { jobs } = await broker.request<PushOperation>({
    op: "push",
    jobs: [{ type: "email", payload: { to: 42 } }, {
      type: "email",
      payload: { to: "b@example.com", subject: "ok" },
    }],
  });
  const queue = new Queue<Email>(broker, { schema: Email, type: "email" });
  const claimed = await queue.claim({ max: 10 });
  assert.deepEqual(claimed.map((job) => job.id), [jobs[1].id]);
  const bad = await queue.get(jobs[0].id);
  assert.equal(bad.state, "dead");
  assert.match(bad.lastError ?? "", /invalid email payload at claim/);
  await queue.close(); // a queue over a broker it did not start leaves it running
  assert.equal(broker.role, "leader");
  await broker.stop();
});

Deno.test("Queue: fail retries with backoff, then dead-letters after maxAttempts", async () => {
  let now = 1_000_000;
  const queue = await Queue.open<number>({
    store: new MemoryStore(),
    clock: { now: () => now },
  });
  const id = await queue.push(7, { maxAttempts: 2, backoff: { type: "fixed", delayMs: 1000 } });
  const [first] = await queue.claim();
  const retry = await queue.fail(first, "boom");
  assert.equal(retry.state, "delayed");
  assert.equal(retry.runAt, now + 1000);
  assert.deepEqual(await queue.claim(), [], "not before its backoff");
  now += 1000;
  const [second] = await queue.claim();
  assert.equal(second.attempt, 2);
  assert.equal((await queue.fail(second, "boom again")).state, "dead");
  const record = await queue.get(id);
  assert.equal(record.state, "dead");
  assert.equal(record.lastError, "boom again");
  await queue.close();
});

Deno.test("Queue: release, cancel, idempotency and unknown ids", async () => {
  const queue = await Queue.open<string>({ store: new MemoryStore() });
  const a = await queue.push("a", { idempotencyKey: "k1" });
  assert.equal(await queue.push("again", { idempotencyKey: "k1" }), a);
  const [job] = await queue.claim();
  await queue.release(job);
  const [again] = await queue.claim();
  assert.equal(again.id, a);
  assert.equal(again.attempt, 1, "a released attempt is not counted");
  assert.equal(await queue.cancel(a), true);
  await assert.rejects(queue.heartbeat(again), LeaseLostError);
  await assert.rejects(queue.get("no-such-job"), JobNotFoundError);
  await assert.rejects(queue.cancel("no-such-job"), JobNotFoundError);
  await queue.close();
});

Deno.test("Queue: state survives a restart on a directory store", async () => {
  const root = await Deno.makeTempDir({ prefix: "osqueue-queue-" });
  try {
    const first = await Queue.open<string>({ store: new DirectoryStore({ root }) });
    const ids = await first.pushMany(["x", "y", "z"]);
    await first.close();
    const second = await Queue.open<string>({ store: new DirectoryStore({ root }) });
    const claimed = await second.claim({ max: 10 });
    assert.deepEqual(claimed.map((job) => job.id), ids);
    assert.deepEqual(claimed.map((job) => job.payload), ["x", "y", "z"]);
    await second.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Queue: payloads are copied in and out, so callers cannot mutate the state", async () => {
  const queue = await Queue.open<{ list: number[] }>({ store: new MemoryStore() });
  const payload = { list: [1] };
  const id = await queue.push(payload);
  payload.list.push(2);
  const [job] = await queue.claim();
  assert.deepEqual(job.payload, { list: [1] });
  job.payload.list.push(3);
  const record = await queue.get(id);
  assert.deepEqual(record.payload, { list: [1] });
  (record.payload as { list: number[] }).list.push(4);
  assert.deepEqual((await queue.get(id)).payload, { list: [1] });
  await queue.close();
});
