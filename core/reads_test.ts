import assert from "node:assert/strict";
import { JobNotFoundError } from "../errors.ts";
import type { QueueStats } from "../protocol/operations.ts";
import { Harness, job, value } from "./_test_harness.ts";

Deno.test("get: unknown ids say the job may have been archived; replies are copies", () => {
  const h = new Harness();
  const error = h.fails({ op: "get", jobId: "abc" });
  assert.ok(error instanceof JobNotFoundError);
  assert.match(error.message, /archived/);
  const [id] = h.push(job("t", { payload: { n: 1 } }));
  const copy = h.get(id);
  copy.state = "dead";
  copy.priority = 99;
  assert.equal(h.get(id).state, "ready");
  assert.equal(h.get(id).priority, 0);
});

Deno.test("stats: ready includes due delayed jobs; byType counts unfinished jobs", () => {
  const h = new Harness();
  h.push(job("a"), job("a", { delayMs: 100 }), job("b", { delayMs: 200 }), job("c"));
  const [c] = h.claim({ types: ["c"] });
  assert.deepEqual(h.stats(), {
    ready: 1,
    delayed: 2,
    active: 1,
    finishedPending: 0,
    totals: { pushed: 4, completed: 0, failed: 0, retried: 0, dead: 0, expired: 0, cancelled: 0 },
    byType: { a: 2, b: 1, c: 1 },
    epoch: 0,
    commit: 0,
  });
  h.now += 100;
  assert.deepEqual([h.stats().ready, h.stats().delayed], [2, 1]);
  h.ok({ op: "complete", jobId: c.id, leaseToken: c.leaseToken });
  assert.deepEqual(h.stats().byType, { a: 2, b: 1 });
  // Stats inside a batch see the operations before them.
  const result = h.batch([{ op: "push", jobs: [job("d")] }, { op: "stats" }]);
  assert.deepEqual(value<QueueStats>(result.replies[1]).byType, { a: 2, b: 1, d: 1 });
});
