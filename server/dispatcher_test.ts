import assert from "node:assert/strict";
import { NotLeaderError, type OsqueueError, UnavailableError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import { MAX_CREDITS, PushDispatcher } from "./dispatcher.ts";
import { FakeBackend, fakeJob } from "./_test_fake_backend.ts";
import { ManualClock } from "./_test_manual_clock.ts";

function setup(options: { maxParkedClaims?: number; keepingUp?: () => boolean } = {}) {
  const backend = new FakeBackend();
  const clock = new ManualClock();
  const delivered: ClaimedJob[][] = [];
  const fatal: OsqueueError[] = [];
  let open = true;
  const dispatcher = new PushDispatcher({
    backend,
    clock,
    deliver: (jobs) => {
      if (!open) return false;
      delivered.push(jobs);
      return true;
    },
    onFatal: (error) => fatal.push(error),
    claimWaitMs: 1000,
    ...options,
  });
  return {
    backend,
    clock,
    delivered,
    fatal,
    dispatcher,
    closeSocket: () => (open = false),
  };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("dispatcher: one claim for the initial credits, with the subscription's options", async () => {
  const { backend, dispatcher } = setup();
  dispatcher.subscribe({ workerId: "w1", types: ["a", "b"], credits: 3, leaseMs: 5000 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  assert.deepEqual(backend.openClaims[0].op, {
    op: "claim",
    workerId: "w1",
    max: 3,
    waitMs: 1000,
    types: ["a", "b"],
    leaseMs: 5000,
  });
  assert.equal(dispatcher.armed, 3);
  dispatcher.close();
});

Deno.test("dispatcher: delivers filled jobs, consumes credits, re-arms only for what is left", async () => {
  const { backend, dispatcher, delivered } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 3 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  backend.openClaims[0].fill([fakeJob("1"), fakeJob("2")]);
  await backend.until(
    () => backend.openClaims.length === 1 && backend.parked.length === 2,
    "re-arm",
  );
  assert.deepEqual(delivered.map((d) => d.map((j) => j.id)), [["1", "2"]]);
  assert.equal(dispatcher.credits, 1);
  assert.equal(backend.openClaims[0].op.max, 1);
  backend.openClaims[0].fill([fakeJob("3")]);
  await dispatcher.settled();
  assert.equal(dispatcher.credits, 0);
  assert.equal(backend.openClaims.length, 0, "no claim without credits");
  dispatcher.close();
});

Deno.test("dispatcher: new credits while parked arm an extra claim for just those credits", async () => {
  const { backend, dispatcher } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 2 });
  dispatcher.pump();
  dispatcher.credit(1);
  dispatcher.pump();
  dispatcher.credit(4);
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 3, "three claims");
  assert.deepEqual(backend.openClaims.map((c) => c.op.max), [2, 1, 4]);
  assert.equal(dispatcher.armed, 7);
  assert.equal(dispatcher.credits, 7);
  dispatcher.close();
});

Deno.test("dispatcher: parked claims are capped; spare credits ride on the next re-arm", async () => {
  const { backend, dispatcher, delivered } = setup({ maxParkedClaims: 2 });
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  for (let i = 0; i < 3; i++) {
    dispatcher.credit(1);
    dispatcher.pump();
  }
  await backend.until(() => backend.openClaims.length === 2, "two claims");
  assert.equal(backend.openClaims.length, 2);
  backend.openClaims[0].fill([fakeJob("a")]);
  await backend.until(() => backend.parked.length === 3, "re-arm");
  assert.equal(backend.openClaims.length, 2);
  assert.equal(backend.openClaims[1].op.max, 2, "3 credits left, 1 covered by the other claim");
  assert.equal(delivered.flat().length, 1);
  dispatcher.close();
});

Deno.test("dispatcher: never delivers more jobs than the claim asked for; extras are released", async () => {
  const { backend, dispatcher, delivered } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  backend.openClaims[0].fill([fakeJob("1"), fakeJob("2")]);
  await dispatcher.settled();
  assert.deepEqual(delivered.flat().map((j) => j.id), ["1"]);
  assert.deepEqual(backend.ops("release"), [{
    op: "release",
    jobId: "2",
    leaseToken: "lease-2",
  }]);
  dispatcher.close();
});

Deno.test("dispatcher: jobs arriving after close are released, not delivered", async () => {
  const { backend, dispatcher, delivered } = setup();
  backend.onAbort = { fill: [fakeJob("late")] };
  dispatcher.subscribe({ workerId: "w", credits: 2 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  const signal = backend.openClaims[0].signal;
  dispatcher.close();
  assert.equal(signal?.aborted, true);
  await dispatcher.settled();
  assert.equal(delivered.length, 0);
  assert.deepEqual(backend.ops("release").map((r) => r.jobId), ["late"]);
});

Deno.test("dispatcher: jobs arriving for a socket that cannot send are released", async () => {
  const { backend, dispatcher, delivered, closeSocket } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  closeSocket();
  backend.openClaims[0].fill([fakeJob("x")]);
  await dispatcher.settled();
  assert.equal(delivered.length, 0);
  assert.deepEqual(backend.ops("release").map((r) => r.jobId), ["x"]);
  dispatcher.close();
});

Deno.test("dispatcher: resubscribe and unsubscribe abort old claims and release their late jobs", async () => {
  const { backend, dispatcher, delivered } = setup();
  backend.onAbort = { fill: [fakeJob("old")] };
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  dispatcher.subscribe({ workerId: "w", credits: 5 });
  dispatcher.pump();
  await backend.until(() => backend.ops("release").length === 1, "release");
  assert.equal(delivered.length, 0);
  assert.equal(dispatcher.credits, 5);
  assert.deepEqual(backend.openClaims.map((c) => c.op.max), [5]);
  dispatcher.unsubscribe();
  await dispatcher.settled();
  assert.equal(dispatcher.subscribed, false);
  assert.equal(backend.openClaims.length, 0);
  assert.deepEqual(backend.ops("release").map((r) => r.jobId), ["old", "old"]);
  assert.throws(() => dispatcher.credit(1), (e: OsqueueError) => e.code === "bad_request");
  dispatcher.close();
});

Deno.test("dispatcher: failed claims retry after a backoff; not_leader is fatal", async () => {
  const { backend, dispatcher, clock, fatal } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  backend.openClaims[0].reject(new UnavailableError());
  await dispatcher.settled();
  assert.equal(backend.openClaims.length, 0, "no immediate retry");
  clock.advance(100);
  await backend.until(() => backend.openClaims.length === 1, "retry");
  backend.openClaims[0].reject(new NotLeaderError("gone", { data: { leaderUrl: "http://x" } }));
  await dispatcher.settled();
  clock.advance(10_000);
  await flush();
  assert.equal(backend.openClaims.length, 0);
  assert.deepEqual(fatal.map((e) => e.code), ["not_leader"]);
  dispatcher.close();
});

Deno.test("dispatcher: an empty reply long before the wait ran out does not spin", async () => {
  const { backend, dispatcher, clock } = setup();
  dispatcher.subscribe({ workerId: "w", credits: 1 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  backend.openClaims[0].fill([]);
  await dispatcher.settled();
  assert.equal(backend.openClaims.length, 0);
  clock.advance(100);
  await backend.until(() => backend.openClaims.length === 1, "re-arm after backoff");
  clock.advance(1000); // a full wait later, an empty reply re-arms at once
  backend.openClaims[0].fill([]);
  await backend.until(() => backend.parked.length === 3, "immediate re-arm");
  dispatcher.close();
});

Deno.test("dispatcher: credits are capped", () => {
  const { dispatcher } = setup();
  dispatcher.subscribe({ workerId: "w", credits: MAX_CREDITS });
  assert.throws(() => dispatcher.credit(1), (e: OsqueueError) => e.code === "validation");
  dispatcher.close();
});

Deno.test("dispatcher: random grants and fills never exceed the credits", async () => {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const { backend, dispatcher, delivered, clock } = setup({ maxParkedClaims: 4 });
  let granted = 5;
  let nextJob = 0;
  dispatcher.subscribe({ workerId: "w", credits: granted });
  dispatcher.pump();
  for (let step = 0; step < 300; step++) {
    clock.advance(1000);
    await flush();
    const open = backend.openClaims;
    const outstanding = open.reduce((sum, c) => sum + (c.op.max ?? 1), 0);
    const consumed = delivered.flat().length;
    assert.ok(outstanding <= granted - consumed, `step ${step}: claims exceed credits`);
    if (random() < 0.4 && granted - consumed < 50) {
      const n = 1 + Math.floor(random() * 3);
      granted += n;
      dispatcher.credit(n);
      dispatcher.pump();
    } else if (open.length > 0) {
      const claim = open[Math.floor(random() * open.length)];
      const n = Math.floor(random() * ((claim.op.max ?? 1) + 1));
      claim.fill(Array.from({ length: n }, () => fakeJob(String(nextJob++))));
    }
  }
  await flush();
  assert.ok(delivered.flat().length > 50, "the test exercised deliveries");
  assert.ok(delivered.flat().length <= granted);
  assert.equal(dispatcher.credits, granted - delivered.flat().length);
  assert.equal(backend.ops("release").length, 0);
  dispatcher.close();
});

Deno.test("dispatcher: a connection that is not keeping up gets no claims and no jobs until it drains", async () => {
  let keepingUp = true;
  const { backend, clock, dispatcher, delivered } = setup({ keepingUp: () => keepingUp });
  dispatcher.subscribe({ workerId: "w", credits: 4 });
  dispatcher.pump();
  await backend.until(() => backend.openClaims.length === 1, "claim");
  // The consumer stops reading: jobs its parked claim still returns go back to the queue.
  keepingUp = false;
  backend.openClaims[0].fill([fakeJob("1"), fakeJob("2")]);
  await dispatcher.settled();
  assert.equal(delivered.length, 0);
  assert.deepEqual(backend.ops("release").map((r) => r.jobId), ["1", "2"]);
  assert.equal(dispatcher.credits, 4, "credits are not spent on jobs it did not get");
  assert.equal(dispatcher.paused, true);
  assert.equal(backend.openClaims.length, 0, "no claim armed while paused");
  clock.advance(500);
  assert.equal(backend.openClaims.length, 0, "still not reading: still paused");
  // It drains: delivery resumes on the next check.
  keepingUp = true;
  clock.advance(100);
  assert.equal(dispatcher.paused, false);
  await backend.until(() => backend.openClaims.length === 1, "claim after draining");
  backend.openClaims[0].fill([fakeJob("3")]);
  await backend.until(() => delivered.length === 1, "delivery");
  assert.deepEqual(delivered.flat().map((j) => j.id), ["3"]);
  dispatcher.close();
  await dispatcher.settled();
});
