import assert from "node:assert/strict";
import { MemoryStore } from "../storage/memory_store.ts";
import { ServerlessBroker } from "./serverless.ts";

Deno.test("serverless: two instances run a schedule, one job per due time (runs ride on requests)", async () => {
  const store = new MemoryStore();
  const a = new ServerlessBroker({ store, identity: { id: "a" }, pollIntervalMs: 50 });
  const b = new ServerlessBroker({ store, identity: { id: "b" }, pollIntervalMs: 50 });
  await a.start();
  await b.start();
  try {
    const { schedule } = await a.request({
      op: "schedule",
      name: "beat",
      everyMs: 1000,
      job: { type: "beat", payload: null },
      missed: "catchUp",
    });
    const first = schedule.nextRunAt!;
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      // Requests on both instances: each tick may run the due schedule, on possibly stale state.
      await Promise.all([a.request({ op: "stats" }), b.request({ op: "stats" })]);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const removed = await b.request({ op: "unschedule", name: "beat" });
    assert.equal(removed.removed, true);
    const stats = await b.request({ op: "stats" });
    const jobs = stats.byType.beat ?? 0;
    assert.ok(jobs >= 3, `got ${jobs}`);
    assert.equal(jobs, (removed.schedule!.lastRunAt! - first) / 1000 + 1, "no duplicate, no gap");
  } finally {
    await a.stop();
    await b.stop();
  }
});
