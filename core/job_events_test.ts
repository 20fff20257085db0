import assert from "node:assert/strict";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { jobEvents } from "./job_events.ts";
import { createState, type QueueState } from "./state.ts";

function step(state: QueueState, ops: BrokerOperation[], now: number) {
  const result = applyBatch(state, ops, {
    now,
    defaultLeaseMs: 100,
    newToken: () => `t${now}`,
    random: () => 0,
  });
  return { state: result.state, events: jobEvents(state, result.state, result.changes) };
}

Deno.test("jobEvents: an expired lease is a failed attempt, the last one dead; pushes and claims say nothing", () => {
  let { state, events } = step(createState(), [
    { op: "push", jobs: [{ type: "t", payload: 1, maxAttempts: 2 }] },
  ], 1);
  assert.deepEqual(events, [], "a push is not an event");
  ({ state, events } = step(state, [{ op: "claim", workerId: "w" }], 2));
  assert.deepEqual(events, [], "a claim is not an event");
  ({ state, events } = step(state, [{ op: "expire" }], 500));
  assert.equal(events.length, 1);
  assert.equal(events[0].event, "failed");
  assert.match(events[0].error!, /lease expired/);
  ({ state, events } = step(state, [{ op: "claim", workerId: "w" }], 600));
  ({ state, events } = step(state, [{ op: "expire" }], 1000));
  assert.deepEqual(events.map((e) => [e.event, e.attempt]), [["dead", 2]]);
});
