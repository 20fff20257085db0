import assert from "node:assert/strict";
import { MemoryStore } from "../storage/memory_store.ts";
import { ManualClock } from "../testing/manual_clock.ts";
import { ServerlessBroker } from "./serverless.ts";

Deno.test("serverless: two instances run a schedule, one job per due time (runs ride on requests)", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const a = new ServerlessBroker({ store, clock, identity: { id: "a" }, pollIntervalMs: 50 });
  const b = new ServerlessBroker({ store, clock, identity: { id: "b" }, pollIntervalMs: 50 });
  await clock.settle(a.start());
  await clock.settle(b.start());
  try {
    const { schedule } = await clock.settle(a.request({
      op: "schedule",
      name: "beat",
      everyMs: 1000,
      job: { type: "beat", payload: null },
      missed: "catchUp",
    }));
    const first = schedule.nextRunAt!;
    const until = clock.now() + 3500;
    while (clock.now() < until) {
      // Requests on both instances: each tick may run the due schedule, on possibly stale state.
      await clock.settle(Promise.all([a.request({ op: "stats" }), b.request({ op: "stats" })]));
      await clock.run(30);
    }
    const removed = await clock.settle(b.request({ op: "unschedule", name: "beat" }));
    assert.equal(removed.removed, true);
    const stats = await clock.settle(b.request({ op: "stats" }));
    const jobs = stats.byType.beat ?? 0;
    assert.ok(jobs >= 3, `got ${jobs}`);
    assert.equal(jobs, (removed.schedule!.lastRunAt! - first) / 1000 + 1, "no duplicate, no gap");
  } finally {
    await clock.settle(a.stop());
    await clock.settle(b.stop());
  }
});
