import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import type { ClaimedJob, Job, PushJob } from "../protocol/operations.ts";
import { applyBatch, type ApplyContext, type BrokerOperation } from "./apply.ts";
import {
  createState,
  decodeState,
  encodeState,
  findJob,
  hasReady,
  jobCount,
  nextDueAt,
  type QueueState,
  queueStats,
  selectArchive,
  STATE_FORMAT,
  STATE_VERSION,
  withCommit,
} from "./state.ts";
import { stateData } from "./state_data.ts";

const T0 = 1_700_000_000_000;
const LEADER = { id: "broker-a", url: "http://127.0.0.1:1" };

function context(now = T0, prefix = "tok"): ApplyContext {
  let n = 0;
  return { now, defaultLeaseMs: 1000, newToken: () => `${prefix}-${++n}`, random: () => 0.5 };
}

function apply(state: QueueState, operations: BrokerOperation[], now = T0): QueueState {
  const result = applyBatch(state, operations, context(now));
  for (const reply of result.replies) {
    if (!reply.ok) throw reply.error;
  }
  return result.state;
}

function claimed(state: QueueState, operation: BrokerOperation, now = T0) {
  const result = applyBatch(state, [operation], context(now));
  const reply = result.replies[0];
  if (!reply.ok) throw reply.error;
  return { state: result.state, jobs: (reply.value as { jobs: ClaimedJob[] }).jobs };
}

const job = (type = "t", extra: Partial<PushJob> = {}): PushJob => ({
  type,
  payload: null,
  ...extra,
});

function jobs(state: QueueState): Job[] {
  return [...stateData(state).jobs];
}

/** A state with jobs in every lifecycle state, with and without defaults. */
function richState(): QueueState {
  let state = createState();
  state = apply(state, [{
    op: "push",
    jobs: [
      job("a", { payload: { n: 1, s: "é ✓ \u2028" }, idempotencyKey: "key-1" }), // → active
      job("b", { priority: 4, maxAttempts: 7 }), // → active, then completed
      job("a", {
        backoff: { type: "fixed", delayMs: 5, jitter: 0.5 },
        maxAttempts: 1,
      }), // → active, then dead
      job("c", { delayMs: 5000 }), // delayed
      job("a", { priority: -2 }), // ready
      job("b", { idempotencyKey: "key-2" }), // cancelled
      job("c", { runAt: T0 + 100, priority: 9 }), // delayed, due at T0 + 100
    ],
  }]);
  const first = claimed(state, { op: "claim", workerId: "w1", max: 3, types: ["a", "b"] });
  state = first.state;
  const [b, a, dead] = first.jobs;
  state = apply(state, [
    { op: "complete", jobId: b.id, leaseToken: b.leaseToken, result: [1, "two"] },
    { op: "fail", jobId: dead.id, leaseToken: dead.leaseToken, error: "bad" },
    { op: "cancel", jobId: "6" },
    { op: "heartbeat", jobId: a.id, leaseToken: a.leaseToken, leaseMs: 777 },
  ], T0 + 10);
  return withCommit(state, { leader: LEADER, epoch: 3 });
}

Deno.test("createState: an empty queue", () => {
  const state = createState();
  assert.equal(state.epoch, 0);
  assert.equal(state.commit, 0);
  assert.equal(state.leader, null);
  assert.equal(jobCount(state), 0);
  assert.equal(nextDueAt(state), undefined);
  assert.equal(hasReady(state, T0), false);
  assert.deepEqual(selectArchive(state, { now: T0, maxJobs: 1, maxAgeMs: 0 }), []);
  assert.equal(queueStats(state, T0).ready, 0);
});

Deno.test("withCommit: bumps the commit, sets leader and epoch, leaves the input alone", () => {
  const state = createState();
  const next = withCommit(state, { leader: LEADER, epoch: 2 });
  assert.deepEqual([next.commit, next.epoch, next.leader], [1, 2, LEADER]);
  assert.deepEqual([state.commit, state.epoch, state.leader], [0, 0, null]);
  const again = withCommit(next, { leader: { id: "b" }, epoch: 2 });
  assert.equal(again.commit, 2);
  assert.deepEqual(again.leader, { id: "b" });
  assert.equal(queueStats(again, T0).commit, 2);
  assert.equal(queueStats(again, T0).epoch, 2);
});

Deno.test("applyBatch does not touch epoch, commit or leader", () => {
  const state = withCommit(createState(), { leader: LEADER, epoch: 5 });
  const next = apply(state, [{ op: "push", jobs: [job()] }]);
  assert.deepEqual([next.epoch, next.commit, next.leader], [5, 1, LEADER]);
});

Deno.test("encode → decode round-trips every job, counter and the leader", () => {
  const state = richState();
  const decoded = decodeState(encodeState(state));
  assert.deepEqual(
    [decoded.epoch, decoded.commit, decoded.leader, decoded.nextSeq],
    [3, 1, LEADER, 8],
  );
  assert.deepEqual(decoded.totals, state.totals);
  assert.deepEqual(jobs(decoded), jobs(state));
  assert.deepEqual(
    new Set(jobs(state).map((j) => j.state)),
    new Set(["active", "completed", "dead", "delayed", "ready", "cancelled"]),
  );
  for (const now of [T0, T0 + 100, T0 + 10_000]) {
    assert.deepEqual(queueStats(decoded, now), queueStats(state, now));
    assert.equal(nextDueAt(decoded, now), nextDueAt(state, now));
  }
  assert.deepEqual(encodeState(decoded), encodeState(state), "re-encoding gives the same bytes");
});

Deno.test("indexes are rebuilt on decode: claims give the same order", () => {
  let state = createState();
  for (let i = 0; i < 1200; i++) {
    state = apply(state, [{
      op: "push",
      jobs: [job(`type-${i % 3}`, { priority: (i * 7) % 5, delayMs: (i % 4) * 100 })],
    }], T0 + i);
  }
  const decoded = decodeState(encodeState(state));
  for (const now of [T0 + 1200, T0 + 1500]) {
    for (const types of [undefined, ["type-1"], ["type-0", "type-2"]]) {
      const operation: BrokerOperation = { op: "claim", workerId: "w", max: 400, types };
      const a = claimed(state, operation, now).jobs;
      const b = claimed(decoded, operation, now).jobs;
      assert.ok(a.length > 100);
      assert.deepEqual(b, a);
    }
  }
  const operations: BrokerOperation[] = [{ op: "claim", workerId: "w", max: 50 }];
  const leased = applyBatch(state, operations, context(T0 + 2000)).state;
  const leasedCopy = decodeState(encodeState(leased));
  for (const now of [T0 + 2000, T0 + 2500, T0 + 40_000]) {
    assert.equal(nextDueAt(leasedCopy, now), nextDueAt(leased, now));
  }
  assert.deepEqual(
    applyBatch(leasedCopy, [{ op: "expire" }], context(T0 + 3000)).replies,
    [{ ok: true, value: { expired: 50 } }],
  );
});

Deno.test("ids stay unique across encode/decode, even after the newest job is archived", () => {
  let state = apply(createState(), [{ op: "push", jobs: [job(), job(), job()] }]);
  const first = claimed(state, { op: "claim", workerId: "w", max: 3 });
  state = apply(first.state, [
    ...first.jobs.map((j): BrokerOperation => ({ op: "cancel", jobId: j.id })),
    { op: "archived", ids: first.jobs.map((j) => j.id) },
  ]);
  assert.equal(jobCount(state), 0);
  const decoded = decodeState(encodeState(state));
  const result = applyBatch(decoded, [{ op: "push", jobs: [job()] }], context());
  assert.deepEqual(result.replies[0], {
    ok: true,
    value: { jobs: [{ id: "4", duplicate: false }] },
  });
});

Deno.test("encode: only changed chunks are re-serialised, and changes always show", () => {
  let state = apply(createState(), [{
    op: "push",
    jobs: Array.from({ length: 1000 }, (_, i) => job("t", { payload: i })),
  }]);
  const before = encodeState(state);
  // Change one job in the middle, then one at the end.
  state = apply(state, [{ op: "cancel", jobId: (500).toString(36) }], T0 + 1);
  const middle = decodeState(encodeState(state));
  assert.equal(findJob(middle, (500).toString(36))?.state, "cancelled");
  assert.equal(findJob(middle, (501).toString(36))?.state, "ready");
  state = apply(state, [{ op: "cancel", jobId: (1000).toString(36) }], T0 + 2);
  const end = decodeState(encodeState(state));
  assert.equal(findJob(end, (1000).toString(36))?.state, "cancelled");
  assert.equal(findJob(end, (500).toString(36))?.state, "cancelled");
  assert.deepEqual(jobs(end), jobs(state));
  assert.notDeepEqual(encodeState(state), before);
});

Deno.test("encode: a compact, readable layout that leaves defaults out", () => {
  const state = apply(createState(), [{
    op: "push",
    jobs: [job("plain", { payload: { x: 1 } }), job("custom", { priority: 2, maxAttempts: 9 })],
  }]);
  const raw = JSON.parse(new TextDecoder().decode(encodeState(state)));
  assert.equal(raw.format, STATE_FORMAT);
  assert.equal(raw.version, STATE_VERSION);
  assert.deepEqual(raw.jobs[0], {
    id: "1",
    type: "plain",
    state: "ready",
    createdAt: T0,
    payload: { x: 1 },
  });
  assert.equal(raw.jobs[1].priority, 2);
  assert.equal(raw.jobs[1].maxAttempts, 9);
  assert.equal("backoff" in raw.jobs[1], false);
});

Deno.test("decode: corrupt or foreign bytes throw InvalidError saying what is wrong", () => {
  const valid = JSON.parse(new TextDecoder().decode(encodeState(richState())));
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(), /not UTF-8 JSON/],
    ["truncated", encodeState(richState()).slice(0, 100), /not UTF-8 JSON/],
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /not UTF-8 JSON/],
    ["array", bytes([1]), /not a JSON object/],
    ["no format", bytes({ ...valid, format: undefined }), /format/],
    ["other format", bytes({ ...valid, format: "other" }), /format "other"/],
    ["newer version", bytes({ ...valid, version: 2 }), /unsupported state version 2/],
    ["bad epoch", bytes({ ...valid, epoch: -1 }), /bad epoch/],
    ["bad commit", bytes({ ...valid, commit: "1" }), /bad commit/],
    ["bad nextSeq", bytes({ ...valid, nextSeq: 0 }), /bad nextSeq/],
    ["bad leader", bytes({ ...valid, leader: { url: "x" } }), /bad leader/],
    ["bad totals", bytes({ ...valid, totals: { pushed: 1.5 } }), /totals\.pushed/],
    ["jobs not array", bytes({ ...valid, jobs: {} }), /jobs/],
    ["job not object", bytes({ ...valid, jobs: [7] }), /jobs\[0\]: not an object/],
    ["bad state", bytes({ ...valid, jobs: [{ ...valid.jobs[0], state: "paused" }] }), /state/],
    [
      "no payload",
      bytes({ ...valid, jobs: [{ ...valid.jobs[4], payload: undefined }] }),
      /payload/,
    ],
    [
      "active without lease",
      bytes({ ...valid, jobs: [{ ...valid.jobs[0], lease: undefined }] }),
      /lease/,
    ],
    [
      "ready with lease",
      bytes({ ...valid, jobs: [{ ...valid.jobs[4], lease: valid.jobs[0].lease }] }),
      /lease/,
    ],
    [
      "finished without finishedAt",
      bytes({ ...valid, jobs: [{ ...valid.jobs[1], finishedAt: undefined }] }),
      /finishedAt/,
    ],
    ["id beyond nextSeq", bytes({ ...valid, nextSeq: 3 }), /below nextSeq/],
    ["id not ours", bytes({ ...valid, jobs: [{ ...valid.jobs[4], id: "job-1" }] }), /id/],
    ["duplicate id", bytes({ ...valid, jobs: [valid.jobs[4], valid.jobs[4]] }), /twice/],
    [
      "duplicate key",
      bytes({ ...valid, jobs: [valid.jobs[0], { ...valid.jobs[5], idempotencyKey: "key-1" }] }),
      /idempotency key "key-1"/,
    ],
    [
      "bad backoff",
      bytes({ ...valid, jobs: [{ ...valid.jobs[4], backoff: { type: "linear", delayMs: 1 } }] }),
      /backoff/,
    ],
  ];
  for (const [name, input, pattern] of cases) {
    assert.throws(() => decodeState(input), (error: unknown) => {
      assert.ok(error instanceof InvalidError, `${name}: ${error}`);
      assert.match(error.message, pattern, name);
      return true;
    }, name);
  }
});

Deno.test("decode accepts jobs out of id order", () => {
  const state = richState();
  const raw = JSON.parse(new TextDecoder().decode(encodeState(state)));
  raw.jobs.reverse();
  const decoded = decodeState(new TextEncoder().encode(JSON.stringify(raw)));
  assert.deepEqual(jobs(decoded), jobs(state));
});

Deno.test("foreign objects are not states", () => {
  const fake = {
    epoch: 0,
    commit: 0,
    leader: null,
    nextSeq: 1,
    totals: createState().totals,
    extra: {},
  };
  assert.throws(() => encodeState(fake), InvalidError);
  assert.throws(() => applyBatch(fake, [], context()), InvalidError);
});

Deno.test("nextDueAt: the earliest delayed runAt or lease expiry", () => {
  let state = apply(createState(), [{ op: "push", jobs: [job("t", { delayMs: 500 })] }]);
  assert.equal(nextDueAt(state), T0 + 500);
  state = apply(state, [{ op: "push", jobs: [job("t", { delayMs: 200 }), job("t")] }]);
  assert.equal(nextDueAt(state), T0 + 200);
  state = claimed(state, { op: "claim", workerId: "w", leaseMs: 100 }).state;
  assert.equal(nextDueAt(state), T0 + 100, "lease expiry");
  // With `now`, delayed jobs already due are skipped; lease expiries are not.
  assert.equal(nextDueAt(state, T0 + 300), T0 + 100);
  state = apply(state, [{ op: "expire" }], T0 + 300);
  assert.equal(nextDueAt(state), T0 + 200);
  assert.equal(nextDueAt(state, T0 + 300), T0 + 500);
  assert.equal(nextDueAt(state, T0 + 500), undefined);
  // A claim promotes due jobs out of the delayed index.
  state = claimed(state, { op: "claim", workerId: "w", types: ["none"] }, T0 + 300).state;
  assert.equal(nextDueAt(state), T0 + 500);
});

Deno.test("a read-only batch returns its promotions in a new state and leaves the input alone", () => {
  // A broker with a parked claim for type "b" keeps the state of a batch
  // that changed nothing; the due "a" job must not keep nextDueAt in the past.
  const state = apply(createState(), [{
    op: "push",
    jobs: [job("a", { delayMs: 100 }), job("a", { delayMs: 900 })],
  }]);
  const bytes = encodeState(state);
  assert.equal(nextDueAt(state), T0 + 100);
  const result = applyBatch(
    state,
    [{ op: "claim", workerId: "w", types: ["b"] }],
    context(T0 + 100),
  );
  assert.equal(result.changed, false);
  assert.equal(nextDueAt(state), T0 + 100, "the input is untouched");
  assert.equal(nextDueAt(result.state), T0 + 900, "the result has the due job promoted");
  assert.deepEqual(encodeState(result.state), bytes, "the stored content is the same");
  assert.deepEqual(encodeState(state), bytes);
  assert.equal(queueStats(result.state, T0 + 100).ready, 1);
  assert.equal(hasReady(result.state, T0 + 100, ["a"]), true);
});

Deno.test("hasReady: ready jobs, due delayed jobs, by type", () => {
  const state = apply(createState(), [{
    op: "push",
    jobs: [job("a", { delayMs: 100 }), job("b", { delayMs: 300 }), job("c")],
  }]);
  assert.equal(hasReady(state, T0), true);
  assert.equal(hasReady(state, T0, []), true);
  assert.equal(hasReady(state, T0, ["c"]), true);
  assert.equal(hasReady(state, T0, ["a", "b"]), false);
  assert.equal(hasReady(state, T0 + 100, ["a", "b"]), true);
  assert.equal(hasReady(state, T0 + 100, ["b"]), false);
  assert.equal(hasReady(state, T0 + 300, ["b", "zzz"]), true);
  const drained = claimed(state, { op: "claim", workerId: "w", types: ["c"] }).state;
  assert.equal(hasReady(drained, T0), false);
  assert.equal(hasReady(drained, T0 + 100), true);
  const promoted = claimed(drained, { op: "claim", workerId: "w", types: ["b"] }, T0 + 100).state;
  assert.equal(hasReady(promoted, T0 + 100, ["a"]), true, "promoted jobs stay visible per type");
  assert.equal(hasReady(promoted, T0 + 100, ["b"]), false);
});

Deno.test("a clock that goes back does not hand out jobs early", () => {
  let state = apply(createState(), [{ op: "push", jobs: [job("a", { delayMs: 100 })] }]);
  state = claimed(state, { op: "claim", workerId: "w", types: ["x"] }, T0 + 100).state; // promotes
  const early = claimed(state, { op: "claim", workerId: "w" }, T0 + 50);
  assert.deepEqual(early.jobs, []);
  assert.equal(nextDueAt(early.state), T0 + 100, "the job waits on the clock again");
  assert.equal(claimed(early.state, { op: "claim", workerId: "w" }, T0 + 100).jobs.length, 1);
});

Deno.test("selectArchive: by count or by age, oldest finished first, at most maxJobs", () => {
  let state = apply(createState(), [{ op: "push", jobs: [job(), job(), job(), job(), job()] }]);
  const first = claimed(state, { op: "claim", workerId: "w", max: 5 });
  state = first.state;
  // Finish jobs 3, 1, 2 at T0+10, T0+20, T0+30; 4 stays active; 5 cancelled at T0+40.
  for (const [i, at] of [[2, 10], [0, 20], [1, 30]] as const) {
    const j = first.jobs[i];
    state = apply(state, [{ op: "complete", jobId: j.id, leaseToken: j.leaseToken }], T0 + at);
  }
  state = apply(state, [{ op: "cancel", jobId: "5" }], T0 + 40);
  const ids = (options: { now: number; maxJobs: number; maxAgeMs: number }) =>
    selectArchive(state, options).map((j) => j.id);
  assert.deepEqual(ids({ now: T0 + 40, maxJobs: 10, maxAgeMs: 1000 }), [], "few and young");
  assert.deepEqual(ids({ now: T0 + 40, maxJobs: 4, maxAgeMs: 1000 }), ["3", "1", "2", "5"]);
  assert.deepEqual(ids({ now: T0 + 40, maxJobs: 3, maxAgeMs: 1000 }), ["3", "1", "2"]);
  assert.deepEqual(ids({ now: T0 + 1010, maxJobs: 10, maxAgeMs: 1000 }), ["3", "1", "2", "5"]);
  assert.deepEqual(ids({ now: T0 + 1009, maxJobs: 10, maxAgeMs: 1000 }), []);
  assert.deepEqual(ids({ now: T0 + 5000, maxJobs: 2, maxAgeMs: 1000 }), ["3", "1"]);
  const selected = selectArchive(state, { now: T0 + 5000, maxJobs: 10, maxAgeMs: 0 });
  assert.deepEqual(selected.map((j) => j.state), [
    "completed",
    "completed",
    "completed",
    "cancelled",
  ]);
  selected[0].state = "ready"; // a copy: the state is unaffected
  assert.equal(findJob(state, "3")?.state, "completed");
});
