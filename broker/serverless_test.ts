import assert from "node:assert/strict";
import { InvalidError, UnavailableError } from "../errors.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { ManualClock } from "../testing/manual_clock.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { PushOperation } from "../protocol/operations.ts";
import { ServerlessBroker, type ServerlessBrokerOptions } from "./serverless.ts";
import { logKey } from "./log_record.ts";
import { decodeHead } from "./head.ts";
import { loadCheckpoint } from "./checkpoint.ts";

const push = (payload: number): PushOperation => ({
  op: "push",
  jobs: [{ type: "t", payload }],
});

async function instance(
  store: ObjectStore,
  id: string,
  options: Partial<ServerlessBrokerOptions> = {},
): Promise<ServerlessBroker> {
  const broker = new ServerlessBroker({ store, identity: { id }, ...options });
  await broker.start();
  return broker;
}

async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("serverless: a stale instance's batch conflicts, is re-applied on the newer state, and lands", async () => {
  const store = new MemoryStore();
  // Long poll intervals: B does not read A's records before it writes.
  const a = await instance(store, "a", { pollIntervalMs: 10_000 });
  const b = await instance(store, "b", { pollIntervalMs: 10_000 });
  try {
    const first = await a.request(push(1));
    const second = await b.request(push(2));
    assert.ok(b.metrics.conflicts >= 1, "B wrote at a taken sequence number first");
    assert.notEqual(first.jobs[0].id, second.jobs[0].id, "the re-applied push got a fresh id");
    // B's state now holds both jobs; A catches up on its next conflict or poll.
    const stats = await b.request({ op: "stats" });
    assert.equal(stats.totals.pushed, 2);
    const third = await a.request(push(3));
    assert.ok(a.metrics.conflicts >= 1);
    const claimed = await b.request({ op: "claim", workerId: "w", max: 10 });
    assert.deepEqual(
      claimed.jobs.map((job) => job.payload).sort(),
      [1, 2, 3],
      "every landed push is there exactly once",
    );
    assert.ok(claimed.jobs.some((job) => job.id === third.jobs[0].id));
    // Both instances answer: neither is a leader the other defers to.
    assert.equal(a.leaderInfo().leader, true);
    assert.equal(b.leaderInfo().leader, true);
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("serverless: too many conflicts in a row fail the batch with unavailable, the state stays whole", async () => {
  const store = new MemoryStore();
  const a = await instance(store, "a", { pollIntervalMs: 10_000 });
  const b = await instance(store, "b", { pollIntervalMs: 10_000, maxConflictRetries: 0 });
  try {
    await a.request(push(1));
    await assert.rejects(() => b.request(push(2)), UnavailableError);
    assert.equal(b.metrics.gaveUp, 1);
    // It re-read the log on the conflict: the next request lands on the newer state.
    await b.request(push(3));
    const stats = await a.request({ op: "stats" });
    assert.ok(stats.totals.pushed >= 1);
    const fresh = await instance(store, "c");
    assert.equal((await fresh.request({ op: "stats" })).totals.pushed, 2);
    await fresh.stop();
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("serverless: a claim parked on one instance gets a job pushed through another (poll)", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const a = await clock.settle(instance(store, "a", { clock, pollIntervalMs: 50 }));
  const b = await clock.settle(instance(store, "b", { clock, pollIntervalMs: 50 }));
  try {
    const parked = b.request({ op: "claim", workerId: "w", waitMs: 10_000 });
    await clock.run(20);
    const polls = b.metrics.polls;
    const { jobs } = await clock.settle(a.request(push(7)));
    const pushedAt = clock.now();
    const claimed = await clock.settle(parked);
    assert.equal(claimed.jobs.length, 1);
    assert.equal(claimed.jobs[0].id, jobs[0].id);
    assert.ok(b.metrics.polls > polls, "b read a's record by polling");
    assert.ok(clock.now() - pushedAt <= 50, "within one poll interval");
  } finally {
    await clock.settle(a.stop());
    await clock.settle(b.stop());
  }
});

Deno.test("serverless: an expired lease is handed out again by whichever instance runs", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const options = { clock, pollIntervalMs: 50, heartbeatTimeoutMs: 100, heartbeatCheckMs: 20 };
  const a = await clock.settle(instance(store, "a", options));
  const b = await clock.settle(instance(store, "b", options));
  try {
    const { jobs } = await clock.settle(a.request(push(1)));
    const first = await clock.settle(a.request({ op: "claim", workerId: "w1" }));
    assert.equal(first.jobs[0].id, jobs[0].id);
    const leasedAt = clock.now();
    await clock.settle(a.stop()); // the instance that handed out the lease is gone
    const again = await clock.settle(b.request({ op: "claim", workerId: "w2", waitMs: 5000 }));
    assert.equal(again.jobs[0]?.id, jobs[0].id, "B expired the lease and handed the job out");
    assert.ok(clock.now() - leasedAt >= 100, "not before the lease ran out");
    await clock.settle(b.request({
      op: "complete",
      jobId: jobs[0].id,
      leaseToken: again.jobs[0].leaseToken,
      result: 1,
    }));
  } finally {
    await clock.settle(a.stop());
    await clock.settle(b.stop());
  }
});

Deno.test("serverless: checkpoints and GC with several writers keep every referenced object", async () => {
  const store = new MemoryStore();
  const options: Partial<ServerlessBrokerOptions> = {
    pollIntervalMs: 20,
    gcGraceMs: 100,
    checkpointMinRecords: 4,
    checkpointMinIntervalMs: 10,
    archiveMaxJobs: 5,
    archiveMaxAgeMs: 10,
  };
  const a = await instance(store, "a", options);
  const b = await instance(store, "b", options);
  try {
    const ids = new Set<string>();
    for (let round = 0; round < 60; round++) {
      const pushed = await Promise.all([a.request(push(round)), b.request(push(-round))]);
      for (const reply of pushed) ids.add(reply.jobs[0].id);
      const via = round % 2 === 0 ? a : b;
      const claimed = await via.request({ op: "claim", workerId: "w", max: 4 });
      for (const job of claimed.jobs) {
        await via.request({
          op: "complete",
          jobId: job.id,
          leaseToken: job.leaseToken,
          result: null,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(ids.size, 120);
    const janitor = a.metrics.janitor.checkpoints + b.metrics.janitor.checkpoints;
    assert.ok(janitor >= 2, `${janitor} checkpoints installed`);
    // One janitor at a time: the lease (30 s) stays with the instance that took it first.
    assert.ok(
      a.metrics.janitor.checkpoints === 0 || b.metrics.janitor.checkpoints === 0,
      "both instances wrote checkpoints while one held the lease",
    );
    await eventually(async () => {
      await a.request(push(1000));
      return a.metrics.janitor.deleted + b.metrics.janitor.deleted > 0;
    }, 10_000);
    assert.equal(await store.get(logKey("", 1)), null, "old log records were collected");
    // Everything the head names is there, and a fresh instance sees every push.
    const head = decodeHead((await store.get("queue.json"))!.body);
    assert.equal(head.kind, "head");
    if (head.kind === "head" && head.head.checkpoint !== null) {
      await loadCheckpoint({ store, key: head.head.checkpoint.key });
    }
    const fresh = await instance(store, "c");
    const stats = await fresh.request({ op: "stats" });
    const pushes = (await a.request({ op: "stats" })).totals.pushed;
    assert.equal(stats.totals.pushed, pushes);
    assert.ok(pushes >= 121);
    await fresh.stop();
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("serverless: a polling interval above half the GC grace period is refused", () => {
  assert.throws(
    () => new ServerlessBroker({ store: new MemoryStore(), pollIntervalMs: 40_000 }),
    (error) => error instanceof InvalidError && /gcGraceMs/.test(error.message),
  );
});
