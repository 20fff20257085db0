import { TestQueue } from "./_test_queue.ts";
import assert from "node:assert/strict";
import type { ClaimedJob, OperationResults, PushJob } from "../protocol/operations.ts";
import { applyBatch } from "./apply.ts";
import { WAITING_RUN_AT } from "./dependencies.ts";
import { batchEffects } from "./effects.ts";
import { findJob, hasReady, nextDueAt } from "./state.ts";

const T0 = 1_700_000_000_000;

class Queue extends TestQueue {
  constructor() {
    super({ now: T0 });
  }

  push(...jobs: PushJob[]): string[] {
    return this.ok({ op: "push", jobs }).jobs.map((j) => j.id);
  }

  claim(types?: string[]): ClaimedJob[] {
    return this.ok({ op: "claim", workerId: "w", types, max: 100 }).jobs;
  }

  state_(id: string) {
    return this.ok({ op: "get", jobId: id }).job.state;
  }
}

Deno.test("dependsOn: a child waits until every parent completed, then is ready", () => {
  const q = new Queue();
  const [a, b] = q.push({ type: "p", payload: 1 }, { type: "p", payload: 2 });
  const [child] = q.push({ type: "c", payload: 3, dependsOn: [a, b] });
  const view = q.ok({ op: "get", jobId: child }).job;
  assert.equal(view.state, "delayed");
  assert.deepEqual(view.dependsOn, [a, b]);
  assert.deepEqual(q.ok({ op: "get", jobId: a }).job.children, [child]);
  assert.equal(hasReady(q.state, q.now, ["c"]), false);
  const claimed = q.claim();
  assert.deepEqual(claimed.map((j) => j.id), [a, b], "the child is not claimable");
  q.ok({ op: "complete", jobId: a, leaseToken: claimed[0].leaseToken });
  assert.equal(q.state_(child), "delayed", "one parent left");
  q.now += 5;
  q.ok({ op: "complete", jobId: b, leaseToken: claimed[1].leaseToken });
  assert.equal(q.state_(child), "ready");
  assert.equal(findJob(q.state, child)?.runAt, q.now);
  assert.deepEqual(q.claim().map((j) => j.id), [child]);
});

Deno.test("dependsOn: a flow in one push, children referring to earlier jobs by index", () => {
  const q = new Queue();
  const [root, mid, leaf, other] = q.push(
    { type: "fetch", payload: null },
    { type: "parse", payload: null, dependsOn: [0] },
    { type: "store", payload: null, dependsOn: [1, 0] },
    { type: "other", payload: null },
  );
  assert.deepEqual(findJob(q.state, leaf)?.dependsOn, [mid, root]);
  assert.deepEqual(q.claim().map((j) => j.id), [root, other]);
  const [job] = [findJob(q.state, root)!];
  q.ok({ op: "complete", jobId: root, leaseToken: job.lease!.token });
  assert.deepEqual(q.claim().map((j) => j.id), [mid], "leaf still waits for mid");
  q.ok({ op: "complete", jobId: mid, leaseToken: findJob(q.state, mid)!.lease!.token });
  assert.deepEqual(q.claim().map((j) => j.id), [leaf]);
});

Deno.test("dependsOn: a dead parent kills its waiting children and theirs, naming the parent", () => {
  const q = new Queue();
  const [p, c, g] = q.push(
    { type: "p", payload: null, maxAttempts: 1 },
    { type: "c", payload: null, dependsOn: [0] },
    { type: "g", payload: null, dependsOn: [1] },
  );
  const [claimed] = q.claim();
  q.ok({ op: "fail", jobId: p, leaseToken: claimed.leaseToken, error: "boom" });
  const child = q.ok({ op: "get", jobId: c }).job;
  assert.equal(child.state, "dead");
  assert.match(child.lastError!, new RegExp(`parent job "${p}" is dead`));
  const grandchild = q.ok({ op: "get", jobId: g }).job;
  assert.equal(grandchild.state, "dead");
  assert.match(grandchild.lastError!, new RegExp(`parent job "${c}" is dead`));
  assert.equal(q.ok({ op: "stats" }).totals.dead, 3);
  // An operator can still retry a child that died with its parent.
  assert.deepEqual(q.ok({ op: "retry", jobId: c }), { retried: [c] });
  assert.deepEqual(q.claim().map((j) => j.id), [c]);
});

Deno.test("dependsOn: cancelling or deleting a parent kills the children; an expired last lease too", () => {
  const q = new Queue();
  const [p1, c1] = q.push({ type: "p", payload: 1 }, { type: "c", payload: 1, dependsOn: [0] });
  q.ok({ op: "cancel", jobId: p1 });
  assert.equal(q.state_(c1), "dead");
  assert.match(findJob(q.state, c1)!.lastError!, /is cancelled/);
  const [p2, c2] = q.push({ type: "p", payload: 2 }, { type: "c", payload: 2, dependsOn: [0] });
  q.ok({ op: "delete", jobId: p2 });
  assert.equal(q.state_(c2), "dead");
  assert.match(findJob(q.state, c2)!.lastError!, /was deleted/);
  const [p3, c3] = q.push({ type: "p3", payload: 3, maxAttempts: 1 }, {
    type: "c",
    payload: 3,
    dependsOn: [0],
  });
  q.claim(["p3"]);
  q.now += 60_000;
  assert.equal(q.run({ op: "expire" }).ok, true);
  assert.equal(q.state_(p3), "dead");
  assert.equal(q.state_(c3), "dead");
});

Deno.test("dependsOn: bad parents are refused before anything is written", () => {
  const q = new Queue();
  const [done] = q.push({ type: "p", payload: null });
  q.ok({ op: "complete", jobId: done, leaseToken: q.claim()[0].leaseToken });
  const [dead] = q.push({ type: "p", payload: null });
  q.ok({ op: "cancel", jobId: dead });
  const before = q.state;
  const cases: [PushJob[], string][] = [
    [[{ type: "c", payload: null, dependsOn: ["zzzz"] }], "job_not_found"],
    [[{ type: "c", payload: null, dependsOn: [dead] }], "validation"],
    [[{ type: "c", payload: null, dependsOn: [0] }], "validation"], // not an earlier job
    [[{ type: "a", payload: null }, { type: "c", payload: null, dependsOn: [1] }], "validation"],
    [
      [{ type: "a", payload: null }, { type: "c", payload: null, dependsOn: [0], delayMs: 5 }],
      "validation",
    ],
  ];
  for (const [jobs, code] of cases) {
    const reply = q.run({ op: "push", jobs });
    assert.equal(reply.ok, false, JSON.stringify(jobs));
    assert.equal(!reply.ok && reply.error.code, code, JSON.stringify(jobs));
    assert.equal(q.state, before, "nothing written");
  }
  // A completed parent is satisfied already: the child is ready at once.
  const [child] = q.push({ type: "c", payload: null, dependsOn: [done] });
  assert.equal(q.state_(child), "ready");
  assert.equal(findJob(q.state, child)?.dependsOn, undefined);
});

Deno.test("dependsOn: a waiting child cannot be promoted, does not wake the broker, counts as delayed", () => {
  const q = new Queue();
  const [, c] = q.push({ type: "p", payload: null }, { type: "c", payload: null, dependsOn: [0] });
  const reply = q.run({ op: "promote", jobId: c });
  assert.equal(!reply.ok && reply.error.code, "validation");
  assert.equal(findJob(q.state, c)?.runAt, WAITING_RUN_AT);
  q.claim(["p"]);
  const due = nextDueAt(q.state, q.now)!;
  assert.ok(due <= q.now + 30_000, "the lease expiry, not the waiting child, is next");
  assert.equal(q.ok({ op: "stats" }).delayed, 1);
});

Deno.test("dependsOn: linking a child rewrites the parent's whole record (children is not a status field)", () => {
  const q = new Queue();
  const [p] = q.push({ type: "p", payload: { big: true } });
  const before = q.state;
  const result = applyBatch(before, [{
    op: "push",
    jobs: [{ type: "c", payload: null, dependsOn: [p] }],
  }], { now: q.now, defaultLeaseMs: 1000, newToken: () => "t", random: () => 0 });
  const effects = batchEffects(before, result.state, result.changes);
  const parentRecord = effects.add.find((r) => r.id === p);
  assert.ok(parentRecord !== undefined, "the parent is written whole");
  const reply = result.replies[0];
  assert.ok(reply.ok);
  const [child] = (reply.value as OperationResults["push"]).jobs;
  assert.deepEqual(parentRecord.children, [child.id]);
});

Deno.test("dependsOn: an index naming a duplicate of a cancelled job makes the child dead at once", () => {
  const q = new Queue();
  const [old] = q.push({ type: "p", payload: null, idempotencyKey: "k" });
  q.ok({ op: "cancel", jobId: old });
  const reply = q.ok({
    op: "push",
    jobs: [
      { type: "p", payload: null, idempotencyKey: "k" },
      { type: "c", payload: null, dependsOn: [0] },
    ],
  });
  assert.deepEqual(reply.jobs[0], { id: old, duplicate: true });
  const child = q.ok({ op: "get", jobId: reply.jobs[1].id }).job;
  assert.equal(child.state, "dead");
  assert.match(child.lastError!, new RegExp(`parent job "${old}" is cancelled`));
  assert.equal(q.ok({ op: "stats" }).totals.dead, 1);
});
