import assert from "node:assert/strict";
import { LeaseLostError, type OsqueueError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import type { HeartbeatLoopOptions } from "./heartbeat_loop.ts";
import { type HandlerOutcome, RunningJobs } from "./running_jobs.ts";
import type { WorkerClient } from "./worker_options.ts";

function job(id: string): ClaimedJob {
  return {
    id,
    type: "t",
    payload: { id },
    priority: 0,
    attempt: 1,
    maxAttempts: 3,
    createdAt: 0,
    leaseToken: `lease-${id}`,
    leaseExpiresAt: Date.now() + 30_000,
  };
}

/** A client whose heartbeats are counted: `beating` holds the lease tokens heartbeated now. */
function setup() {
  const beating = new Set<string>();
  const loops = new Map<string, HeartbeatLoopOptions>();
  const fail = () => Promise.reject(new Error("not used"));
  const client: WorkerClient = {
    subscribe: fail,
    unsubscribe: fail,
    credit: fail,
    heartbeat: fail,
    complete: fail,
    fail,
    release: fail,
    startHeartbeat(_jobId, token, options) {
      beating.add(token);
      loops.set(token, options);
      return () => beating.delete(token);
    },
  };
  const events: string[] = [];
  const finished: [string, HandlerOutcome][] = [];
  const lost: [string, OsqueueError][] = [];
  const jobs = new RunningJobs({
    client,
    log: () => {},
    clock: Date.now,
    timers: { setTimeout, clearTimeout },
    leaseMs: 5_000,
    onStart: (started) => events.push(`start ${started.id} (tracked: ${jobs.size})`),
    onLost: (token, error) => lost.push([token, error]),
    onFinished: (token, outcome) => finished.push([token, outcome]),
  });
  return { jobs, beating, loops, events, finished, lost };
}

Deno.test("running jobs: a started handler gets its context, is heartbeated, and reports its outcome", async () => {
  const { jobs, beating, loops, events, finished } = setup();
  const seen: unknown[] = [];
  jobs.start(job("a"), (context) => {
    seen.push(context.payload, context.signal.aborted);
    events.push("handler a");
    return { done: 1 };
  }, { parsed: true });
  jobs.start(job("b"), () => {
    throw new Error("boom");
  }, null);
  assert.deepEqual(events.slice(0, 2), ["start a (tracked: 1)", "handler a"]);
  assert.equal(jobs.size, 2);
  assert.deepEqual([...beating], ["lease-a", "lease-b"]);
  assert.equal(loops.get("lease-a")?.leaseMs, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(seen, [{ parsed: true }, false]);
  const outcomes = new Map(finished);
  assert.equal(outcomes.size, 2);
  assert.deepEqual(outcomes.get("lease-a"), { ok: true, value: { done: 1 } });
  const thrown = outcomes.get("lease-b");
  assert.ok(thrown !== undefined && !thrown.ok);
  assert.equal((thrown.error as Error).message, "boom");
  // The worker then finishes each: heartbeat stopped, forgotten.
  assert.equal(jobs.finish("lease-a")?.job.id, "a");
  assert.deepEqual([...beating], ["lease-b"]);
  assert.equal(jobs.finish("lease-a"), undefined, "once");
  assert.equal(jobs.finish("lease-b")?.lost, false);
  assert.equal(jobs.size, 0);
  assert.equal(beating.size, 0);
});

Deno.test("running jobs: a lost lease is marked once and its heartbeat stopped; the handler stays tracked", () => {
  const { jobs, beating, loops, lost } = setup();
  jobs.start(job("a"), () => new Promise(() => {}), null);
  const error = new LeaseLostError("gone");
  loops.get("lease-a")?.onLost(error);
  assert.deepEqual(lost, [["lease-a", error]], "reported to the worker with its token");
  const active = jobs.lose("lease-a");
  assert.equal(active?.lost, true);
  assert.equal(beating.size, 0);
  assert.equal(jobs.lose("lease-a"), undefined, "marked already");
  assert.equal(jobs.lose("lease-unknown"), undefined);
  assert.equal(jobs.size, 1, "still running until its handler returns");
  assert.equal(jobs.finish("lease-a")?.lost, true);
});

Deno.test("running jobs: at the deadline every handler is forgotten; those still holding a lease are returned", () => {
  const { jobs, beating } = setup();
  for (const id of ["a", "b", "c"]) jobs.start(job(id), () => new Promise(() => {}), null);
  jobs.lose("lease-b");
  const held = jobs.abandon();
  assert.deepEqual(held.map((active) => active.job.id), ["a", "c"]);
  assert.ok(held.every((active) => !active.controller.signal.aborted), "the caller aborts them");
  assert.equal(jobs.size, 0);
  assert.equal(beating.size, 0);
  assert.equal(jobs.finish("lease-a"), undefined, "a late outcome is ignored");
});
