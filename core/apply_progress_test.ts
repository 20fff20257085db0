import assert from "node:assert/strict";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { batchEffects } from "./effects.ts";
import { createState, findJob, type QueueState } from "./state.ts";

const context = { now: 1000, defaultLeaseMs: 30_000, newToken: () => "tok", random: () => 0 };

function apply(state: QueueState, operation: BrokerOperation) {
  return applyBatch(state, [operation], context);
}

Deno.test("progress: stored on an active job by its lease holder, written as a status change", () => {
  let state = apply(createState(), { op: "push", jobs: [{ type: "t", payload: "big" }] }).state;
  state = apply(state, { op: "claim", workerId: "w" }).state;
  const result = apply(state, { op: "progress", jobId: "1", leaseToken: "tok", value: 42 });
  assert.deepEqual(result.replies[0], { ok: true, value: { ok: true } });
  assert.equal(findJob(result.state, "1")?.progress, 42);
  const effects = batchEffects(state, result.state, result.changes);
  assert.deepEqual(effects.set, [{ id: "1", progress: 42 }], "a status record, not the payload");
  const wrong = apply(result.state, { op: "progress", jobId: "1", leaseToken: "nope", value: 1 });
  assert.equal(!wrong.replies[0].ok && wrong.replies[0].error.code, "lease_lost");
  assert.equal(wrong.changed, false);
});
