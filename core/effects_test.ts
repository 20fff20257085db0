import assert from "node:assert/strict";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { batchEffects, isEmptyEffects, replayEffects } from "./effects.ts";
import { createState, listJobs, type QueueState } from "./state.ts";

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

/** A random batch of operations against `state`, using the leases it holds. */
function randomBatch(state: QueueState, random: () => number, leases: Map<string, string>) {
  const ops: BrokerOperation[] = [];
  const pick = <T>(items: T[]): T | undefined => items[Math.floor(random() * items.length)];
  for (let i = 0; i < 1 + Math.floor(random() * 6); i++) {
    const r = random();
    const leased = pick([...leases]);
    if (r < 0.3) {
      ops.push({
        op: "push",
        jobs: [{
          type: pick(["a", "b"])!,
          payload: { n: Math.floor(random() * 100) },
          ...(random() < 0.3 ? { delayMs: 5 } : {}),
          ...(random() < 0.2 ? { idempotencyKey: `k${Math.floor(random() * 5)}` } : {}),
        }],
      });
    } else if (r < 0.5) ops.push({ op: "claim", workerId: "w", max: 2 });
    else if (r < 0.6 && leased) {
      ops.push({ op: "complete", jobId: leased[0], leaseToken: leased[1], result: null });
    } else if (r < 0.7 && leased) {
      ops.push({ op: "fail", jobId: leased[0], leaseToken: leased[1], error: "boom" });
    } else if (r < 0.75 && leased) {
      ops.push({ op: "release", jobId: leased[0], leaseToken: leased[1] });
    } else if (r < 0.8 && leased) {
      ops.push({ op: "heartbeat", jobId: leased[0], leaseToken: leased[1], leaseMs: 50 });
    } else if (r < 0.85) {
      const job = pick(listJobs(state));
      if (job) ops.push({ op: "cancel", jobId: job.id });
    } else if (r < 0.9) ops.push({ op: "expire" });
    else {
      const finished = listJobs(state).filter((job) => job.finishedAt !== undefined);
      if (finished.length > 0) ops.push({ op: "archived", ids: finished.map((job) => job.id) });
    }
  }
  return ops;
}

Deno.test("effects: replaying a batch's effects gives exactly the batch's state (randomised)", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = seeded(seed);
    let state = createState();
    let replayed = createState();
    let now = 1000;
    let tokens = 0;
    const leases = new Map<string, string>();
    for (let round = 0; round < 300; round++) {
      now += Math.floor(random() * 20);
      const ops = randomBatch(state, random, leases);
      const result = applyBatch(state, ops, {
        now,
        defaultLeaseMs: 30,
        newToken: () => `t${tokens++}`,
        random,
      });
      const effects = batchEffects(state, result.state, result.changes);
      assert.equal(isEmptyEffects(effects), !result.changed, `seed ${seed} round ${round}`);
      const json = JSON.parse(JSON.stringify(effects)); // as stored
      replayed = replayEffects(replayed, json, {
        epoch: 1,
        commit: round + 1,
        leader: null,
        where: `round ${round}`,
      });
      state = result.state;
      assert.deepEqual(listJobs(replayed), listJobs(state), `seed ${seed} round ${round}`);
      assert.deepEqual(replayed.totals, state.totals);
      assert.equal(replayed.nextSeq, state.nextSeq);
      leases.clear();
      for (const job of listJobs(state)) if (job.lease) leases.set(job.id, job.lease.token);
    }
  }
});

Deno.test("effects: a status change carries only what changed, never the payload", () => {
  let state = createState();
  const context = { now: 1, defaultLeaseMs: 1000, newToken: () => "tok", random: () => 0 };
  state =
    applyBatch(state, [{ op: "push", jobs: [{ type: "t", payload: "p".repeat(1000) }] }], context)
      .state;
  const claimed = applyBatch(state, [{ op: "claim", workerId: "w" }], { ...context, now: 2 });
  const effects = batchEffects(state, claimed.state, claimed.changes);
  assert.equal(effects.add.length, 0);
  assert.deepEqual(effects.set, [{
    id: "1",
    state: "active",
    attempts: 1,
    updatedAt: 2,
    lease: { workerId: "w", token: "tok", expiresAt: 1002 },
  }]);
  const completed = applyBatch(claimed.state, [
    { op: "complete", jobId: "1", leaseToken: "tok", result: null },
  ], { ...context, now: 3 });
  const done = batchEffects(claimed.state, completed.state, completed.changes);
  assert.deepEqual(done.set, [{
    id: "1",
    state: "completed",
    updatedAt: 3,
    finishedAt: 3,
    result: null,
    unset: ["lease"],
  }]);
});

Deno.test("effects: `extra` values travel whole when one changed, and replay", async () => {
  const { StateDraft } = await import("./state_draft.ts");
  const { stateData } = await import("./state_data.ts");
  const before = createState();
  const draft = new StateDraft(stateData(before));
  draft.setExtra("paused", ["email"]);
  draft.setExtra("limits", { email: { perSecond: 5 } });
  const after = draft.snapshot();
  const effects = batchEffects(before, after, draft.changes);
  assert.deepEqual(effects.extra, { paused: ["email"], limits: { email: { perSecond: 5 } } });
  const replayed = replayEffects(before, JSON.parse(JSON.stringify(effects)), {
    epoch: 1,
    commit: 1,
    leader: null,
    where: "test",
  });
  assert.deepEqual(replayed.extra, after.extra);
  const unchanged = applyBatch(after, [{ op: "stats" }], {
    now: 1,
    defaultLeaseMs: 1,
    newToken: () => "t",
    random: () => 0,
  });
  assert.equal(batchEffects(after, unchanged.state, unchanged.changes).extra, undefined);
  const removal = new StateDraft(stateData(after));
  removal.setExtra("paused", undefined);
  const cleared = removal.snapshot();
  assert.deepEqual(batchEffects(after, cleared, removal.changes).extra, {
    limits: { email: { perSecond: 5 } },
  });
});
