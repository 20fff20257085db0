import assert from "node:assert/strict";
import { z } from "zod";
import {
  DisconnectedError,
  LeaseLostError,
  ShuttingDownError,
  ValidationError,
} from "../errors.ts";
import type { ClaimedJob, JsonValue } from "../protocol/operations.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import type { DeliveryHandler, FailOptions } from "./client_options.ts";
import type { HeartbeatLoopOptions } from "./heartbeat_loop.ts";
import { defineJobs } from "./registry.ts";
import { createShutdownHandler } from "./shutdown_handler.ts";
import { type JobContext, Worker, type WorkerClient } from "./worker.ts";
import { waitUntil } from "./_test_server.ts";

type Call =
  | { method: "credit"; credits: number }
  | { method: "complete"; jobId: string; token: string; result?: JsonValue }
  | { method: "fail"; jobId: string; token: string; error: string; options?: FailOptions }
  | { method: "release"; jobId: string; token: string }
  | { method: "unsubscribe" };

/** A test double of the client: records calls, lets the test deliver jobs and lose leases. */
class FakeClient implements WorkerClient {
  subscribed?: SubscribeParams;
  onJobs?: DeliveryHandler;
  calls: Call[] = [];
  heartbeats = new Map<string, { options: HeartbeatLoopOptions; stopped: boolean }>();

  subscribe(params: SubscribeParams, onJobs: DeliveryHandler): Promise<void> {
    this.subscribed = params;
    this.onJobs = onJobs;
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    this.calls.push({ method: "unsubscribe" });
    return Promise.resolve();
  }
  credit(credits: number): Promise<void> {
    this.calls.push({ method: "credit", credits });
    return Promise.resolve();
  }
  heartbeat(): Promise<unknown> {
    return Promise.resolve({ leaseExpiresAt: 0 });
  }
  startHeartbeat(_jobId: string, leaseToken: string, options: HeartbeatLoopOptions): () => void {
    const entry = { options, stopped: false };
    this.heartbeats.set(leaseToken, entry);
    return () => entry.stopped = true;
  }
  /** Errors the next `complete` calls reject with, in order. */
  completeErrors: Error[] = [];

  complete(jobId: string, token: string, result?: JsonValue): Promise<unknown> {
    this.calls.push(
      result === undefined
        ? { method: "complete", jobId, token }
        : { method: "complete", jobId, token, result },
    );
    const error = this.completeErrors.shift();
    return error === undefined ? Promise.resolve({ ok: true }) : Promise.reject(error);
  }
  fail(jobId: string, token: string, error: string, options?: FailOptions): Promise<unknown> {
    this.calls.push({ method: "fail", jobId, token, error, options });
    return Promise.resolve({ state: "ready" });
  }
  release(jobId: string, token: string): Promise<unknown> {
    this.calls.push({ method: "release", jobId, token });
    return Promise.resolve({ ok: true });
  }

  deliver(...jobs: ClaimedJob[]): void {
    assert.ok(this.onJobs, "not subscribed");
    this.onJobs(jobs);
  }
  loseLease(token: string): void {
    const entry = this.heartbeats.get(token);
    assert.ok(entry, `no heartbeat for ${token}`);
    entry.options.onLost(new LeaseLostError("stale"));
  }
  of<M extends Call["method"]>(method: M): Extract<Call, { method: M }>[] {
    return this.calls.filter((c): c is Extract<Call, { method: M }> => c.method === method);
  }
}

function job(id: string, type = "t", payload: JsonValue = { n: 1 }): ClaimedJob {
  return {
    id,
    type,
    payload,
    attempt: 1,
    maxAttempts: 3,
    priority: 0,
    createdAt: 0,
    leaseToken: `tok-${id}`,
    leaseExpiresAt: 0,
  };
}

/** A promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const quiet = () => {};

Deno.test("Worker subscribes to its handler types with credits = concurrency + prefetch", async () => {
  const unbuffered = new FakeClient();
  const plain = new Worker({
    client: unbuffered,
    workerId: "w0",
    concurrency: 3,
    prefetch: 0,
    handlers: { a: () => {} },
    log: quiet,
  });
  await plain.start();
  assert.equal(unbuffered.subscribed?.credits, 3);
  await plain.stop();
  assert.throws(
    () =>
      new Worker({ client: unbuffered, workerId: "x", prefetch: -1, handlers: { a: () => {} } }),
    /prefetch must be an integer ≥ 0/,
  );

  const client = new FakeClient();
  const worker = new Worker({
    client,
    workerId: "w1",
    concurrency: 3,
    leaseMs: 900,
    handlers: { a: () => {}, b: () => {} },
    log: quiet,
  });
  await worker.start();
  assert.deepEqual(client.subscribed, {
    workerId: "w1",
    types: ["a", "b"],
    credits: 6, // prefetch defaults to the concurrency
    leaseMs: 900,
  });
  assert.equal(worker.state, "running");
  await worker.stop();
  assert.equal(worker.state, "stopped");
});

Deno.test("Worker never runs more than `concurrency` handlers and releases extra deliveries", async () => {
  const client = new FakeClient();
  const gates = new Map<string, ReturnType<typeof deferred<JsonValue>>>();
  let running = 0;
  let maxRunning = 0;
  const worker = new Worker({
    client,
    workerId: "w",
    concurrency: 2,
    prefetch: 0,
    log: quiet,
    handlers: {
      t: async (ctx) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const gate = deferred<JsonValue>();
        gates.set(ctx.id, gate);
        try {
          return await gate.promise;
        } finally {
          running--;
        }
      },
    },
  });
  await worker.start();
  // A misbehaving broker sends three jobs for two credits.
  client.deliver(job("1"), job("2"), job("3"));
  await waitUntil(() => gates.size === 2 && client.of("release").length === 1, "two running");
  assert.deepEqual(client.of("release"), [{ method: "release", jobId: "3", token: "tok-3" }]);
  assert.equal(worker.running, 2);
  assert.deepEqual(client.of("credit"), [], "no credit for the released extra");

  // One finishes: exactly one credit comes back, and the result completes the job.
  gates.get("1")!.resolve({ done: 1 });
  await waitUntil(() => client.of("credit").length === 1, "credit");
  assert.deepEqual(client.of("complete"), [
    { method: "complete", jobId: "1", token: "tok-1", result: { done: 1 } },
  ]);
  client.deliver(job("4"));
  await waitUntil(() => gates.has("4"), "job 4 started");
  gates.get("2")!.resolve(null);
  gates.get("4")!.resolve("ok");
  await waitUntil(() => client.of("credit").length === 3, "three credits");
  assert.deepEqual(client.of("credit").map((c) => c.credits), [1, 1, 1]);
  assert.equal(maxRunning, 2);
  assert.deepEqual(client.of("release").map((c) => c.jobId), ["3"]);
  await worker.stop();
});

Deno.test("a handler that returns nothing completes the job without a result", async () => {
  const client = new FakeClient();
  const worker = new Worker({ client, workerId: "w", log: quiet, handlers: { t: () => {} } });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("complete").length === 1, "complete");
  assert.deepEqual(client.of("complete")[0], { method: "complete", jobId: "1", token: "tok-1" });
  await worker.stop();
});

Deno.test("a throwing handler fails the job with its message (retries apply)", async () => {
  const client = new FakeClient();
  const failures: unknown[] = [];
  const worker = new Worker({
    client,
    workerId: "w",
    log: quiet,
    onJobFail: (job, error) => failures.push([job.id, error]),
    handlers: {
      t: () => {
        throw new Error("smtp down");
      },
    },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("fail").length === 1, "fail");
  assert.deepEqual(client.of("fail")[0], {
    method: "fail",
    jobId: "1",
    token: "tok-1",
    error: "smtp down",
    options: {},
  });
  assert.deepEqual(client.of("complete"), []);
  await waitUntil(() => client.of("credit").length === 1, "credit");
  assert.equal(failures.length, 1);
  const [id, error] = failures[0] as [string, Error];
  assert.equal(id, "1");
  assert.equal(error.message, "smtp down");
  await worker.stop();
});

Deno.test("an invalid payload fails the job with retry:false and the validation message", async () => {
  const client = new FakeClient();
  const jobs = defineJobs({
    "email:send": z.object({ to: z.email(), subject: z.string() }),
  });
  let called = 0;
  const seen: { to: string; subject: string }[] = [];
  const worker = new Worker({
    client,
    workerId: "w",
    registry: jobs,
    log: quiet,
    handlers: {
      "email:send": (ctx) => {
        called++;
        seen.push(ctx.payload);
        return { to: ctx.payload.to };
      },
    },
  });
  await worker.start();
  assert.deepEqual(client.subscribed?.types, ["email:send"]);
  client.deliver(job("bad", "email:send", { to: "not-an-email" }));
  client.deliver(job("good", "email:send", { to: "a@example.com", subject: "hi" }));
  await waitUntil(
    () => client.of("fail").length === 1 && client.of("complete").length === 1,
    "both",
  );
  const [failed] = client.of("fail");
  assert.equal(failed.jobId, "bad");
  assert.deepEqual(failed.options, { retry: false });
  assert.match(failed.error, /"email:send"/);
  assert.match(failed.error, /\bto\b/);
  assert.match(failed.error, /\bsubject\b/);
  assert.equal(called, 1);
  assert.deepEqual(seen, [{ to: "a@example.com", subject: "hi" }]);
  await waitUntil(() => client.of("credit").length === 2, "credits for both");
  await worker.stop();
});

Deno.test("a complete lost to a dropped connection is repeated; lease_lost then means it landed", async () => {
  const client = new FakeClient();
  const logged: string[] = [];
  client.completeErrors = [
    new DisconnectedError("connection lost"),
    new LeaseLostError("already completed"),
  ];
  const worker = new Worker({
    client,
    workerId: "w",
    log: (level, message) => logged.push(`${level}:${message}`),
    handlers: { t: () => 1 },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("complete").length === 2, "the repeated complete");
  await worker.stop();
  assert.equal(client.of("complete").length, 2);
  assert.ok(logged.includes("debug:complete had already landed"));
  assert.ok(!logged.some((line) => line.startsWith("warn:")), logged.join("\n"));
});

Deno.test("a complete rejected for a non-transport reason is not repeated", async () => {
  const client = new FakeClient();
  const logged: string[] = [];
  client.completeErrors = [new ValidationError("result too large")];
  const worker = new Worker({
    client,
    workerId: "w",
    log: (level, message) => logged.push(`${level}:${message}`),
    handlers: { t: () => 1 },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => logged.includes("warn:complete failed"), "warning");
  await worker.stop();
  assert.equal(client.of("complete").length, 1);
});

Deno.test("a handler throwing ValidationError fails the job without retry", async () => {
  const client = new FakeClient();
  const worker = new Worker({
    client,
    workerId: "w",
    log: quiet,
    handlers: {
      t: () => {
        throw new ValidationError("customer id unknown");
      },
    },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("fail").length === 1, "fail");
  assert.deepEqual(client.of("fail")[0].options, { retry: false });
  assert.equal(client.of("fail")[0].error, "customer id unknown");
  await worker.stop();
});

Deno.test("a job of a type without a handler is failed and its credit returned", async () => {
  const client = new FakeClient();
  const worker = new Worker({ client, workerId: "w", log: quiet, handlers: { t: () => {} } });
  await worker.start();
  client.deliver(job("x", "other"));
  await waitUntil(() => client.of("credit").length === 1, "credit");
  assert.match(client.of("fail")[0].error, /no handler for job type "other"/);
  await worker.stop();
});

Deno.test("a lost lease aborts the handler's signal and its outcome is not completed", async () => {
  const client = new FakeClient();
  const started = deferred<JobContext>();
  const worker = new Worker({
    client,
    workerId: "w",
    log: quiet,
    leaseMs: 300,
    handlers: {
      t: async (ctx) => {
        started.resolve(ctx);
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        return "too late";
      },
    },
  });
  await worker.start();
  client.deliver(job("1"));
  const ctx = await started.promise;
  const hb = client.heartbeats.get("tok-1")!;
  assert.equal(hb.options.leaseMs, 300);
  assert.equal(hb.options.intervalMs, 100, "default interval is leaseMs / 3");
  assert.equal(ctx.signal.aborted, false);
  client.loseLease("tok-1");
  await waitUntil(() => ctx.signal.aborted, "abort");
  assert.ok(ctx.signal.reason instanceof LeaseLostError);
  await waitUntil(() => client.of("credit").length === 1, "credit after handler returns");
  assert.deepEqual(client.of("complete"), []);
  assert.deepEqual(client.of("fail"), []);
  assert.equal(hb.stopped, true);
  await worker.stop();
});

Deno.test("heartbeats stop once the handler finishes", async () => {
  const client = new FakeClient();
  const worker = new Worker({ client, workerId: "w", log: quiet, handlers: { t: () => 1 } });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("complete").length === 1, "complete");
  assert.equal(client.heartbeats.get("tok-1")?.stopped, true);
  await worker.stop();
});

Deno.test("stop() lets running jobs finish, releases late deliveries, returns no credits", async () => {
  const client = new FakeClient();
  const gate = deferred<JsonValue>();
  const worker = new Worker({
    client,
    workerId: "w",
    concurrency: 2,
    log: quiet,
    handlers: { t: () => gate.promise },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => worker.running === 1, "running");
  const stopped = worker.stop({ timeoutMs: 10_000 });
  await waitUntil(() => client.of("unsubscribe").length === 1, "unsubscribe");
  client.deliver(job("late")); // in flight when we unsubscribed
  await waitUntil(() => client.of("release").length === 1, "late job released");
  assert.equal(client.of("release")[0].jobId, "late");
  assert.equal(worker.state, "stopping");
  gate.resolve("fine");
  await stopped;
  assert.equal(worker.state, "stopped");
  assert.deepEqual(client.of("complete").map((c) => c.jobId), ["1"]);
  assert.deepEqual(client.of("credit"), []);
});

Deno.test("stop() past its deadline aborts and releases jobs still running", async () => {
  const client = new FakeClient();
  const quick = deferred<JsonValue>();
  const signals = new Map<string, AbortSignal>();
  const worker = new Worker({
    client,
    workerId: "w",
    concurrency: 2,
    log: quiet,
    handlers: {
      t: (ctx) => {
        signals.set(ctx.id, ctx.signal);
        // "slow" ignores its signal and never finishes on its own.
        return ctx.id === "quick" ? quick.promise : new Promise<JsonValue>(() => {});
      },
    },
  });
  await worker.start();
  client.deliver(job("quick"), job("slow"));
  await waitUntil(() => worker.running === 2, "running");
  const stopped = worker.stop({ timeoutMs: 30 });
  quick.resolve("done");
  await stopped;
  assert.deepEqual(client.of("complete").map((c) => c.jobId), ["quick"]);
  assert.deepEqual(client.of("release").map((c) => c.jobId), ["slow"]);
  assert.equal(signals.get("slow")?.aborted, true);
  assert.ok(signals.get("slow")?.reason instanceof ShuttingDownError);
  assert.equal(signals.get("quick")?.aborted, false);
  assert.equal(worker.running, 0);
});

Deno.test("createShutdownHandler stops the worker once", async () => {
  let stops = 0;
  const done = deferred();
  const handler = createShutdownHandler({
    stop: () => {
      stops++;
      return Promise.resolve();
    },
  }, { onStopped: () => done.resolve() });
  handler();
  handler();
  await done.promise;
  assert.equal(stops, 1);
});

Deno.test("Worker rejects bad options", () => {
  const client = new FakeClient();
  assert.throws(() => new Worker({ client, workerId: "w", handlers: {} }), { code: "invalid" });
  assert.throws(
    () => new Worker({ client, workerId: "w", concurrency: 0, handlers: { t: () => {} } }),
    { code: "invalid" },
  );
});

Deno.test("hooks see each job start, complete and fail, lease loss included", async () => {
  const client = new FakeClient();
  const events: string[] = [];
  const gate = deferred();
  const worker = new Worker({
    client,
    workerId: "w",
    concurrency: 3,
    log: quiet,
    onJobStart: (job) => events.push(`start ${job.id}`),
    onJobComplete: (job, result) => events.push(`complete ${job.id} ${JSON.stringify(result)}`),
    onJobFail: (job, error) => events.push(`fail ${job.id} ${(error as Error).name}`),
    handlers: {
      t: async (ctx) => {
        if (ctx.id === "bad") throw new TypeError("x");
        if (ctx.id === "lost") await gate.promise;
        return ctx.id;
      },
    },
  });
  await worker.start();
  client.deliver(job("ok"), job("bad"), job("lost"));
  await waitUntil(() => events.length === 5, "start x3, complete, fail");
  client.loseLease("tok-lost");
  await waitUntil(() => events.length === 6, "lease-loss fail");
  gate.resolve();
  await waitUntil(() => client.of("credit").length === 3, "credits");
  assert.deepEqual(events.sort(), [
    'complete ok "ok"',
    "fail bad TypeError",
    "fail lost LeaseLostError",
    "start bad",
    "start lost",
    "start ok",
  ]);
  await worker.stop();
});

Deno.test("worker errors in hooks are logged, not thrown", async () => {
  const client = new FakeClient();
  const logged: string[] = [];
  const worker = new Worker({
    client,
    workerId: "w",
    log: (level, message) => logged.push(`${level}:${message}`),
    onJobStart: () => {
      throw new Error("hook bug");
    },
    handlers: { t: () => 1 },
  });
  await worker.start();
  client.deliver(job("1"));
  await waitUntil(() => client.of("complete").length === 1, "complete");
  assert.ok(logged.includes("error:onJobStart hook threw"));
  await worker.stop();
});

Deno.test("Worker without leaseMs leaves the lease to the broker and heartbeats by the granted lease", async () => {
  const client = new FakeClient();
  const release = deferred();
  const worker = new Worker({
    client,
    workerId: "w",
    log: quiet,
    handlers: { t: () => release.promise },
  });
  await worker.start();
  assert.deepEqual(client.subscribed, { workerId: "w", types: ["t"], credits: 2 });
  client.deliver({ ...job("1"), leaseExpiresAt: 123_456 });
  await waitUntil(() => client.heartbeats.has("tok-1"), "heartbeat loop");
  const { options } = client.heartbeats.get("tok-1")!;
  assert.equal(options.leaseMs, undefined, "no lease length of the worker's own");
  assert.equal(options.intervalMs, undefined, "the interval follows the granted lease");
  assert.equal(options.leaseExpiresAt, 123_456);
  release.resolve();
  await worker.stop();
});

/** A worker whose handlers wait until the test resolves their gate (by job id). */
function gatedWorker(options: { concurrency: number; prefetch: number }) {
  const client = new FakeClient();
  const gates = new Map<string, ReturnType<typeof deferred<JsonValue>>>();
  const worker = new Worker({
    client,
    workerId: "w",
    ...options,
    log: quiet,
    handlers: {
      t: (ctx) => {
        const gate = deferred<JsonValue>();
        gates.set(ctx.id, gate);
        return gate.promise;
      },
    },
  });
  return { client, worker, gates };
}

Deno.test("prefetch: jobs beyond the slots are held and start as slots free, credits keep the sum", async () => {
  const { client, worker, gates } = gatedWorker({ concurrency: 2, prefetch: 2 });
  await worker.start();
  assert.equal(client.subscribed?.credits, 4);
  const far = Date.now() + 60_000;
  client.deliver(...["1", "2", "3", "4"].map((id) => ({ ...job(id), leaseExpiresAt: far })));
  await waitUntil(() => gates.size === 2, "two running");
  assert.equal(worker.running, 2);
  assert.deepEqual(client.of("release"), [], "the other two are held, not released");

  // A slot frees: the held job starts at once, and one credit goes back.
  gates.get("1")!.resolve(1);
  await waitUntil(() => gates.has("3"), "job 3 started from the hold");
  await waitUntil(() => client.of("credit").length === 1, "credit");
  assert.deepEqual(client.of("credit").map((c) => c.credits), [1]);
  assert.equal(worker.running, 2);

  // Stopping releases what is still held, and runs the rest to the end.
  const stopped = worker.stop({ timeoutMs: 2_000 });
  await waitUntil(() => client.of("release").length === 1, "held job released");
  assert.deepEqual(client.of("release").map((c) => c.jobId), ["4"]);
  gates.get("2")!.resolve(2);
  gates.get("3")!.resolve(3);
  await stopped;
  assert.deepEqual(client.of("complete").map((c) => c.jobId).sort(), ["1", "2", "3"]);
});

Deno.test("prefetch: a held job whose hold runs out goes back to the queue, and prefetch stops", async () => {
  const { client, worker, gates } = gatedWorker({ concurrency: 1, prefetch: 1 });
  await worker.start();
  // 90 ms of lease left: held 30 ms at most.
  const soon = Date.now() + 90;
  client.deliver({ ...job("1"), leaseExpiresAt: soon }, { ...job("2"), leaseExpiresAt: soon });
  await waitUntil(() => client.of("release").length === 1, "the held job released");
  assert.deepEqual(client.of("release").map((c) => c.jobId), ["2"]);
  assert.deepEqual(
    client.of("credit"),
    [],
    "no credit: the worker now wants no more than its slot",
  );
  gates.get("1")!.resolve(1);
  await waitUntil(() => client.of("credit").length === 1, "credit for the finished job");
  assert.deepEqual(client.of("credit").map((c) => c.credits), [1], "one: prefetch is off");
  await worker.stop();
});
