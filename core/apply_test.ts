import assert from "node:assert/strict";
import { ValidationError } from "../errors.ts";
import type { ClaimedJob, Job } from "../protocol/operations.ts";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { SortedList } from "./sorted_list.ts";
import { decodeState, encodeState, findJob, jobCount, type QueueState } from "./state.ts";
import { stateData } from "./state_data.ts";
import { failure, Harness, job, value } from "./_test_harness.ts";

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
