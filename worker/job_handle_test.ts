import assert from "node:assert/strict";
import { JobFailedError, TimeoutError } from "../errors.ts";
import type { JobView } from "../protocol/operations.ts";
import { JobHandle, type JobHandleSource } from "./job_handle.ts";

/** A source whose job moves through `states` one read at a time, on a fake clock. */
function source(views: Partial<JobView>[]): JobHandleSource & { reads: number; waits: number[] } {
  let now = 0;
  const out = {
    reads: 0,
    waits: [] as number[],
    get(jobId: string) {
      const view = views[Math.min(out.reads++, views.length - 1)];
      return Promise.resolve({ job: { id: jobId, ...view } as JobView });
    },
    timers: {
      setTimeout(fn: () => void, ms: number) {
        out.waits.push(ms);
        now += ms;
        queueMicrotask(fn);
        return 0;
      },
      clearTimeout() {},
    },
    now: () => now,
  };
  return out;
}

Deno.test("JobHandle.result: polls with a growing interval until completed, then gives the result", async () => {
  const s = source([{ state: "ready" }, { state: "active" }, { state: "active" }, {
    state: "completed",
    result: { ok: 1 },
  }]);
  const handle = new JobHandle("7", false, s);
  assert.deepEqual(await handle.result({ minPollMs: 10, maxPollMs: 25 }), { ok: 1 });
  assert.equal(s.reads, 4);
  assert.deepEqual(s.waits, [10, 20, 25]);
});

Deno.test("JobHandle.result: dead or cancelled rejects with JobFailedError carrying the last error", async () => {
  const dead = new JobHandle("1", false, source([{ state: "dead", lastError: "boom" }]));
  await assert.rejects(dead.result(), (error: unknown) => {
    assert.ok(error instanceof JobFailedError);
    assert.equal(error.code, "job_failed");
    assert.deepEqual(error.data, { jobId: "1", state: "dead", lastError: "boom" });
    return true;
  });
  const cancelled = new JobHandle("2", false, source([{ state: "cancelled" }]));
  await assert.rejects(cancelled.result(), JobFailedError);
});

Deno.test("JobHandle.result: gives up after timeoutMs with a TimeoutError; an abort stops it", async () => {
  const s = source([{ state: "active" }]);
  await assert.rejects(
    new JobHandle("3", false, s).result({ timeoutMs: 100, minPollMs: 30, maxPollMs: 30 }),
    TimeoutError,
  );
  assert.deepEqual(s.waits, [30, 30, 30, 10], "the last wait ends at the deadline");
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(
    new JobHandle("4", false, source([{ state: "active" }])).result({
      signal: controller.signal,
    }),
    /stop/,
  );
});
