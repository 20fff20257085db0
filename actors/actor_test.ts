import assert from "node:assert/strict";
import { OsqueueError, OverloadedError, ShuttingDownError, TimeoutError } from "../errors.ts";
import { Actor, type ActorOptions, type Envelope } from "./actor.ts";

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Whether `promise` has settled after the pending microtasks ran. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await flush();
  return settled;
}

/**
 * An actor that answers each message `n` with `n * 10` and records its
 * batches; while `gate` is set, every batch waits for it first.
 */
function recorder(options: Partial<ActorOptions<number, number>> = {}) {
  const batches: number[][] = [];
  const state = { gate: undefined as Deferred | undefined, active: 0, maxActive: 0 };
  const actor = new Actor<number, number>({
    async handleBatch(batch) {
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      batches.push(batch.map((envelope) => envelope.message));
      try {
        if (state.gate) await state.gate.promise;
        for (const envelope of batch) envelope.resolve(envelope.message * 10);
      } finally {
        state.active--;
      }
    },
    ...options,
  });
  return { actor, batches, state };
}

Deno.test("Actor answers asks in FIFO order and batches everything posted while busy", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const first = actor.ask(0);
  await flush();
  assert.deepEqual(batches, [[0]]);
  const rest = Array.from({ length: 100 }, (_, i) => actor.ask(i + 1));
  assert.equal(actor.queued, 100);
  await flush();
  assert.deepEqual(batches.length, 1, "no second batch while the first is in flight");
  state.gate.resolve();
  assert.equal(await first, 0);
  assert.deepEqual(await Promise.all(rest), rest.map((_, i) => (i + 1) * 10));
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1], Array.from({ length: 100 }, (_, i) => i + 1));
  await actor.stop();
});

Deno.test("Actor handles at most one batch at a time", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  actor.start(); // idempotent: still one loop
  const replies: Promise<number>[] = [];
  for (let round = 0; round < 20; round++) {
    state.gate = deferred();
    replies.push(actor.ask(round * 2), actor.ask(round * 2 + 1));
    await flush();
    replies.push(actor.ask(1000 + round));
    state.gate.resolve();
    await flush();
  }
  state.gate = undefined;
  await Promise.all(replies);
  assert.equal(state.maxActive, 1);
  assert.ok(batches.length >= 20, `expected many batches, got ${batches.length}`);
  await actor.stop();
});

Deno.test("Actor rejects with OverloadedError when the mailbox is full and recovers once drained", async () => {
  const { actor, state } = recorder({ capacity: 3 });
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush(); // taken out of the mailbox: being handled
  const queued = [actor.ask(2), actor.ask(3), actor.ask(4)];
  assert.equal(actor.queued, 3);
  await assert.rejects(actor.ask(5), OverloadedError);
  assert.throws(() => actor.tell(5), OverloadedError);
  state.gate.resolve();
  state.gate = undefined;
  assert.equal(await inFlight, 10);
  assert.deepEqual(await Promise.all(queued), [20, 30, 40]);
  assert.equal(actor.queued, 0);
  assert.equal(await actor.ask(6), 60);
  await actor.stop();
});

Deno.test("Actor.stop without drain rejects queued asks; the batch in flight completes", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush();
  const queued = [actor.ask(2), actor.ask(3)];
  const stopped = actor.stop();
  for (const reply of queued) await assert.rejects(reply, ShuttingDownError);
  assert.equal(actor.queued, 0);
  assert.equal(await isSettled(stopped), false, "stop waits for the batch in flight");
  assert.equal(actor.running, true);
  state.gate.resolve();
  assert.equal(await inFlight, 10);
  await stopped;
  assert.equal(actor.running, false);
  assert.deepEqual(batches, [[1]]);
  await actor.stop(); // idempotent
});

Deno.test("Actor.stop with drain handles what is queued, then stops", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush();
  const queued = [actor.ask(2), actor.ask(3)];
  const stopped = actor.stop({ drain: true });
  await assert.rejects(actor.ask(4), ShuttingDownError);
  assert.equal(actor.queued, 2);
  state.gate.resolve();
  assert.equal(await inFlight, 10);
  assert.deepEqual(await Promise.all(queued), [20, 30]);
  await stopped;
  assert.equal(actor.running, false);
  assert.deepEqual(batches, [[1], [2, 3]]);
});

Deno.test("Actor.stop with drain runs an actor that never started", async () => {
  const { actor, batches } = recorder();
  const queued = [actor.ask(1), actor.ask(2)];
  await flush();
  assert.deepEqual(batches, [], "nothing is handled before start");
  await actor.stop({ drain: true });
  assert.deepEqual(await Promise.all(queued), [10, 20]);
  assert.equal(actor.running, false);
  actor.start(); // no restart after stop
  assert.equal(actor.running, false);
});

Deno.test("Actor.stop without drain cuts a draining stop short", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush();
  const queued = actor.ask(2);
  const draining = actor.stop({ drain: true });
  const stopped = actor.stop();
  await assert.rejects(queued, ShuttingDownError);
  state.gate.resolve();
  assert.equal(await inFlight, 10);
  await Promise.all([draining, stopped]);
  assert.deepEqual(batches, [[1]]);
});

Deno.test("Actor rejects ask and tell after stop", async () => {
  const { actor, batches } = recorder();
  actor.start();
  await actor.stop();
  await assert.rejects(actor.ask(1), ShuttingDownError);
  assert.throws(() => actor.tell(1), ShuttingDownError);
  assert.equal(actor.running, false);
  assert.deepEqual(batches, []);
});

Deno.test("Actor rejects only the unsettled envelopes of a batch whose handler throws, then continues", async () => {
  const boom = new Error("boom");
  const errors: unknown[] = [];
  const batches: number[][] = [];
  const actor = new Actor<number, number>({
    handleBatch(batch) {
      batches.push(batch.map((envelope) => envelope.message));
      for (const envelope of batch) {
        if (envelope.message < 0) throw boom;
        envelope.resolve(envelope.message);
      }
      return Promise.resolve();
    },
    onError: (error) => errors.push(error),
  });
  const results = [actor.ask(1), actor.ask(-1), actor.ask(2)].map((promise) =>
    promise.then((value) => ({ value }), (error) => ({ error }))
  );
  actor.start();
  assert.deepEqual(await Promise.all(results), [{ value: 1 }, { error: boom }, { error: boom }]);
  assert.deepEqual(errors, [], "the askers saw the error; onError did not");
  assert.equal(await actor.ask(3), 3, "the loop survives the throw");
  assert.deepEqual(batches, [[1, -1, 2], [3]]);
  assert.equal(actor.running, true);
  await actor.stop();
});

Deno.test("Actor reports a handler error no envelope received to onError", async () => {
  const boom = new Error("after answering");
  const errors: unknown[] = [];
  const actor = new Actor<number, number>({
    handleBatch(batch) {
      for (const envelope of batch) envelope.resolve(envelope.message);
      return Promise.reject(boom);
    },
    onError: (error) => errors.push(error),
  });
  actor.start();
  assert.equal(await actor.ask(1), 1);
  await flush();
  assert.deepEqual(errors, [boom]);
  await actor.stop();
});

Deno.test("Actor rejects an envelope the handler left unsettled with an internal error", async () => {
  const actor = new Actor<number, number>({
    name: "forgetful",
    handleBatch(batch) {
      for (const envelope of batch) if (envelope.message % 2 === 0) envelope.resolve(0);
      return Promise.resolve();
    },
  });
  actor.start();
  const [even, odd] = [actor.ask(2), actor.ask(3)];
  assert.equal(await even, 0);
  await assert.rejects(odd, (error) => {
    assert.ok(error instanceof OsqueueError);
    assert.equal(error.code, "internal");
    assert.match(error.message, /forgetful/);
    return true;
  });
  await actor.stop();
});

Deno.test("Envelope settling is idempotent: the first answer wins", async () => {
  const seen: boolean[] = [];
  const actor = new Actor<number, number>({
    handleBatch(batch) {
      for (const envelope of batch) {
        seen.push(envelope.settled);
        envelope.resolve(1);
        envelope.resolve(2);
        envelope.reject(new Error("too late"));
        seen.push(envelope.settled);
      }
      return Promise.resolve();
    },
  });
  actor.start();
  assert.equal(await actor.ask(0), 1);
  assert.deepEqual(seen, [false, true]);
  await actor.stop();
});

Deno.test("Actor.ask aborted while queued rejects with the reason and is never handled", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush();
  const controller = new AbortController();
  const aborted = actor.ask(2, { signal: controller.signal });
  const kept = actor.ask(3);
  assert.equal(actor.queued, 2);
  const reason = new Error("caller gave up");
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error === reason);
  assert.equal(actor.queued, 1);
  state.gate.resolve();
  assert.equal(await inFlight, 10);
  assert.equal(await kept, 30);
  assert.deepEqual(batches, [[1], [3]]);
  await assert.rejects(actor.ask(4, { signal: controller.signal }), (error) => error === reason);
  assert.equal(actor.queued, 0, "an already aborted ask is not queued");
  await actor.stop();
});

Deno.test("Actor.ask aborted while being handled stops waiting; the handler sees it settled", async () => {
  const gate = deferred();
  const envelopes: Envelope<number, number>[] = [];
  const actor = new Actor<number, number>({
    async handleBatch(batch) {
      envelopes.push(...batch);
      await gate.promise;
      for (const envelope of batch) envelope.resolve(envelope.message);
    },
  });
  actor.start();
  const controller = new AbortController();
  const reply = actor.ask(1, { signal: controller.signal });
  await flush();
  assert.equal(envelopes.length, 1);
  assert.equal(envelopes[0].settled, false);
  controller.abort(new Error("stop waiting"));
  await assert.rejects(reply, /stop waiting/);
  assert.equal(envelopes[0].settled, true);
  gate.resolve();
  await actor.stop();
});

Deno.test("Actor.ask times out with TimeoutError and the request is removed", async () => {
  const { actor, batches, state } = recorder();
  actor.start();
  state.gate = deferred();
  const inFlight = actor.ask(1);
  await flush();
  const late = actor.ask(2, { timeoutMs: 1 });
  await assert.rejects(late, TimeoutError);
  assert.equal(actor.queued, 0);
  state.gate.resolve();
  assert.equal(await inFlight, 10);
  await flush();
  assert.deepEqual(batches, [[1]]);
  await actor.stop();
});

/** Runs `fn` while counting the timers set through the global `setTimeout` that are still pending. */
async function withTimerCount(fn: (pending: () => number) => Promise<void>): Promise<void> {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  type Id = ReturnType<typeof setTimeout>;
  const live = new Set<Id>();
  const fakeSet = (handler: () => void, ms?: number): Id => {
    const id = realSet(() => {
      live.delete(id);
      handler();
    }, ms);
    live.add(id);
    return id;
  };
  const fakeClear = (id?: Id): void => {
    if (id !== undefined) live.delete(id);
    realClear(id);
  };
  globalThis.setTimeout = fakeSet as unknown as typeof setTimeout;
  globalThis.clearTimeout = fakeClear as unknown as typeof clearTimeout;
  try {
    await fn(() => live.size);
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
    for (const id of live) realClear(id);
  }
}

Deno.test("Actor.ask clears its timer and abort listener once settled", async () => {
  await withTimerCount(async (pending) => {
    const { actor, state } = recorder();
    actor.start();
    const controller = new AbortController();
    const answered = actor.ask(4, { timeoutMs: 60_000, signal: controller.signal });
    assert.equal(pending(), 1);
    assert.equal(await answered, 40);
    assert.equal(pending(), 0, "the timer of an answered ask is cleared");
    controller.abort(new Error("after the reply")); // must not throw or reject anything

    state.gate = deferred();
    const aborter = new AbortController();
    const aborted = actor.ask(5, { timeoutMs: 60_000, signal: aborter.signal });
    assert.equal(pending(), 1);
    aborter.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    assert.equal(pending(), 0, "the timer of an aborted ask is cleared");
    state.gate.resolve();
    await actor.stop();
  });
});

Deno.test("Actor.ask rejects an invalid timeout", async () => {
  const { actor } = recorder();
  await assert.rejects(actor.ask(1, { timeoutMs: -1 }), /timeoutMs/);
  await assert.rejects(actor.ask(1, { timeoutMs: Number.NaN }), /timeoutMs/);
  assert.equal(actor.queued, 0);
});

Deno.test("Actor sends rejected tells to onError without unhandled rejections", async () => {
  let unhandled = 0;
  const onUnhandled = (event: PromiseRejectionEvent): void => {
    unhandled++;
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    const errors: unknown[] = [];
    const gate = deferred();
    const actor = new Actor<string, void>({
      async handleBatch(batch) {
        await gate.promise;
        for (const envelope of batch) {
          if (envelope.message === "throw") throw new Error("handler threw");
          if (envelope.message === "reject") envelope.reject(new Error("rejected"));
          // "forget" is left unsettled
        }
      },
      onError: (error) => errors.push(error),
    });
    actor.start();
    actor.tell("reject");
    actor.tell("forget");
    await flush();
    actor.tell("queued at stop"); // rejected by stop()
    const stopped = actor.stop();
    await flush();
    gate.resolve();
    await stopped;

    const second = new Actor<string, void>({
      handleBatch: () => Promise.reject(new Error("handler threw")),
    }); // no onError: errors are dropped, still never unhandled
    second.start();
    second.tell("throw");
    await second.stop({ drain: true });

    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(unhandled, 0);
    const messages = errors.map((error) => (error as Error).message);
    assert.equal(messages.length, 3);
    assert.ok(messages.includes("rejected"));
    assert.ok(errors.some((error) => error instanceof ShuttingDownError));
    assert.ok(
      errors.some((error) => error instanceof OsqueueError && error.code === "internal"),
      "the forgotten tell is reported",
    );
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
});

Deno.test("Actor handles messages the handler sends to itself in the next batch", async () => {
  const batches: string[][] = [];
  const actor: Actor<string, string> = new Actor<string, string>({
    handleBatch(batch) {
      batches.push(batch.map((envelope) => envelope.message));
      for (const envelope of batch) {
        if (envelope.message === "ping") actor.tell("pong");
        envelope.resolve(envelope.message);
      }
      return Promise.resolve();
    },
  });
  actor.start();
  assert.equal(await actor.ask("ping"), "ping");
  await actor.stop({ drain: true });
  assert.deepEqual(batches, [["ping"], ["pong"]]);
});
