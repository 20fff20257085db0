import { TestQueue } from "./_test_queue.ts";
import assert from "node:assert/strict";
import type { BrokerOperation } from "./apply.ts";
import { summarizeJobs } from "./admin.ts";
import { findJob, queueStats } from "./state.ts";

const T0 = 1_700_000_000_000;

/** A state, a clock and one-operation helpers. */
class Queue extends TestQueue {
  constructor() {
    super({ now: T0, roundTrip: true });
  }

  error(operation: BrokerOperation): { code: string; message: string } {
    const reply = this.run(operation);
    assert.equal(reply.ok, false, `expected ${operation.op} to fail`);
    return reply.ok ? { code: "", message: "" } : reply.error;
  }

  push(type: string, extra: Record<string, unknown> = {}): string {
    return this.ok({ op: "push", jobs: [{ type, payload: { n: type }, ...extra }] }).jobs[0].id;
  }

  /** Pushes a job with one attempt and fails it: dead. */
  dead(type: string): string {
    const id = this.push(type, { maxAttempts: 1 });
    const claimed = this.ok({ op: "claim", workerId: "w", types: [type] }).jobs[0];
    assert.equal(claimed.id, id);
    this.ok({ op: "fail", jobId: id, leaseToken: claimed.leaseToken, error: "boom" });
    return id;
  }
}

Deno.test("list: jobs of one state, newest first, paged by cursor, filtered by type", () => {
  const q = new Queue();
  const ids = [q.push("a"), q.push("b"), q.push("a"), q.push("a")];
  q.push("c", { delayMs: 60_000 });
  const page1 = q.ok({ op: "list", state: "ready", type: "a", limit: 2 });
  assert.deepEqual(page1.jobs.map((j) => j.id), [ids[3], ids[2]]);
  assert.equal(page1.total, 3);
  assert.equal(page1.next, ids[2]);
  const page2 = q.ok({ op: "list", state: "ready", type: "a", limit: 2, cursor: page1.next });
  assert.deepEqual(page2.jobs.map((j) => j.id), [ids[0]]);
  assert.equal(page2.next, undefined);
  assert.equal(q.ok({ op: "list", state: "ready" }).total, 4);
  assert.equal(q.ok({ op: "list", state: "delayed" }).jobs[0].type, "c");
  // A due delayed job lists as ready.
  q.now += 60_000;
  assert.equal(q.ok({ op: "list", state: "delayed" }).total, 0);
  assert.equal(q.ok({ op: "list", state: "ready" }).total, 5);
  assert.equal(q.error({ op: "list", state: "ready", cursor: "not an id!" }).code, "validation");
});

Deno.test("list: active jobs show the lease holder and expiry, never the token", () => {
  const q = new Queue();
  const id = q.push("a");
  const claimed = q.ok({ op: "claim", workerId: "worker-7", leaseMs: 5_000 }).jobs[0];
  const [job] = q.ok({ op: "list", state: "active" }).jobs;
  assert.equal(job.id, id);
  assert.deepEqual(job.lease, { workerId: "worker-7", expiresAt: T0 + 5_000 });
  assert.ok(!JSON.stringify(job).includes(claimed.leaseToken));
});

Deno.test("retry: a dead job goes back to ready with its attempts reset", () => {
  const q = new Queue();
  const id = q.dead("mail");
  q.now += 1000;
  assert.deepEqual(q.ok({ op: "retry", jobId: id }), { retried: [id] });
  const job = findJob(q.state, id)!;
  assert.equal(job.state, "ready");
  assert.equal(job.attempts, 0);
  assert.equal(job.runAt, T0 + 1000);
  assert.equal(job.finishedAt, undefined);
  assert.equal(job.lastError, "boom", "the last error stays for the record");
  assert.equal(queueStats(q.state, q.now).ready, 1);
  // It can be claimed again, and a job that is not dead is refused.
  assert.equal(q.ok({ op: "claim", workerId: "w" }).jobs[0].id, id);
  const error = q.error({ op: "retry", jobId: id });
  assert.equal(error.code, "validation");
  assert.match(error.message, /is active, not dead/);
  assert.equal(q.error({ op: "retry", jobId: "zzzz" }).code, "job_not_found");
});

Deno.test("retry by type: every dead job of that type, none of the others", () => {
  const q = new Queue();
  const a1 = q.dead("a");
  const b = q.dead("b");
  const a2 = q.dead("a");
  q.push("a");
  assert.deepEqual(q.ok({ op: "retry", type: "a" }).retried.sort(), [a1, a2].sort());
  assert.equal(findJob(q.state, b)!.state, "dead");
  assert.equal(q.ok({ op: "list", state: "dead" }).total, 1);
  assert.equal(q.ok({ op: "list", state: "ready", type: "a" }).total, 3);
  assert.deepEqual(q.ok({ op: "retry", type: "nothing" }), { retried: [] });
});

Deno.test("delete: removes a job and its idempotency key; an active job only with force", () => {
  const q = new Queue();
  const id = q.push("a", { idempotencyKey: "k" });
  assert.deepEqual(q.ok({ op: "delete", jobId: id }), { deleted: true });
  assert.equal(findJob(q.state, id), undefined);
  assert.equal(queueStats(q.state, q.now).ready, 0);
  assert.notEqual(q.push("a", { idempotencyKey: "k" }), id, "the key is free again");
  const active = q.ok({ op: "claim", workerId: "w" }).jobs[0];
  const refused = q.error({ op: "delete", jobId: active.id });
  assert.equal(refused.code, "validation");
  assert.match(refused.message, /active .*force/);
  assert.deepEqual(q.ok({ op: "delete", jobId: active.id, force: true }), { deleted: true });
  assert.equal(queueStats(q.state, q.now).active, 0);
  // Its holder's lease is gone.
  const late = q.error({ op: "complete", jobId: active.id, leaseToken: active.leaseToken });
  assert.equal(late.code, "job_not_found");
  assert.equal(q.error({ op: "delete", jobId: id }).code, "job_not_found");
});

Deno.test("promote: a delayed job becomes ready now; other states are refused", () => {
  const q = new Queue();
  const id = q.push("a", { delayMs: 3_600_000 });
  assert.equal(q.ok({ op: "claim", workerId: "w" }).jobs.length, 0);
  q.now += 10;
  assert.deepEqual(q.ok({ op: "promote", jobId: id }), { promoted: true });
  assert.equal(findJob(q.state, id)!.runAt, T0 + 10);
  assert.deepEqual(q.ok({ op: "promote", jobId: id }), { promoted: false });
  assert.equal(q.ok({ op: "claim", workerId: "w" }).jobs[0].id, id);
  assert.match(q.error({ op: "promote", jobId: id }).message, /is active: only delayed/);
});

Deno.test("summarizeJobs counts jobs by state and type, and active ones by worker", () => {
  const q = new Queue();
  q.dead("a");
  q.push("a");
  q.push("b", { delayMs: 1000 });
  q.push("b");
  q.ok({ op: "claim", workerId: "w1", types: ["b"] });
  assert.deepEqual(summarizeJobs(q.state, q.now), {
    byStateAndType: {
      ready: { a: 1 },
      delayed: { b: 1 },
      active: { b: 1 },
      completed: {},
      dead: { a: 1 },
      cancelled: {},
    },
    activeByWorker: { w1: 1 },
  });
});
