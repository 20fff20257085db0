import assert from "node:assert/strict";
import { JobNotFoundError, LeaseLostError, type OsqueueError, ValidationError } from "../errors.ts";
import type { ClaimedJob, Job, JobView, PushJob, QueueStats } from "../protocol/operations.ts";
import {
  applyBatch,
  type ApplyContext,
  type BatchResult,
  type BrokerOperation,
  type OperationReply,
} from "./apply.ts";
import { DEFAULT_BACKOFF } from "./backoff.ts";
import { SortedList } from "./sorted_list.ts";
import {
  createState,
  decodeState,
  encodeState,
  findJob,
  jobCount,
  type QueueState,
} from "./state.ts";
import { stateData } from "./state_data.ts";

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

/** A queue under test: a state, a clock, deterministic tokens and randomness. */
class Harness {
  state: QueueState = createState();
  now = T0;
  tokens = 0;
  randomValue = 0.5;

  context(): ApplyContext {
    return {
      now: this.now,
      defaultLeaseMs: LEASE,
      newToken: () => `token-${++this.tokens}`,
      random: () => this.randomValue,
    };
  }

  /** Applies a batch and keeps its state. */
  batch(operations: BrokerOperation[]): BatchResult {
    const result = applyBatch(this.state, operations, this.context());
    assert.equal(result.replies.length, operations.length);
    this.state = result.state;
    return result;
  }

  /** Applies one operation and returns its value (asserting success). */
  ok<T = unknown>(operation: BrokerOperation): T {
    return value<T>(this.batch([operation]).replies[0]);
  }

  /** Applies one operation and returns its error (asserting failure). */
  fails(operation: BrokerOperation): OsqueueError {
    return failure(this.batch([operation]).replies[0]);
  }

  push(...jobs: PushJob[]): string[] {
    return this.ok<{ jobs: { id: string }[] }>({ op: "push", jobs }).jobs.map((j) => j.id);
  }

  claim(options: { types?: string[]; max?: number; leaseMs?: number } = {}): ClaimedJob[] {
    return this.ok<{ jobs: ClaimedJob[] }>({ op: "claim", workerId: "w1", ...options }).jobs;
  }

  claimIds(options: { types?: string[]; max?: number } = {}): string[] {
    return this.claim(options).map((job) => job.id);
  }

  get(id: string): JobView {
    return this.ok<{ job: JobView }>({ op: "get", jobId: id }).job;
  }

  stats(): QueueStats {
    return this.ok<QueueStats>({ op: "stats" });
  }
}

function value<T>(reply: OperationReply): T {
  if (!reply.ok) {
    throw new Error(`expected success, got ${reply.error.code}: ${reply.error.message}`);
  }
  return reply.value as T;
}

function failure(reply: OperationReply): OsqueueError {
  if (reply.ok) throw new Error(`expected an error, got ${JSON.stringify(reply.value)}`);
  return reply.error;
}

const job = (type = "t", extra: Partial<PushJob> = {}): PushJob => ({
  type,
  payload: null,
  ...extra,
});

// ---------------------------------------------------------------------------
// push

Deno.test("push assigns unique increasing ids and defaults", () => {
  const h = new Harness();
  const ids = h.push(job("a", { payload: { n: 1 } }), job("b"));
  const more = h.push(job("a"));
  assert.deepEqual([...ids, ...more], ["1", "2", "3"]);
  assert.deepEqual(h.get("1"), {
    id: "1",
    type: "a",
    payload: { n: 1 },
    state: "ready",
    priority: 0,
    runAt: T0,
    attempts: 0,
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    createdAt: T0,
    updatedAt: T0,
  });
  assert.equal(h.stats().totals.pushed, 3);
  assert.equal(jobCount(h.state), 3);
});

Deno.test("push keeps the options it is given", () => {
  const h = new Harness();
  const backoff = { type: "fixed" as const, delayMs: 50, maxDelayMs: 100, jitter: 0.1 };
  const [id] = h.push(job("a", { priority: 7, maxAttempts: 5, backoff, idempotencyKey: "k" }));
  const record = h.get(id);
  assert.equal(record.priority, 7);
  assert.equal(record.maxAttempts, 5);
  assert.deepEqual(record.backoff, backoff);
  assert.equal(record.idempotencyKey, "k");
});

Deno.test("push with delayMs or runAt is delayed until due; runAt wins", () => {
  const h = new Harness();
  const [a, b, c, d] = h.push(
    job("t", { delayMs: 1000 }),
    job("t", { runAt: T0 + 500, delayMs: 5000 }),
    job("t", { runAt: T0 - 10 }),
    job("t", { delayMs: 0 }),
  );
  assert.equal(h.get(a).state, "delayed");
  assert.equal(h.get(a).runAt, T0 + 1000);
  assert.equal(h.get(b).runAt, T0 + 500);
  assert.equal(h.get(c).state, "ready");
  assert.equal(h.get(d).state, "ready");
  assert.deepEqual(h.claimIds({ max: 10 }), [c, d]);
  h.now = T0 + 499;
  assert.deepEqual(h.claimIds({ max: 10 }), []);
  h.now = T0 + 500; // due exactly at runAt
  assert.equal(h.get(b).state, "ready", "a due delayed job reads as ready");
  assert.equal(h.get(a).state, "delayed");
  assert.deepEqual(h.claimIds({ max: 10 }), [b]);
  h.now = T0 + 2000;
  assert.deepEqual(h.claimIds({ max: 10 }), [a]);
});

Deno.test("idempotency keys: duplicates across batches, within a batch and within one push", () => {
  const h = new Harness();
  const first = h.ok<{ jobs: { id: string; duplicate: boolean }[] }>({
    op: "push",
    jobs: [job("t", { idempotencyKey: "k1" }), job("t", { idempotencyKey: "k1" })],
  });
  assert.deepEqual(first.jobs, [{ id: "1", duplicate: false }, { id: "1", duplicate: true }]);
  const result = h.batch([
    { op: "push", jobs: [job("t", { idempotencyKey: "k2" })] },
    { op: "push", jobs: [job("t", { idempotencyKey: "k2" }), job("t", { idempotencyKey: "k1" })] },
  ]);
  assert.deepEqual(value(result.replies[0]), { jobs: [{ id: "2", duplicate: false }] });
  assert.deepEqual(value(result.replies[1]), {
    jobs: [{ id: "2", duplicate: true }, { id: "1", duplicate: true }],
  });
  assert.equal(h.stats().totals.pushed, 2);
  assert.equal(jobCount(h.state), 2);
  // A duplicate-only push changes nothing.
  const again = h.batch([{ op: "push", jobs: [job("t", { idempotencyKey: "k1" })] }]);
  assert.equal(again.changed, false);
});

Deno.test("idempotency: a finished job keeps its key until archived, then the key is free", () => {
  const h = new Harness();
  const [id] = h.push(job("t", { idempotencyKey: "k" }));
  const [claimed] = h.claim();
  h.ok({ op: "complete", jobId: id, leaseToken: claimed.leaseToken });
  assert.deepEqual(h.push(job("t", { idempotencyKey: "k" })), [id]);
  assert.deepEqual(h.ok({ op: "archived", ids: [id] }), { removed: 1 });
  const [fresh] = h.push(job("t", { idempotencyKey: "k" }));
  assert.notEqual(fresh, id);
  assert.deepEqual(h.push(job("t", { idempotencyKey: "k" })), [fresh]);
});

// ---------------------------------------------------------------------------
// claim

Deno.test("claim: highest priority first, then FIFO by runAt, then push order", () => {
  const h = new Harness();
  const [low] = h.push(job("t", { priority: -1 }));
  const [a1, a2] = h.push(job("t"), job("t"));
  const [high] = h.push(job("t", { priority: 10 }));
  h.now += 5;
  const [a3] = h.push(job("t"));
  const [early] = h.push(job("t", { runAt: T0 - 100 })); // runAt in the past: first among equals
  assert.deepEqual(h.claimIds({ max: 10 }), [high, early, a1, a2, a3, low]);
});

Deno.test("claim: leases, attempts and claimed-job fields", () => {
  const h = new Harness();
  const [id] = h.push(job("mail", { payload: { to: "x" }, priority: 2, maxAttempts: 4 }));
  h.now += 10;
  const [claimed] = h.claim({ leaseMs: 5000 });
  assert.deepEqual(claimed, {
    id,
    type: "mail",
    payload: { to: "x" },
    attempt: 1,
    maxAttempts: 4,
    priority: 2,
    createdAt: T0,
    leaseToken: "token-1",
    leaseExpiresAt: T0 + 10 + 5000,
  });
  const record = h.get(id);
  assert.equal(record.state, "active");
  assert.equal(record.attempts, 1);
  assert.equal(record.updatedAt, T0 + 10);
  assert.deepEqual(record.lease, { workerId: "w1", expiresAt: T0 + 5010 });
  assert.equal(findJob(h.state, id)?.lease?.token, "token-1");
  // The default lease applies when none is given.
  h.push(job());
  assert.equal(h.claim()[0].leaseExpiresAt, h.now + LEASE);
});

Deno.test("get never returns the lease token (only the claimer holds it), active or not", () => {
  const h = new Harness();
  const [id] = h.push(job());
  assert.equal(h.get(id).lease, undefined);
  const [claimed] = h.claim({ leaseMs: 1000 });
  const view = h.get(id);
  assert.deepEqual(view.lease, { workerId: "w1", expiresAt: T0 + 1000 });
  assert.ok(!JSON.stringify(view).includes(claimed.leaseToken));
  // The stored record still has it, and the holder can use it.
  assert.equal(findJob(h.state, id)?.lease?.token, claimed.leaseToken);
  h.ok({ op: "heartbeat", jobId: id, leaseToken: claimed.leaseToken });
  assert.ok(!JSON.stringify(h.get(id)).includes(claimed.leaseToken));
});

Deno.test("claim: max defaults to 1 and caps the number of jobs", () => {
  const h = new Harness();
  h.push(job(), job(), job(), job());
  assert.equal(h.claim().length, 1);
  assert.equal(h.claim({ max: 2 }).length, 2);
  assert.equal(h.claim({ max: 10 }).length, 1);
  const empty = h.batch([{ op: "claim", workerId: "w" }]);
  assert.deepEqual(value(empty.replies[0]), { jobs: [] });
  assert.equal(empty.changed, false);
});

Deno.test("claim: types filter, merging several types by priority and FIFO", () => {
  const h = new Harness();
  const [a1] = h.push(job("a"));
  const [b1] = h.push(job("b"));
  const [c1] = h.push(job("c", { priority: 5 }));
  const [a2] = h.push(job("a", { priority: 1 }));
  const [b2] = h.push(job("b"));
  assert.deepEqual(h.claimIds({ types: ["nope"] }), []);
  assert.deepEqual(h.claimIds({ types: ["a", "b", "a"], max: 3 }), [a2, a1, b1]);
  assert.deepEqual(h.claimIds({ types: [], max: 10 }), [c1, b2], "empty types = all types");
});

Deno.test("claim: due delayed jobs of a type are found by a typed claim", () => {
  const h = new Harness();
  const [d] = h.push(job("a", { delayMs: 100, priority: 3 }));
  const [r] = h.push(job("a"));
  h.push(job("b", { delayMs: 50 }));
  h.now += 100;
  assert.deepEqual(h.claimIds({ types: ["a"], max: 5 }), [d, r]);
});

Deno.test("claim: a push then a claim in the same batch gets the job", () => {
  const h = new Harness();
  const result = h.batch([
    { op: "push", jobs: [job("t")] },
    { op: "claim", workerId: "w", max: 5 },
    { op: "claim", workerId: "w" },
  ]);
  const claimed = value<{ jobs: ClaimedJob[] }>(result.replies[1]).jobs;
  assert.deepEqual(claimed.map((j) => j.id), ["1"]);
  assert.deepEqual(value(result.replies[2]), { jobs: [] });
  assert.equal(result.changed, true);
});

Deno.test("claim after a retry: the job re-enters at its new runAt", () => {
  const h = new Harness();
  const [a] = h.push(job("t", { backoff: { type: "fixed", delayMs: 0 } }));
  h.now += 10;
  const [b] = h.push(job("t"));
  h.now += 10;
  const [claimed] = h.claim();
  assert.equal(claimed.id, a);
  assert.deepEqual(h.ok({ op: "fail", jobId: a, leaseToken: claimed.leaseToken, error: "x" }), {
    state: "ready",
    runAt: h.now,
  });
  assert.deepEqual(h.claimIds({ max: 2 }), [b, a]);
});

// ---------------------------------------------------------------------------
// heartbeat, complete, fail, release: lease checks

Deno.test("heartbeat extends the lease; default and explicit durations", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim({ leaseMs: 1000 });
  h.now += 500;
  const result = h.batch([{ op: "heartbeat", jobId: id, leaseToken: c.leaseToken }]);
  assert.equal(result.changed, true);
  assert.deepEqual(value(result.replies[0]), { leaseExpiresAt: h.now + LEASE });
  assert.deepEqual(h.ok({ op: "heartbeat", jobId: id, leaseToken: c.leaseToken, leaseMs: 50 }), {
    leaseExpiresAt: h.now + 50,
  });
  assert.equal(h.get(id).lease?.expiresAt, h.now + 50);
  assert.equal(h.get(id).updatedAt, T0, "a heartbeat is not a state change");
});

Deno.test("lease checks: unknown, malformed, foreign and stale tokens", () => {
  for (const op of ["heartbeat", "complete", "fail", "release"] as const) {
    const h = new Harness();
    const [id] = h.push(job());
    const [c] = h.claim();
    const make = (jobId: string, leaseToken: string): BrokerOperation =>
      op === "fail" ? { op, jobId, leaseToken, error: "e" } : { op, jobId, leaseToken };

    for (const jobId of ["99", "", "-1", "not an id", "0", "1".repeat(40)]) {
      const error = h.fails(make(jobId, c.leaseToken));
      assert.ok(error instanceof JobNotFoundError, `${op} ${jobId}: ${error.code}`);
      assert.match(error.message, /not found.*archived/);
    }
    const foreign = h.fails(make(id, "someone-else"));
    assert.ok(foreign instanceof LeaseLostError, op);
    assert.match(foreign.message, /another token/);
    assert.equal(h.get(id).state, "active", "a foreign token changes nothing");

    // The lease runs out and another worker claims the job: the old token is stale.
    h.now += LEASE;
    assert.deepEqual(h.ok({ op: "expire" }), { expired: 1 });
    const notActive = h.fails(make(id, c.leaseToken));
    assert.ok(notActive instanceof LeaseLostError);
    assert.match(notActive.message, /not active/);
    const [again] = h.claim();
    assert.equal(again.id, id);
    assert.equal(again.attempt, 2);
    const stale = h.fails(make(id, c.leaseToken));
    assert.ok(stale instanceof LeaseLostError);
    assert.equal(findJob(h.state, id)?.lease?.token, again.leaseToken);
  }
});

Deno.test("a lease past its expiry is still valid until expire runs", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim({ leaseMs: 100 });
  h.now += 1000;
  assert.deepEqual(h.ok({ op: "heartbeat", jobId: id, leaseToken: c.leaseToken }), {
    leaseExpiresAt: h.now + LEASE,
  });
  assert.deepEqual(h.ok({ op: "expire" }), { expired: 0 });
  assert.deepEqual(h.ok({ op: "complete", jobId: id, leaseToken: c.leaseToken }), { ok: true });
});

Deno.test("complete: finishes the job, keeps the result, frees the lease", () => {
  const h = new Harness();
  const [id, other] = h.push(job("a"), job("a"));
  const [c] = h.claim();
  h.now += 7;
  const result = h.batch([
    { op: "complete", jobId: id, leaseToken: c.leaseToken, result: { sent: true } },
  ]);
  assert.equal(result.changed, true);
  assert.deepEqual(value(result.replies[0]), { ok: true });
  const record = h.get(id);
  assert.equal(record.state, "completed");
  assert.equal(record.finishedAt, T0 + 7);
  assert.equal(record.updatedAt, T0 + 7);
  assert.deepEqual(record.result, { sent: true });
  assert.equal("lease" in record, false);
  const stats = h.stats();
  assert.equal(stats.totals.completed, 1);
  assert.equal(stats.finishedPending, 1);
  assert.equal(stats.active, 0);
  assert.deepEqual(stats.byType, { a: 1 });
  const twice = h.fails({ op: "complete", jobId: id, leaseToken: c.leaseToken });
  assert.ok(twice instanceof LeaseLostError);
  assert.match(twice.message, /already completed/);
  assert.deepEqual(h.claimIds(), [other]);
});

Deno.test("complete without a result stores none", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim();
  h.ok({ op: "complete", jobId: id, leaseToken: c.leaseToken });
  assert.equal("result" in h.get(id), false);
});

Deno.test("fail: retries with exponential backoff, then dead-letters after maxAttempts", () => {
  const h = new Harness();
  const [id] = h.push(job("t", { maxAttempts: 3 })); // default backoff: 1 s exponential, ±20 %
  h.randomValue = 0.5; // no jitter
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    h.now = Math.max(h.now, h.get(id).runAt);
    const [c] = h.claim();
    assert.equal(c.attempt, attempt);
    const reply = h.ok<{ state: string; runAt: number }>({
      op: "fail",
      jobId: id,
      leaseToken: c.leaseToken,
      error: `boom ${attempt}`,
    });
    assert.equal(reply.state, "delayed");
    delays.push(reply.runAt - h.now);
    const record = h.get(id);
    assert.equal(record.state, "delayed");
    assert.equal(record.lastError, `boom ${attempt}`);
    assert.equal("lease" in record, false);
    assert.deepEqual(h.claimIds(), [], "not claimable before its runAt");
  }
  assert.deepEqual(delays, [1000, 2000]);
  h.now = h.get(id).runAt;
  const [c] = h.claim();
  assert.equal(c.attempt, 3);
  assert.deepEqual(h.ok({ op: "fail", jobId: id, leaseToken: c.leaseToken, error: "last" }), {
    state: "dead",
  });
  const record = h.get(id);
  assert.equal(record.state, "dead");
  assert.equal(record.finishedAt, h.now);
  assert.equal(record.lastError, "last");
  const totals = h.stats().totals;
  assert.equal(totals.failed, 3);
  assert.equal(totals.retried, 2);
  assert.equal(totals.dead, 1);
  assert.deepEqual(h.stats().byType, {});
});

Deno.test("fail: jitter stays within bounds and uses the context's randomness", () => {
  for (const [random, expected] of [[0, 800], [0.25, 900], [0.999999, 1200]] as const) {
    const h = new Harness();
    h.randomValue = random;
    const [id] = h.push(job());
    const [c] = h.claim();
    const reply = h.ok<{ runAt: number }>({
      op: "fail",
      jobId: id,
      leaseToken: c.leaseToken,
      error: "x",
    });
    assert.equal(reply.runAt - h.now, expected, `random ${random}`);
  }
});

Deno.test("fail: retry false dead-letters at once; zero backoff retries as ready", () => {
  const h = new Harness();
  const [a, b] = h.push(
    job("t", { maxAttempts: 10 }),
    job("t", { backoff: { type: "fixed", delayMs: 0 } }),
  );
  const [ca, cb] = h.claim({ max: 2 });
  assert.deepEqual(
    h.ok({ op: "fail", jobId: a, leaseToken: ca.leaseToken, error: "bad", retry: false }),
    { state: "dead" },
  );
  assert.deepEqual(h.ok({ op: "fail", jobId: b, leaseToken: cb.leaseToken, error: "again" }), {
    state: "ready",
    runAt: h.now,
  });
  assert.equal(h.get(b).state, "ready");
  assert.deepEqual(h.claimIds(), [b]);
  const totals = h.stats().totals;
  assert.deepEqual([totals.failed, totals.retried, totals.dead], [2, 1, 1]);
});

Deno.test("release: ready again at once, attempt not counted, position kept", () => {
  const h = new Harness();
  const [a] = h.push(job());
  h.now += 1;
  const [b] = h.push(job());
  const [c] = h.claim();
  assert.equal(c.id, a);
  h.now += 5;
  assert.deepEqual(h.ok({ op: "release", jobId: a, leaseToken: c.leaseToken }), { ok: true });
  const record = h.get(a);
  assert.equal(record.state, "ready");
  assert.equal(record.attempts, 0);
  assert.equal("lease" in record, false);
  const [again, next] = h.claim({ max: 2 });
  assert.deepEqual([again.id, next.id], [a, b]);
  assert.equal(again.attempt, 1);
  const stale = h.fails({ op: "release", jobId: a, leaseToken: c.leaseToken });
  assert.ok(stale instanceof LeaseLostError);
});

// ---------------------------------------------------------------------------
// cancel, get, stats

Deno.test("cancel: ready, delayed and active jobs; finished and unknown ones", () => {
  const h = new Harness();
  const [ready, delayed, active, done] = h.push(
    job("t", { priority: -1 }),
    job("t", { delayMs: 100 }),
    job("t", { priority: 5 }),
    job("t", { priority: 4 }),
  );
  const [ca, cd] = h.claim({ max: 2 });
  assert.deepEqual([ca.id, cd.id], [active, done]);
  h.ok({ op: "complete", jobId: done, leaseToken: cd.leaseToken });
  h.now += 3;
  for (const id of [ready, delayed, active]) {
    assert.deepEqual(h.ok({ op: "cancel", jobId: id }), { cancelled: true }, id);
    const record = h.get(id);
    assert.equal(record.state, "cancelled");
    assert.equal(record.finishedAt, h.now);
    assert.equal("lease" in record, false);
  }
  const finished = h.batch([{ op: "cancel", jobId: done }, { op: "cancel", jobId: ready }]);
  assert.deepEqual(finished.replies.map((r) => value(r)), [{ cancelled: false }, {
    cancelled: false,
  }]);
  assert.equal(finished.changed, false);
  assert.ok(h.fails({ op: "cancel", jobId: "zzz" }) instanceof JobNotFoundError);
  // The holder of the cancelled active job learns it lost the lease.
  const lost = h.fails({ op: "complete", jobId: active, leaseToken: ca.leaseToken });
  assert.ok(lost instanceof LeaseLostError);
  assert.match(lost.message, /cancelled/);
  h.now += 1000;
  assert.deepEqual(h.claimIds({ max: 10 }), [], "cancelled jobs are never claimed");
  const stats = h.stats();
  assert.equal(stats.totals.cancelled, 3);
  assert.deepEqual([stats.ready, stats.delayed, stats.active, stats.finishedPending], [0, 0, 0, 4]);
  assert.deepEqual(h.ok({ op: "expire" }), { expired: 0 });
});

Deno.test("cancel of a due delayed job that a claim already promoted", () => {
  const h = new Harness();
  const [d] = h.push(job("a", { delayMs: 10 }));
  h.now += 10;
  assert.deepEqual(h.claimIds({ types: ["b"] }), [], "a claim promotes every due job");
  assert.deepEqual(h.ok({ op: "cancel", jobId: d }), { cancelled: true });
  assert.deepEqual(h.claimIds({ max: 5 }), []);
  assert.equal(h.stats().ready, 0);
});

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

// ---------------------------------------------------------------------------
// expire, archived

Deno.test("expire: ready again while attempts remain, dead after the last", () => {
  const h = new Harness();
  const [retry, last, fresh] = h.push(
    job("t", { priority: 3 }),
    job("t", { priority: 2, maxAttempts: 1 }),
    job("t", { priority: 1 }),
  );
  h.claim({ max: 2, leaseMs: 100 });
  h.claim({ leaseMs: 1000 });
  h.now += 100;
  const result = h.batch([{ op: "expire" }]);
  assert.deepEqual(value(result.replies[0]), { expired: 2 });
  assert.equal(result.changed, true);
  const r = h.get(retry);
  assert.equal(r.state, "ready");
  assert.equal(r.attempts, 1, "the attempt stays counted");
  assert.match(r.lastError ?? "", /lease expired/);
  assert.equal("lease" in r, false);
  const l = h.get(last);
  assert.equal(l.state, "dead");
  assert.equal(l.finishedAt, h.now);
  assert.match(l.lastError ?? "", /lease expired.*w1/);
  assert.equal(h.get(fresh).state, "active");
  const totals = h.stats().totals;
  assert.deepEqual([totals.expired, totals.dead], [2, 1]);
  const [again] = h.claim();
  assert.deepEqual([again.id, again.attempt], [retry, 2]);
  const none = h.batch([{ op: "expire" }]);
  assert.deepEqual(value(none.replies[0]), { expired: 0 });
  assert.equal(none.changed, false);
});

Deno.test("archived: drops finished jobs only and frees their keys", () => {
  const h = new Harness();
  const [done, open] = h.push(job("t", { idempotencyKey: "a" }), job("t"));
  const [c] = h.claim();
  h.ok({ op: "complete", jobId: done, leaseToken: c.leaseToken });
  const result = h.batch([{ op: "archived", ids: [done, open, "zz", "", done] }]);
  assert.deepEqual(value(result.replies[0]), { removed: 1 });
  assert.equal(result.changed, true);
  assert.ok(h.fails({ op: "get", jobId: done }) instanceof JobNotFoundError);
  assert.equal(h.get(open).state, "ready");
  assert.equal(h.stats().finishedPending, 0);
  assert.equal(jobCount(h.state), 1);
  const none = h.batch([{ op: "archived", ids: [open, "zz"] }]);
  assert.deepEqual(value(none.replies[0]), { removed: 0 });
  assert.equal(none.changed, false);
});

// ---------------------------------------------------------------------------
// batches: errors, changed, immutability

Deno.test("per-operation problems become error replies; the batch goes on", () => {
  const h = new Harness();
  const result = h.batch([
    { op: "nope" } as unknown as BrokerOperation,
    { op: "push", jobs: [job("ok"), { type: "", payload: 1 }] },
    { op: "push", jobs: [job("ok")] },
    null as unknown as BrokerOperation,
    { op: "push", jobs: "x" } as unknown as BrokerOperation,
  ]);
  assert.ok(failure(result.replies[0]) instanceof ValidationError);
  const invalidPush = failure(result.replies[1]);
  assert.ok(invalidPush instanceof ValidationError);
  assert.match(invalidPush.message, /jobs\[1\]/);
  assert.deepEqual(value(result.replies[2]), { jobs: [{ id: "1", duplicate: false }] });
  assert.ok(failure(result.replies[3]) instanceof ValidationError);
  assert.ok(failure(result.replies[4]) instanceof ValidationError);
  assert.equal(jobCount(h.state), 1, "the invalid push added nothing");
});

Deno.test("changed is false for reads, empty claims and failed operations", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const before = h.state;
  const result = h.batch([
    { op: "get", jobId: id },
    { op: "stats" },
    { op: "claim", workerId: "w", types: ["other"] },
    { op: "complete", jobId: id, leaseToken: "x" },
    { op: "cancel", jobId: "404" },
    { op: "expire" },
    { op: "archived", ids: [id] },
  ]);
  assert.equal(result.changed, false);
  assert.equal(result.state, before, "nothing changed: the same state object");
  assert.equal(h.batch([{ op: "claim", workerId: "w" }]).changed, true);
  assert.equal(h.batch([]).changed, false);
});

Deno.test("applyBatch never changes the state it is given", () => {
  const h = new Harness();
  h.push(job("a"), job("a", { delayMs: 10, idempotencyKey: "k" }), job("b", { priority: 2 }));
  const claimed = h.claim();
  const base = h.state;
  const bytes = encodeState(base);
  const operations: BrokerOperation[] = [
    { op: "push", jobs: Array.from({ length: 300 }, (_, i) => job(i % 2 ? "a" : "b")) },
    { op: "complete", jobId: claimed[0].id, leaseToken: claimed[0].leaseToken },
    { op: "claim", workerId: "w", max: 100 },
    { op: "cancel", jobId: "1" },
    { op: "archived", ids: ["1", claimed[0].id] },
    { op: "push", jobs: [job("a", { idempotencyKey: "k" })] },
  ];
  h.now += 20;
  const tokens = h.tokens;
  const first = applyBatch(base, operations, h.context());
  assert.deepEqual(encodeState(base), bytes, "the input encodes the same");
  h.tokens = tokens;
  const second = applyBatch(base, operations, h.context());
  assert.deepEqual(second.replies, first.replies, "the same batch gives the same replies");
  assert.deepEqual(encodeState(second.state), encodeState(first.state));
  assert.equal(stateData(base).jobs.size, 3);
  assert.equal(stateData(base).ready.size, 1);
});

// ---------------------------------------------------------------------------
// A randomized check of the indexes against the job records.

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function allJobs(state: QueueState): Job[] {
  return [...stateData(state).jobs];
}

/** What a claim should pick, computed from the records alone. */
function expectedClaim(jobs: Job[], now: number, types: string[] | undefined, max: number) {
  return jobs
    .filter((j) => j.state === "ready" || (j.state === "delayed" && j.runAt <= now))
    .filter((j) => types === undefined || types.length === 0 || types.includes(j.type))
    .sort((x, y) =>
      y.priority - x.priority || x.runAt - y.runAt || parseInt(x.id, 36) - parseInt(y.id, 36)
    )
    .slice(0, max)
    .map((j) => j.id);
}

function expectedStats(jobs: Job[], now: number) {
  const count = (f: (j: Job) => boolean) => jobs.filter(f).length;
  const byType: Record<string, number> = {};
  for (const j of jobs) {
    if (["ready", "delayed", "active"].includes(j.state)) {
      byType[j.type] = (byType[j.type] ?? 0) + 1;
    }
  }
  return {
    ready: count((j) => j.state === "ready" || (j.state === "delayed" && j.runAt <= now)),
    delayed: count((j) => j.state === "delayed" && j.runAt > now),
    active: count((j) => j.state === "active"),
    finishedPending: count((j) => ["completed", "dead", "cancelled"].includes(j.state)),
    byType,
  };
}

Deno.test("randomized: claims and stats always agree with the job records", () => {
  const random = prng(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const types = ["a", "b", "c", "d"];
  const h = new Harness();
  h.randomValue = 0.3;
  let leases: ClaimedJob[] = [];
  for (let round = 0; round < 400; round++) {
    h.now += Math.floor(random() * 300);
    const operations: BrokerOperation[] = [];
    const claims: { types?: string[]; max: number }[] = [];
    for (let k = 0; k < 1 + Math.floor(random() * 6); k++) {
      const roll = random();
      if (roll < 0.35) {
        operations.push({
          op: "push",
          jobs: Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
            job(pick(types), {
              priority: Math.floor(random() * 3),
              delayMs: random() < 0.3 ? Math.floor(random() * 1000) : undefined,
              maxAttempts: 1 + Math.floor(random() * 3),
              idempotencyKey: random() < 0.2 ? `key-${Math.floor(random() * 30)}` : undefined,
              backoff: { type: "exponential", delayMs: Math.floor(random() * 200) },
            })),
        });
      } else if (roll < 0.55) {
        const claimTypes = random() < 0.5 ? undefined : [pick(types), pick(types)];
        claims.push({ types: claimTypes, max: 1 + Math.floor(random() * 3) });
        operations.push({ op: "claim", workerId: "w", types: claimTypes, max: claims.at(-1)!.max });
      } else if (roll < 0.85 && leases.length > 0) {
        const lease = pick(leases);
        const what = pick(["heartbeat", "complete", "fail", "release"] as const);
        const leaseToken = random() < 0.1 ? "bogus" : lease.leaseToken;
        const jobId = lease.id;
        operations.push(
          what === "fail"
            ? { op: what, jobId, leaseToken, error: "e", retry: random() < 0.8 }
            : what === "heartbeat"
            ? { op: what, jobId, leaseToken, leaseMs: 500 }
            : { op: what, jobId, leaseToken },
        );
      } else if (roll < 0.9) {
        operations.push({ op: "cancel", jobId: (1 + Math.floor(random() * 60)).toString(36) });
      } else if (roll < 0.95) {
        operations.push({ op: "expire" });
      } else {
        const finished = allJobs(h.state).filter((j) => j.finishedAt !== undefined);
        operations.push({ op: "archived", ids: finished.slice(0, 5).map((j) => j.id) });
      }
    }
    // Apply one operation at a time to compute the expected claims, then the whole batch.
    const expected: string[][] = [];
    let stepState = h.state;
    const tokens = h.tokens;
    for (const operation of operations) {
      if (operation.op === "claim") {
        expected.push(
          expectedClaim(allJobs(stepState), h.now, operation.types, operation.max ?? 1),
        );
      }
      stepState = applyBatch(stepState, [operation], h.context()).state;
    }
    const stepBytes = encodeState(stepState);
    h.tokens = tokens;
    const result = h.batch(operations);
    assert.deepEqual(encodeState(h.state), stepBytes, "a batch = its operations one by one");
    const got = operations.flatMap((operation, i) => {
      if (operation.op !== "claim") return [];
      return [value<{ jobs: ClaimedJob[] }>(result.replies[i]).jobs.map((j) => j.id)];
    });
    assert.deepEqual(got, expected, `round ${round}`);
    for (const [i, reply] of result.replies.entries()) {
      if (reply.ok && operations[i].op === "claim") {
        leases.push(...(reply.value as { jobs: ClaimedJob[] }).jobs);
      }
    }
    leases = leases.filter((l) =>
      findJob(h.state, l.id)?.lease?.token === l.leaseToken || random() < 0.2
    );
    const jobs = allJobs(h.state);
    const { totals: _t, epoch: _e, commit: _c, ...stats } = h.stats();
    assert.deepEqual(stats, expectedStats(jobs, h.now), `round ${round}`);
    // Every so often, a decoded copy must behave exactly the same.
    if (round % 25 === 0) {
      const decoded = decodeState(encodeState(h.state));
      const context = h.context();
      const probe: BrokerOperation[] = [{ op: "stats" }, { op: "claim", workerId: "p", max: 50 }];
      const tokens = h.tokens;
      const a = applyBatch(h.state, probe, context);
      h.tokens = tokens;
      const b = applyBatch(decoded, probe, h.context());
      assert.deepEqual(b.replies, a.replies, `decoded copy, round ${round}`);
    }
  }
  assert.ok(h.stats().totals.completed > 10, "the run exercised completions");
  assert.ok(h.stats().totals.dead > 0, "the run exercised dead-lettering");
});

Deno.test("index entries that do not match their job are dropped, never looped on", () => {
  const h = new Harness();
  const [a] = h.push(job("a"));
  h.claim({ leaseMs: 10 });
  const [b] = h.push(job("b"));
  const data = stateData(h.state);
  const bogus = [{ a: -5, b: 0, seq: 999 }, { a: -5, b: 0, seq: parseInt(a, 36) }];
  h.state = data.with({
    ready: SortedList.from([...data.ready, ...bogus]),
    readyByType: new Map([["b", SortedList.from([...data.readyByType.get("b")!, ...bogus])]]),
    active: SortedList.from([...data.active, { a: 0, b: 0, seq: 999 }]),
  });
  const typed = applyBatch(h.state, [{ op: "claim", workerId: "w", types: ["b"] }], h.context());
  assert.deepEqual(value<{ jobs: ClaimedJob[] }>(typed.replies[0]).jobs.map((j) => j.id), [b]);
  assert.deepEqual(h.claimIds({ max: 5 }), [b]);
  h.now += 10;
  assert.deepEqual(h.ok({ op: "expire" }), { expired: 1 });
  assert.equal(h.get(a).state, "ready");
});

Deno.test("limits: maxPendingJobs refuses a push whole with overloaded, counting only new jobs", () => {
  const h = new Harness();
  const limited = (): ApplyContext => ({ ...h.context(), limits: { maxPendingJobs: 3 } });
  const run = (operations: BrokerOperation[]) => {
    const result = applyBatch(h.state, operations, limited());
    h.state = result.state;
    return result;
  };
  run([{ op: "push", jobs: [job("t", { idempotencyKey: "k" }), job()] }]);
  const before = encodeState(h.state);
  // Two new jobs would make 4: refused, nothing applied (not even the first one).
  const refused = run([{ op: "push", jobs: [job(), job()] }]);
  const error = failure(refused.replies[0]);
  assert.equal(error.code, "overloaded");
  assert.ok(error.retryable);
  assert.match(error.message, /2 jobs pending, the limit is 3 \(maxPendingJobs\)/);
  assert.deepEqual(error.data, { limit: "maxPendingJobs", max: 3, current: 2, adding: 2 });
  assert.equal(refused.changed, false);
  assert.deepEqual(encodeState(h.state), before);
  // A duplicate of a held key adds nothing, so it goes through; one new job fits.
  const ok = run([{ op: "push", jobs: [job("t", { idempotencyKey: "k" }), job()] }]);
  assert.deepEqual(
    value<{ jobs: { duplicate: boolean }[] }>(ok.replies[0]).jobs.map((j) => j.duplicate),
    [
      true,
      false,
    ],
  );
  // Full: active jobs count too; finishing one makes room again.
  assert.equal(failure(run([{ op: "push", jobs: [job()] }]).replies[0]).code, "overloaded");
  const [claimed] = h.claim();
  assert.equal(failure(run([{ op: "push", jobs: [job()] }]).replies[0]).code, "overloaded");
  h.ok({ op: "complete", jobId: claimed.id, leaseToken: claimed.leaseToken });
  const again = run([{ op: "push", jobs: [job()] }, { op: "push", jobs: [job()] }]);
  assert.equal(again.replies[0].ok, true);
  assert.equal(failure(again.replies[1]).code, "overloaded", "the batch's own pushes count");
  const stats = value<QueueStats>(run([{ op: "stats" }]).replies[0]);
  assert.deepEqual(stats.limits, { maxPendingJobs: 3, pendingJobs: 3 });
  assert.equal(h.stats().limits, undefined, "no limits, no limits field");
});

Deno.test("limits: maxStateBytes counts the state size given plus the payloads and results added", () => {
  const h = new Harness();
  const payload = "x".repeat(98); // 100 bytes as JSON
  const context = (stateBytes: number): ApplyContext => ({
    ...h.context(),
    limits: { maxStateBytes: 1000 },
    stateBytes,
  });
  const run = (operations: BrokerOperation[], stateBytes: number) => {
    const result = applyBatch(h.state, operations, context(stateBytes));
    h.state = result.state;
    return result;
  };
  const first = run([
    { op: "push", jobs: [job("t", { payload }), job("t", { payload })] },
    { op: "push", jobs: [job("t", { payload })] },
    { op: "push", jobs: [job("t", { payload }), job("t", { payload })] },
  ], 600);
  assert.equal(first.replies[0].ok, true); // 600 + 200
  assert.equal(first.replies[1].ok, true); // 800 + 100
  const error = failure(first.replies[2]); // 900 + 200 > 1000
  assert.equal(error.code, "overloaded");
  assert.match(error.message, /holds 900 bytes, the limit is 1000 \(maxStateBytes\)/);
  assert.deepEqual(error.data, { limit: "maxStateBytes", max: 1000, current: 900, adding: 200 });
  assert.equal(jobCount(h.state), 3, "the refused push added nothing");
  // Results are counted (never refused): a completion's result leaves less room.
  const [claimed] = h.claim();
  const done = run([
    { op: "complete", jobId: claimed.id, leaseToken: claimed.leaseToken, result: payload },
    { op: "push", jobs: [job("t", { payload })] },
    { op: "stats" },
  ], 950);
  assert.equal(done.replies[0].ok, true);
  assert.equal(failure(done.replies[1]).code, "overloaded");
  assert.deepEqual(value<QueueStats>(done.replies[2]).limits, {
    maxStateBytes: 1000,
    pendingJobs: 2,
    stateBytes: 1050,
  });
  // Once the broker reports a smaller state (finished jobs archived), pushes fit again.
  assert.equal(run([{ op: "push", jobs: [job("t", { payload })] }], 300).replies[0].ok, true);
});
