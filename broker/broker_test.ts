import assert from "node:assert/strict";
import {
  ConflictError,
  JobNotFoundError,
  NotLeaderError,
  OverloadedError,
  ShuttingDownError,
  UnavailableError,
  ValidationError,
} from "../errors.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { FaultyStore } from "../storage/faulty_store.ts";
import { ManualClock } from "../testing/manual_clock.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { Operation, PushOperation } from "../protocol/operations.ts";
import { Broker, type BrokerOptions } from "./broker.ts";
import { decodeArchive } from "../core/archive.ts";
import { decodeHead } from "./head.ts";
import { logKey } from "./log_record.ts";

const push = (type = "t", payload: unknown = null): PushOperation => ({
  op: "push",
  jobs: [{ type, payload: payload as null }],
});

async function startBroker(
  store: ObjectStore,
  options: Partial<BrokerOptions> = {},
): Promise<Broker> {
  const broker = new Broker({ store, identity: { id: "a", url: "http://a" }, ...options });
  await broker.start();
  return broker;
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("broker: concurrent pushes are group-committed with one write in flight", async () => {
  const store = new FaultyStore(new MemoryStore(), { latencyMs: 5 });
  const broker = await startBroker(store);
  store.resetStats();
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => broker.request(push("t", i))),
  );
  const ids = new Set(replies.map((reply) => reply.jobs[0].id));
  assert.equal(ids.size, 200);
  assert.equal(store.stats.maxPutsInFlight, 1);
  assert.ok(
    store.stats.conditionalPuts < 20,
    `${store.stats.conditionalPuts} writes for 200 pushes`,
  );
  const stats = await broker.request({ op: "stats" });
  assert.equal(stats.ready, 200);
  await broker.stop();
});

Deno.test("broker: nothing is acknowledged before its write has landed", async () => {
  const store = new FaultyStore(new MemoryStore());
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(store, { clock }));
  store.pause("put");
  let acknowledged = false;
  const reply = broker.request({ op: "push", jobs: [{ type: "t", payload: 1 }] }).then((r) => {
    acknowledged = true;
    return r;
  });
  await clock.runUntil(() => store.stats.putsInFlight === 1);
  await clock.run(20);
  assert.equal(acknowledged, false);
  store.resume("put");
  const { jobs } = await clock.settle(reply);
  assert.notEqual(
    await store.inner.get(logKey("", broker.state.commit)),
    null,
    "its record landed",
  );
  const got = await clock.settle(broker.request({ op: "get", jobId: jobs[0].id }));
  assert.equal(got.job.payload, 1);
  await clock.settle(broker.stop());
});

Deno.test("broker: reads and empty claims are answered without a write", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store, { renewIntervalMs: 60_000 });
  await broker.request(push());
  store.resetStats();
  await broker.request({ op: "stats" });
  await broker.request({ op: "claim", workerId: "w", types: ["other"] });
  await assert.rejects(broker.request({ op: "get", jobId: "nope" }), JobNotFoundError);
  assert.equal(store.stats.puts, 0);
  assert.ok(broker.metrics.readOnlyBatches >= 3);
  await broker.stop();
});

Deno.test("broker: a CAS conflict re-reads and re-applies the batch once", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store);
  store.failNext("put", new ConflictError("injected"));
  const { jobs } = await broker.request(push("t", "x"));
  const stats = await broker.request({ op: "stats" });
  assert.equal(stats.totals.pushed, 1);
  assert.equal(broker.metrics.conflicts, 1);
  assert.equal((await broker.request({ op: "get", jobId: jobs[0].id })).job.payload, "x");
  await broker.stop();
});

for (const lands of [true, false]) {
  Deno.test(`broker: an ambiguous write that ${lands ? "landed" : "was lost"} is applied exactly once`, async () => {
    const store = new FaultyStore(new MemoryStore());
    const broker = await startBroker(store);
    store.ambiguousNext({ lands });
    const { jobs } = await broker.request(push("t", "once"));
    assert.equal(jobs.length, 1);
    assert.notEqual(await store.inner.get(logKey("", broker.state.commit)), null);
    assert.equal(await store.inner.get(logKey("", broker.state.commit + 1)), null);
    const restarted = await startBroker(store.inner, { identity: { id: "a" } });
    await broker.stop();
    const stats = await restarted.request({ op: "stats" });
    assert.equal(stats.totals.pushed, 1);
    assert.equal(stats.ready, 1);
    await restarted.stop();
  });
}

Deno.test("broker: a storage error fails the batch with an error, never a hang, and loses nothing acknowledged", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store);
  const first = await broker.request(push("t", 1));
  store.failNext("put", new UnavailableError("disk on fire"));
  await assert.rejects(broker.request(push("t", 2)), UnavailableError);
  const third = await broker.request(push("t", 3));
  const stats = await broker.request({ op: "stats" });
  assert.equal(stats.totals.pushed, 2);
  assert.ok(first.jobs[0].id !== third.jobs[0].id);
  await broker.stop();
});

Deno.test("broker: invalid operations are refused before they reach the mailbox", async () => {
  const broker = await startBroker(new MemoryStore());
  await assert.rejects(
    broker.request({ op: "push", jobs: [] } as unknown as Operation),
    ValidationError,
  );
  await assert.rejects(broker.request({ op: "explode" } as unknown as Operation), ValidationError);
  await broker.stop();
});

Deno.test("broker: a full mailbox answers overloaded", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store, { mailboxCapacity: 4 });
  store.pause("put");
  const first = broker.request(push());
  await eventually(() => store.stats.putsInFlight === 1);
  const queued = Array.from({ length: 4 }, () => broker.request(push()));
  await assert.rejects(broker.request(push()), OverloadedError);
  store.resume("put");
  await first;
  await Promise.all(queued);
  await broker.stop();
});

Deno.test("broker: a long-poll claim is filled by the push's own commit", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store, { renewIntervalMs: 60_000 });
  const claim = broker.request({ op: "claim", workerId: "w", waitMs: 5000 });
  await eventually(() => broker.metrics.parkedClaims === 1);
  store.resetStats();
  const pushed = await broker.request(push("t", "hello"));
  const claimed = await claim;
  assert.equal(claimed.jobs.length, 1);
  assert.equal(claimed.jobs[0].id, pushed.jobs[0].id);
  assert.equal(store.stats.conditionalPuts, 1, "push and claim share one commit");
  await broker.stop();
});

Deno.test("broker: a long-poll claim with nothing to do answers empty after its wait", async () => {
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(new MemoryStore(), { clock }));
  const sent = clock.now();
  let answered = false;
  const claim = broker.request({ op: "claim", workerId: "w", waitMs: 30 }).finally(() => {
    answered = true;
  });
  await clock.run(29);
  assert.equal(answered, false, "still parked before its wait ran out");
  const claimed = await clock.settle(claim);
  assert.deepEqual(claimed.jobs, []);
  assert.ok(clock.now() - sent >= 30);
  await clock.settle(broker.stop());
});

Deno.test("broker: an aborted long-poll claim is dropped and claims nothing", async () => {
  const broker = await startBroker(new MemoryStore());
  const controller = new AbortController();
  const claim = broker.request({ op: "claim", workerId: "w", waitMs: 5000 }, {
    signal: controller.signal,
  });
  await eventually(() => broker.metrics.parkedClaims === 1);
  controller.abort(new Error("gave up"));
  await assert.rejects(claim, /gave up/);
  await broker.request(push());
  assert.equal((await broker.request({ op: "stats" })).ready, 1);
  await broker.stop();
});

Deno.test("broker: a delayed job wakes a parked claim when it falls due", async () => {
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(new MemoryStore(), { clock }));
  const pushedAt = clock.now();
  await clock.settle(
    broker.request({ op: "push", jobs: [{ type: "t", payload: 1, delayMs: 50 }] }),
  );
  const claimed = await clock.settle(
    broker.request({ op: "claim", workerId: "w", waitMs: 5000 }),
  );
  assert.equal(claimed.jobs.length, 1);
  const waited = clock.now() - pushedAt;
  assert.ok(waited >= 50 && waited < 5000, `answered when due, after ${waited} ms`);
  await clock.settle(broker.stop());
});

Deno.test("broker: an expired lease is handed out again, counting the attempt", async () => {
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(new MemoryStore(), {
    clock,
    heartbeatTimeoutMs: 40,
    heartbeatCheckMs: 10,
  }));
  await clock.settle(broker.request(push("t", "work")));
  const first = await clock.settle(broker.request({ op: "claim", workerId: "dies" }));
  assert.equal(first.jobs[0].attempt, 1);
  const claimedAt = clock.now();
  const again = await clock.settle(
    broker.request({ op: "claim", workerId: "lives", waitMs: 3000 }),
  );
  assert.ok(clock.now() - claimedAt >= 40, "not before the lease ran out");
  assert.equal(again.jobs[0].id, first.jobs[0].id);
  assert.equal(again.jobs[0].attempt, 2);
  await assert.rejects(
    clock.settle(broker.request({
      op: "complete",
      jobId: first.jobs[0].id,
      leaseToken: first.jobs[0].leaseToken,
    })),
    (error: Error & { code?: string }) => error.code === "lease_lost",
  );
  await clock.settle(broker.request({
    op: "complete",
    jobId: again.jobs[0].id,
    leaseToken: again.jobs[0].leaseToken,
  }));
  await clock.settle(broker.stop());
});

Deno.test("broker: stop answers the commit in flight and rejects queued and parked requests", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store);
  const parked = broker.request({ op: "claim", workerId: "w", types: ["x"], waitMs: 10_000 });
  await eventually(() => broker.metrics.parkedClaims === 1);
  store.pause("put");
  const inFlight = broker.request(push());
  await eventually(() => store.stats.putsInFlight === 1);
  const queued = broker.request(push());
  const stopping = broker.stop();
  store.resume("put");
  await stopping;
  assert.equal((await inFlight).jobs.length, 1);
  await assert.rejects(queued, ShuttingDownError);
  await assert.rejects(parked, ShuttingDownError);
  await assert.rejects(broker.request(push()), ShuttingDownError);
});

Deno.test("broker: a restart on the same store recovers every acknowledged job", async () => {
  const store = new MemoryStore();
  const first = await startBroker(store);
  const { jobs } = await first.request({
    op: "push",
    jobs: [1, 2, 3].map((n) => ({ type: "t", payload: n })),
  });
  const epoch = first.state.epoch;
  await first.stop();
  const second = await startBroker(store);
  assert.equal(second.role, "leader");
  assert.equal(second.state.epoch, epoch + 1);
  const claimed = await second.request({ op: "claim", workerId: "w", max: 10 });
  assert.deepEqual(claimed.jobs.map((job) => job.id), jobs.map((job) => job.id));
  await second.stop();
});

Deno.test("broker: two brokers on one store — one leads, the deposed one steps down", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const a = await clock.settle(startBroker(store, { clock, renewIntervalMs: 60_000 }));
  const b = new Broker({
    store,
    clock,
    identity: { id: "b", url: "http://b" },
    takeoverTimeoutMs: 100,
    standbyPollMs: 10,
  });
  await clock.settle(b.start());
  assert.equal(b.role, "standby");
  const refused = await clock.settle(b.request(push())).catch((error) => error);
  assert.ok(refused instanceof NotLeaderError);
  assert.equal(refused.leaderUrl, "http://a");

  // `a` stays silent longer than b's takeover timeout: b takes over.
  const silentSince = clock.now();
  await clock.runUntil(() => b.role === "leader");
  assert.ok(clock.now() - silentSince >= 100, "not before the takeover timeout");
  assert.equal(b.state.epoch, a.state.epoch + 1);

  // a's next write conflicts, it re-reads, sees b, steps down and points at b.
  const deposed = await clock.settle(a.request(push())).catch((error) => error);
  assert.ok(deposed instanceof NotLeaderError, String(deposed));
  assert.equal(deposed.leaderUrl, "http://b");
  assert.equal(a.role, "standby");
  assert.equal(a.leaderInfo().leaderUrl, "http://b");

  const { jobs } = await clock.settle(b.request(push("t", "after")));
  assert.equal(
    (await clock.settle(b.request({ op: "get", jobId: jobs[0].id }))).job.payload,
    "after",
  );
  assert.equal(
    (await clock.settle(b.request({ op: "stats" }))).totals.pushed,
    1,
    "a's refused push never landed",
  );
  await clock.settle(a.stop());
  await clock.settle(b.stop());
});

Deno.test("broker: a leader that keeps committing is never taken over", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const a = await clock.settle(
    startBroker(store, { clock, renewIntervalMs: 20, takeoverTimeoutMs: 60 }),
  );
  const b = new Broker({
    store,
    clock,
    identity: { id: "b" },
    takeoverTimeoutMs: 150,
    standbyPollMs: 10,
  });
  await clock.settle(b.start());
  const logged = a.metrics.commits;
  await clock.run(400); // clock time: more than twice b's takeover timeout
  assert.ok(a.metrics.commits >= logged + 10, `a renewed (${a.metrics.commits - logged} commits)`);
  assert.equal(a.role, "leader");
  assert.equal(b.role, "standby");
  await clock.settle(a.stop());
  await clock.runUntil(() => b.role === "leader");
  await clock.settle(b.stop());
});

/** A store that records the order of writes. */
class RecordingStore extends MemoryStore {
  writes: string[] = [];
  override put(
    key: string,
    body: Uint8Array,
    options?: Parameters<MemoryStore["put"]>[2],
  ): Promise<string> {
    this.writes.push(key);
    return super.put(key, body, options);
  }
}

async function finishTwo(broker: Broker): Promise<string[]> {
  await broker.request({
    op: "push",
    jobs: [{ type: "t", payload: 1 }, { type: "t", payload: 2 }],
  });
  const { jobs } = await broker.request({ op: "claim", workerId: "w", max: 2 });
  for (const job of jobs) {
    await broker.request({ op: "complete", jobId: job.id, leaseToken: job.leaseToken });
  }
  return jobs.map((job) => job.id).sort();
}

Deno.test("broker: finished jobs are archived after the log record that drops them, and get still finds them", async () => {
  const store = new RecordingStore();
  const broker = await startBroker(store, { archiveMaxJobs: 2, archiveMaxAgeMs: 60_000 });
  const ids = await finishTwo(broker);
  assert.deepEqual(await store.list("archive/"), []);
  await broker.request(push()); // the next tick archives
  await eventually(async () => (await store.list("archive/")).length === 1);
  const keys = await store.list("archive/");
  assert.match(keys[0], /^archive\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{8}-\d{12}\.jsonl$/);
  const archived = decodeArchive((await store.get(keys[0]))!.body);
  assert.deepEqual(archived.map((job) => job.id).sort(), ids);
  assert.ok(archived.every((job) => job.state === "completed"));
  // Fenced: the log record that dropped the jobs (and names the archive) landed first.
  const archiveAt = store.writes.indexOf(keys[0]);
  const record = store.writes[archiveAt - 1];
  assert.match(record, /^log\/\d{12}\.json$/);
  assert.match(new TextDecoder().decode((await store.get(record))!.body), new RegExp(keys[0]));
  assert.equal(broker.state.commit, Number(record.slice(4, 16)));
  // The jobs left the state, yet get reads them back from the archive.
  assert.equal((await broker.request({ op: "stats" })).finishedPending, 0);
  const got = await broker.request({ op: "get", jobId: ids[0] });
  assert.equal(got.job.state, "completed");
  await assert.rejects(broker.request({ op: "get", jobId: "zzzz" }), JobNotFoundError);
  await broker.stop();
});

Deno.test("broker: a failed archive write is retried, and a crash before it loses nothing", async () => {
  let failures = 1000;
  class FlakyArchive extends MemoryStore {
    override put(key: string, body: Uint8Array, options?: Parameters<MemoryStore["put"]>[2]) {
      if (key.startsWith("archive/") && failures-- > 0) {
        return Promise.reject(new UnavailableError("archive bucket down"));
      }
      return super.put(key, body, options);
    }
  }
  const store = new FlakyArchive();
  const broker = await startBroker(store, { archiveMaxJobs: 2, archiveMaxAgeMs: 60_000 });
  const ids = await finishTwo(broker);
  await broker.request(push()); // drops them from the state; the archive write fails
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(await store.list("archive/"), []);
  assert.equal((await broker.request({ op: "get", jobId: ids[1] })).job.state, "completed");
  // The broker dies without stopping; the next leader writes the archive from the log tail.
  failures = 0;
  const next = await startBroker(store, { identity: { id: "a" } });
  await eventually(async () => (await store.list("archive/")).length === 1);
  const archived = decodeArchive((await store.get((await store.list("archive/"))[0]))!.body);
  assert.deepEqual(archived.map((job) => job.id).sort(), ids);
  assert.equal((await next.request({ op: "get", jobId: ids[0] })).job.state, "completed");
  await next.stop();
  await broker.stop();
});

Deno.test("broker: a graceful stop resigns, so a standby takes over without waiting", async () => {
  const store = new MemoryStore();
  const a = await startBroker(store, { renewIntervalMs: 60_000 });
  const b = new Broker({
    store,
    identity: { id: "b", url: "http://b" },
    takeoverTimeoutMs: 3_600_000,
    standbyPollMs: 10,
  });
  await b.start();
  assert.equal(b.role, "standby");
  await a.request(push("t", "kept"));
  await a.stop();
  const head = decodeHead((await store.get("queue.json"))!.body);
  assert.equal(head.kind === "head" && head.head.leader, null);
  await eventually(() => b.role === "leader");
  assert.equal((await b.request({ op: "stats" })).ready, 1);
  await b.stop();
});

Deno.test("broker: minCommitIntervalMs spaces state writes at least that far apart", async () => {
  const writes: number[] = [];
  const clock = new ManualClock(1_000_000);
  class TimedStore extends MemoryStore {
    override put(
      key: string,
      body: Uint8Array,
      options?: Parameters<MemoryStore["put"]>[2],
    ): Promise<string> {
      if (key.startsWith("log/")) writes.push(clock.now());
      return super.put(key, body, options);
    }
  }
  const broker = await clock.settle(
    startBroker(new TimedStore(), { clock, minCommitIntervalMs: 40 }),
  );
  writes.length = 0;
  for (let i = 0; i < 4; i++) await clock.settle(broker.request(push("t", i)));
  assert.equal(writes.length, 4);
  for (let i = 1; i < writes.length; i++) {
    assert.ok(writes[i] - writes[i - 1] >= 40, `writes ${i - 1} and ${i} too close`);
  }
  await clock.settle(broker.stop());
});

Deno.test("broker: while storage is down, renewals back off instead of hammering it", async () => {
  const store = new FaultyStore(new MemoryStore());
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(
    startBroker(store, { clock, renewIntervalMs: 40, heartbeatCheckMs: 40 }),
  );
  store.resetStats();
  // Every put fails from now on.
  for (let i = 0; i < 1000; i++) store.failNext("put", new UnavailableError("down"));
  await clock.run(300);
  const attempts = store.stats.puts;
  assert.ok(attempts >= 2, `renewals were attempted (${attempts})`);
  assert.ok(attempts <= 12, `${attempts} write attempts in 300 ms with a 40 ms renew interval`);
  await assert.rejects(clock.settle(broker.request(push())), UnavailableError);
  await clock.settle(broker.stop());
});

Deno.test("broker: a parked claim aborted while its batch is being written is settled, and stop does not hang", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store);
  const controller = new AbortController();
  const claim = broker.request({ op: "claim", workerId: "w", waitMs: 60_000 }, {
    signal: controller.signal,
  });
  await eventually(() => broker.metrics.parkedClaims === 1);
  // A push's commit is in flight; the parked claim is part of that tick.
  store.pause("put");
  const pushed = broker.request(push("other", 1));
  await eventually(() => store.stats.putsInFlight === 1);
  controller.abort(new Error("caller gave up"));
  store.resume("put");
  await pushed;
  // The claim was either filled by the push's commit or rejected with the caller's reason.
  const settled = await claim.then(() => "filled", (error) => (error as Error).message);
  assert.ok(settled === "filled" || settled === "caller gave up", settled);
  await broker.request(push("other", 2)); // the next tick must not drop it silently
  assert.equal(broker.metrics.parkedClaims, 0);
  const stopped = await Promise.race([
    broker.stop().then(() => "stopped"),
    new Promise((resolve) => setTimeout(() => resolve("hung"), 2000)),
  ]);
  assert.equal(stopped, "stopped");
});

Deno.test("broker: an aborted parked claim that got no job is rejected on the next tick, never dropped", async () => {
  const store = new FaultyStore(new MemoryStore());
  const broker = await startBroker(store);
  const controller = new AbortController();
  const claim = broker.request({ op: "claim", workerId: "w", types: ["none"], waitMs: 60_000 }, {
    signal: controller.signal,
  });
  await eventually(() => broker.metrics.parkedClaims === 1);
  store.pause("put");
  const pushed = broker.request(push("other", 1));
  await eventually(() => store.stats.putsInFlight === 1);
  controller.abort(new Error("caller gave up"));
  store.resume("put");
  await pushed;
  const hung = new Promise((_, reject) =>
    setTimeout(() => reject(new Error("claim never settled")), 2000)
  );
  await assert.rejects(Promise.race([claim, hung]), /caller gave up/);
  assert.equal(broker.metrics.parkedClaims, 0);
  await broker.stop();
});

Deno.test("broker: leaderInfo says leader only while its last commit is recent", async () => {
  let now = 1_000_000;
  const broker = await startBroker(new MemoryStore(), {
    clock: { now: () => now },
    takeoverTimeoutMs: 3000,
    renewIntervalMs: 1000,
  });
  assert.equal(broker.leaderInfo().leader, true);
  now += 1500;
  assert.equal(broker.leaderInfo().leader, true, "within twice the renewal interval");
  now += 45_000; // frozen, then resumed: no commit for 45 s
  assert.equal(broker.leaderInfo().leader, false);
  await broker.request(push()); // a landed commit proves it again
  assert.equal(broker.leaderInfo().leader, true);
  await broker.stop();
});

Deno.test("broker: a request sent while the broker starts waits for it instead of not_leader", async () => {
  const store = new FaultyStore(new MemoryStore(), { latencyMs: 30 });
  const broker = new Broker({ store, identity: { id: "a" } });
  const starting = broker.start();
  assert.equal(broker.role, "starting");
  const { jobs } = await broker.request(push("t", "early"));
  assert.equal(jobs.length, 1);
  await starting;
  await broker.stop();
});

Deno.test("broker: the global cap on parked claims answers overloaded", async () => {
  const broker = await startBroker(new MemoryStore(), { maxParkedClaims: 2 });
  const waits = [1, 2].map(() =>
    broker.request({ op: "claim", workerId: "w", types: ["x"], waitMs: 50 })
  );
  await eventually(() => broker.metrics.parkedClaims === 2);
  await assert.rejects(
    broker.request({ op: "claim", workerId: "w", types: ["x"], waitMs: 50 }),
    OverloadedError,
  );
  for (const wait of waits) assert.deepEqual(await wait, { jobs: [] });
  await broker.stop();
});
