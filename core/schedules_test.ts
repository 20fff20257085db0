import { TestQueue } from "./_test_queue.ts";
import assert from "node:assert/strict";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { nextRunAfter, nextScheduleAt, SKIP_GRACE_MS } from "./schedules.ts";
import { listJobs } from "./state.ts";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0); // Monday 2026-11-30 12:00:00Z
const MINUTE = 60_000;

class Queue extends TestQueue {
  constructor() {
    super({ now: T0 });
  }

  /** What the broker does each tick: run the schedules when one is due. */
  tick(limits?: { maxPendingJobs: number }): string[] {
    const at = nextScheduleAt((key) => this.state.extra[key]);
    if (at === undefined || at > this.now) return [];
    const reply = this.run({ op: "run-schedules" }, limits);
    assert.ok(reply.ok);
    return (reply.value as { pushed: string[] }).pushed;
  }

  payloads(): unknown[] {
    return listJobs(this.state).map((job) => job.payload);
  }
}

Deno.test("cron: next runs in UTC and in a time zone (croner)", () => {
  assert.equal(nextRunAfter({ cron: "*/15 * * * *" }, T0), T0 + 15 * MINUTE);
  // 09:00 in Paris on weekdays = 08:00Z in winter; the next one after Monday noon is Tuesday.
  assert.equal(
    nextRunAfter({ cron: "0 9 * * 1-5", timezone: "Europe/Paris" }, T0),
    Date.UTC(2026, 11, 1, 8, 0, 0),
  );
  assert.equal(nextRunAfter({ everyMs: 5000 }, T0), T0 + 5000);
});

Deno.test("schedule: one job per due time, the next run advanced in the same batch", () => {
  const q = new Queue();
  const { schedule } = q.ok({
    op: "schedule",
    name: "report",
    cron: "*/5 * * * *",
    job: { type: "report", payload: "r" },
  });
  assert.equal(schedule.nextRunAt, T0 + 5 * MINUTE);
  assert.equal(q.changed, true);
  q.now = T0 + 5 * MINUTE - 1;
  assert.deepEqual(q.tick(), []);
  q.now = T0 + 5 * MINUTE + 200;
  assert.equal(q.tick().length, 1);
  assert.equal(q.tick().length, 0, "the same due time never runs twice");
  const [listed] = q.ok({ op: "schedules" }).schedules;
  assert.equal(listed.nextRunAt, T0 + 10 * MINUTE);
  assert.equal(listed.lastRunAt, T0 + 5 * MINUTE);
  // A copy of the state taken after that commit (a failover) does not run it again either.
  const copy = applyBatch(q.state, [{ op: "run-schedules" }], {
    now: q.now,
    defaultLeaseMs: 1,
    newToken: () => "t",
    random: () => 0,
  });
  assert.deepEqual(copy.replies[0], { ok: true, value: { pushed: [] } });
  assert.deepEqual(q.payloads(), ["r"]);
});

Deno.test("missed runs: skip drops old ones, runOnce pushes one, catchUp one per run (capped)", () => {
  const q = new Queue();
  for (const missed of ["skip", "runOnce", "catchUp"] as const) {
    q.ok({
      op: "schedule",
      name: missed,
      everyMs: missed === "skip" ? 5 * MINUTE : MINUTE,
      job: { type: missed, payload: missed },
      missed,
      ...(missed === "catchUp" ? { maxCatchUp: 3 } : {}),
    });
  }
  // No broker for 10 minutes and a half: runs at T0+1m … T0+10m were missed.
  q.now = T0 + 10 * MINUTE + 30_000;
  q.tick();
  const byType = (type: string) => listJobs(q.state).filter((job) => job.type === type).length;
  assert.equal(byType("skip"), 1, "the 10m run is 30 s old: within the grace");
  assert.equal(byType("runOnce"), 1);
  assert.equal(byType("catchUp"), 3, "the latest 3 of the 10");
  for (const schedule of q.ok({ op: "schedules" }).schedules) {
    const next = schedule.name === "skip" ? T0 + 15 * MINUTE : T0 + 11 * MINUTE;
    assert.equal(schedule.nextRunAt, next, schedule.name);
  }
  // The 15m run seen only past the grace: skip pushes nothing for it.
  q.now = T0 + 15 * MINUTE + SKIP_GRACE_MS + 1;
  q.tick();
  assert.equal(byType("skip"), 1);
  assert.equal(byType("runOnce"), 2);
  assert.equal(
    q.ok({ op: "schedules" }).schedules.find((s) => s.name === "skip")?.nextRunAt,
    T0 + 20 * MINUTE,
  );
});

Deno.test("schedule: cron missed runs with catchUp walk the cron times", () => {
  const q = new Queue();
  q.ok({
    op: "schedule",
    name: "hourly",
    cron: "0 * * * *",
    job: { type: "h", payload: null },
    missed: "catchUp",
  });
  q.now = T0 + 3.5 * 60 * MINUTE; // 15:30: runs at 13:00, 14:00, 15:00
  assert.equal(q.tick().length, 3);
  assert.equal(q.ok({ op: "schedules" }).schedules[0].nextRunAt, T0 + 4 * 60 * MINUTE);
});

Deno.test("schedule: a refused push loses those runs, says why, and the schedule goes on", () => {
  const q = new Queue();
  q.ok({ op: "push", jobs: [{ type: "x", payload: null }] });
  q.ok({ op: "schedule", name: "s", everyMs: MINUTE, job: { type: "s", payload: null } });
  q.now = T0 + MINUTE;
  assert.deepEqual(q.tick({ maxPendingJobs: 1 }), []);
  const [schedule] = q.ok({ op: "schedules" }).schedules;
  assert.match(schedule.lastError ?? "", /queue full/);
  assert.equal(schedule.nextRunAt, T0 + 2 * MINUTE);
  q.now = T0 + 2 * MINUTE;
  assert.equal(q.tick().length, 1);
  assert.equal(q.ok({ op: "schedules" }).schedules[0].lastError, undefined);
});

Deno.test("schedule: replace, remove, and bad input refused", () => {
  const q = new Queue();
  q.ok({ op: "schedule", name: "a", everyMs: MINUTE, job: { type: "a", payload: 1 } });
  q.ok({ op: "schedule", name: "a", cron: "0 0 * * *", job: { type: "a", payload: 2 } });
  const [a] = q.ok({ op: "schedules" }).schedules;
  assert.equal(a.everyMs, undefined);
  assert.equal(a.cron, "0 0 * * *");
  assert.equal(q.ok({ op: "unschedule", name: "a" }).schedule?.cron, "0 0 * * *");
  assert.deepEqual(q.ok({ op: "unschedule", name: "a" }), { removed: false });
  assert.deepEqual(q.ok({ op: "schedules" }).schedules, []);
  assert.equal(nextScheduleAt((key) => q.state.extra[key]), undefined);
  const bad: BrokerOperation[] = [
    { op: "schedule", name: "b", cron: "not a cron", job: { type: "b", payload: null } },
    {
      op: "schedule",
      name: "b",
      cron: "* * * * *",
      timezone: "Mars/Olympus",
      job: { type: "b", payload: null },
    },
    { op: "schedule", name: "b", everyMs: 10, job: { type: "b", payload: null } },
    { op: "schedule", name: "b", job: { type: "b", payload: null } },
    {
      op: "schedule",
      name: "b",
      everyMs: MINUTE,
      job: { type: "b", payload: null, dependsOn: ["1"] },
    },
  ];
  for (const operation of bad) {
    const reply = q.run(operation);
    assert.equal(!reply.ok && reply.error.code, "validation", JSON.stringify(operation));
  }
  assert.deepEqual(q.ok({ op: "schedules" }).schedules, []);
});

Deno.test("schedule: size limits keep the state's extra small", () => {
  const q = new Queue();
  const big = q.run({
    op: "schedule",
    name: "big",
    everyMs: MINUTE,
    job: { type: "b", payload: "x".repeat(5000) },
  });
  assert.equal(!big.ok && big.error.code, "validation");
  for (let i = 0; i < 64; i++) {
    q.ok({ op: "schedule", name: `s${i}`, everyMs: MINUTE, job: { type: "s", payload: i } });
  }
  const more = q.run({
    op: "schedule",
    name: "s64",
    everyMs: MINUTE,
    job: { type: "s", payload: 0 },
  });
  assert.match(!more.ok ? more.error.message : "", /at most 64 schedules/);
  // Replacing an existing one is still allowed.
  q.ok({ op: "schedule", name: "s0", everyMs: 2 * MINUTE, job: { type: "s", payload: 0 } });
});
