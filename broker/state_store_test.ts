import assert from "node:assert/strict";
import { InvalidError, NotLeaderError } from "../errors.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { ManualClock } from "../testing/manual_clock.ts";
import type { ObjectStore, PutOptions } from "../storage/types.ts";
import { applyBatch } from "../core/apply.ts";
import { decodeArchive } from "../core/archive.ts";
import { batchEffects } from "../core/effects.ts";
import { createState, encodeState, listJobs, withCommit } from "../core/state.ts";
import { Broker, type BrokerOptions } from "./broker.ts";
import { decodeHead, decodeManifest, type Head } from "./head.ts";
import { decodeLogRecord, encodeLogRecord, logKey } from "./log_record.ts";
import { readQueueState } from "./read_state.ts";
import { StateStore } from "./state_store.ts";

const seeded = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

async function startBroker(store: ObjectStore, options: Partial<BrokerOptions> = {}) {
  const broker = new Broker({ store, identity: { id: "a" }, ...options });
  await broker.start();
  return broker;
}

function headOf(bytes: Uint8Array): Head {
  const content = decodeHead(bytes);
  if (content.kind !== "head") throw new Error("not a head");
  return content.head;
}

Deno.test("state store: each commit is one small log record; the head stays small", async () => {
  const store = new MemoryStore();
  const broker = await startBroker(store, { checkpointMinRecords: 1_000_000 });
  for (let i = 0; i < 20; i++) {
    await broker.request({ op: "push", jobs: [{ type: "t", payload: "x".repeat(100) }] });
  }
  const keys = await store.list("log/");
  assert.equal(keys.length, 21, "the takeover record and one per push");
  const record = decodeLogRecord((await store.get(keys.at(-1)!))!.body, keys.at(-1)!);
  assert.equal(record.effects.add.length, 1);
  const bytes = (await store.get(keys.at(-1)!))!.body.length;
  assert.ok(bytes < 600, `a one-job record is ${bytes} bytes`);
  const head = headOf((await store.get("queue.json"))!.body);
  assert.deepEqual(head.leader, { id: "a" });
  assert.equal(head.checkpoint, null);
  await broker.stop();
});

Deno.test("state store: a heartbeat's record carries the job's status, never its payload", async () => {
  const store = new MemoryStore();
  const broker = await startBroker(store);
  const payload = "p".repeat(10_000);
  await broker.request({ op: "push", jobs: [{ type: "t", payload }] });
  const [job] = (await broker.request({ op: "claim", workerId: "w" })).jobs;
  await broker.request({ op: "heartbeat", jobId: job.id, leaseToken: job.leaseToken });
  const key = logKey("", broker.state.commit);
  const body = (await store.get(key))!.body;
  assert.ok(body.length < 500, `heartbeat record is ${body.length} bytes`);
  const record = decodeLogRecord(body, key);
  assert.equal(record.effects.set.length, 1);
  assert.equal(record.effects.add.length, 0);
  await broker.stop();
});

Deno.test("state store: recovery replays a long log tail exactly", async () => {
  const store = new MemoryStore();
  const first = await startBroker(store, { checkpointMinRecords: 1_000_000 });
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const { jobs } = await first.request({ op: "push", jobs: [{ type: "t", payload: i }] });
    ids.push(jobs[0].id);
  }
  const claimed = await first.request({ op: "claim", workerId: "w", max: 10 });
  for (const job of claimed.jobs.slice(0, 5)) {
    await first.request({ op: "complete", jobId: job.id, leaseToken: job.leaseToken });
  }
  const before = listJobs(first.state);
  // Crash: no stop, a new broker with the same id takes over at once.
  const second = await startBroker(store);
  assert.deepEqual(listJobs(second.state), before);
  const stats = await second.request({ op: "stats" });
  assert.equal(stats.totals.pushed, 300);
  assert.equal(stats.totals.completed, 5);
  assert.equal(stats.active, 5);
  const snapshot = await readQueueState({ store });
  assert.ok(snapshot!.tail >= 300, `tail ${snapshot!.tail}`);
  await second.stop();
  await first.stop();
});

Deno.test("state store: checkpoints are installed in the background and old objects collected", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(store, {
    clock,
    checkpointMinRecords: 10,
    checkpointMaxRecords: 20,
    checkpointMinIntervalMs: 1,
  }));
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 25; i++) {
      await clock.settle(
        broker.request({ op: "push", jobs: [{ type: "t", payload: { round, i } }] }),
      );
    }
    await clock.run(10);
  }
  assert.ok(broker.metrics.checkpoints >= 4, `${broker.metrics.checkpoints} checkpoints`);
  assert.ok(broker.metrics.gcDeleted > 0, "garbage was collected");
  const head = headOf((await store.get("queue.json"))!.body);
  assert.notEqual(head.checkpoint, null);
  const logs = await store.list("log/");
  assert.ok(logs.length < 200, `${logs.length} log records left of ${broker.state.commit}`);
  const manifests = await store.list("checkpoints/");
  assert.ok(manifests.length <= 3, `${manifests.length} manifests kept`);
  const snapshot = await readQueueState({ store });
  assert.deepEqual(listJobs(snapshot!.state), listJobs(broker.state));
  await clock.settle(broker.stop());
  const again = await startBroker(store);
  assert.equal((await again.request({ op: "stats" })).ready, 200);
  await again.stop();
});

/** A store whose puts to keys matching `pattern` never finish (a checkpoint stuck in flight). */
class StuckPuts extends MemoryStore {
  constructor(readonly pattern: RegExp) {
    super();
  }
  override put(key: string, body: Uint8Array, options?: PutOptions): Promise<string> {
    if (this.pattern.test(key)) return new Promise(() => {});
    return super.put(key, body, options);
  }
}

Deno.test("state store: a crash with a checkpoint in progress loses nothing", async () => {
  const store = new StuckPuts(/^checkpoints\//);
  const first = await startBroker(store, {
    checkpointMinRecords: 5,
    checkpointMaxRecords: 5,
    checkpointMinIntervalMs: 1,
    stopTimeoutMs: 50,
  });
  for (let i = 0; i < 40; i++) {
    await first.request({ op: "push", jobs: [{ type: "t", payload: i }] });
  }
  assert.ok((await store.list("segments/")).length > 0, "segments were written");
  assert.equal(headOf((await store.get("queue.json"))!.body).checkpoint, null, "never installed");
  const before = listJobs(first.state);
  const second = await startBroker(store, { identity: { id: "b" }, stopTimeoutMs: 50 });
  assert.equal(second.role, "standby");
  await first.stop(); // resigns (the stuck checkpoint is abandoned after stopTimeoutMs)
  const third = await startBroker(store, { identity: { id: "c" }, stopTimeoutMs: 50 });
  assert.deepEqual(listJobs(third.state), before);
  await third.stop();
  await second.stop();
});

Deno.test("state store: a deposed leader racing the new one at the same sequence steps down and writes nothing", async () => {
  const store = new MemoryStore();
  const a = await startBroker(store, { renewIntervalMs: 3_600_000, archiveMaxAgeMs: 0 });
  await a.request({ op: "push", jobs: [{ type: "t", payload: "before" }] });
  const [job] = (await a.request({ op: "claim", workerId: "w" })).jobs;
  // b takes over while a still thinks it leads (a frozen leader).
  const stateStore = new StateStore({ store, prefix: "", identity: { id: "b" }, now: Date.now });
  const opened = await stateStore.open();
  assert.equal(opened.kind, "head");
  const loaded = await stateStore.takeOver(opened as Extract<typeof opened, { kind: "head" }>);
  assert.notEqual(loaded, null);
  const bSeq = loaded!.state.commit;
  // a's next commit targets b's sequence number: it conflicts, reads b's epoch, steps down.
  await assert.rejects(
    a.request({ op: "complete", jobId: job.id, leaseToken: job.leaseToken }),
    NotLeaderError,
  );
  assert.equal(a.role, "standby");
  assert.equal(await store.get(logKey("", bSeq + 1)), null, "a wrote no record after b's");
  assert.deepEqual(await store.list("archive/"), [], "a wrote no archive object");
  const snapshot = await readQueueState({ store });
  assert.equal(snapshot!.state.totals.completed, 0, "a's completion never counted");
  await a.stop();
});

Deno.test("state store: two writers at one sequence number — exactly one record lands", async () => {
  const store = new MemoryStore();
  const broker = await startBroker(store);
  await broker.stop();
  const writers = ["x", "y"].map((id) =>
    new StateStore({ store, prefix: "", identity: { id }, now: Date.now })
  );
  const loaded = await readQueueState({ store });
  for (const writer of writers) await writer.open();
  const state = loaded!.state;
  const batch = (payload: string) => {
    const result = applyBatch(state, [{ op: "push", jobs: [{ type: "t", payload }] }], {
      now: 1,
      defaultLeaseMs: 1000,
      newToken: () => "t",
      random: () => 0,
    });
    return {
      before: state,
      after: result.state,
      effects: batchEffects(state, result.state, result.changes),
    };
  };
  const outcomes = await Promise.all([
    writers[0].append(batch("from x")),
    writers[1].append(batch("from y")),
  ]);
  assert.deepEqual(outcomes.map((o) => o.kind).sort(), ["conflict", "landed"]);
  const conflict = outcomes.find((o) => o.kind === "conflict") as { state: typeof state };
  assert.equal(
    conflict.state.commit,
    state.commit + 1,
    "the loser caught up on the winner's record",
  );
});

Deno.test("state store: a record of an older epoch after a newer one is void on replay", async () => {
  const store = new MemoryStore();
  const broker = await startBroker(store);
  await broker.request({ op: "push", jobs: [{ type: "t", payload: 1 }] });
  await broker.stop();
  const seq = broker.state.commit + 1;
  const stale = encodeLogRecord({
    seq,
    epoch: 0,
    writer: { id: "ghost" },
    nonce: "n",
    at: 0,
    effects: { add: [], set: [], del: [], totals: { ...broker.state.totals, pushed: 999 } },
  });
  await store.put(logKey("", seq), stale, { condition: { ifNoneMatch: "*" } });
  const snapshot = await readQueueState({ store });
  assert.equal(snapshot!.state.totals.pushed, 1, "the ghost's record changed nothing");
  assert.equal(snapshot!.state.commit, seq, "but took its sequence number");
});

Deno.test("state store: a corrupt log record stops the start with a clear error and is left as it was", async () => {
  const store = new MemoryStore();
  const broker = await startBroker(store);
  await broker.request({ op: "push", jobs: [{ type: "t", payload: 1 }] });
  await broker.stop();
  const key = logKey("", broker.state.commit + 1);
  const junk = new TextEncoder().encode('{"format":"osqueue-log","version":2,"seq":"x"}');
  await store.put(key, junk);
  await assert.rejects(startBroker(store), InvalidError);
  assert.deepEqual((await store.get(key))!.body, junk);
});

Deno.test("state store: a version-1 state is migrated to the log layout", async () => {
  const store = new MemoryStore();
  let v1 = withCommit(createState(), { leader: { id: "old" }, epoch: 4 });
  const result = applyBatch(v1, [
    { op: "push", jobs: Array.from({ length: 1500 }, (_, i) => ({ type: "t", payload: i })) },
  ], { now: 1000, defaultLeaseMs: 1000, newToken: () => "t", random: () => 0 });
  v1 = withCommit(result.state, { leader: null, epoch: 4 });
  await store.put("queue.json", encodeState(v1));
  const broker = await startBroker(store);
  assert.equal(broker.role, "leader");
  assert.deepEqual(listJobs(broker.state), listJobs(v1));
  const head = headOf((await store.get("queue.json"))!.body);
  assert.equal(head.epoch, 5);
  assert.equal(head.checkpoint?.seq, v1.commit);
  const manifest = decodeManifest((await store.get(head.checkpoint!.key))!.body, "m");
  assert.equal(manifest.segments.length, 2, "1500 jobs in two segments");
  await broker.request({ op: "push", jobs: [{ type: "t", payload: "after" }] });
  await broker.stop();
  const again = await startBroker(store);
  assert.equal((await again.request({ op: "stats" })).ready, 1501);
  await again.stop();
});

Deno.test("state store: garbage collection never deletes an object a recent head names (randomised)", async () => {
  for (const seed of [1, 2, 3]) {
    const random = seeded(seed);
    // Every checkpoint the head was ever pointed at, in order.
    const heads: string[] = [];
    class HeadWatch extends MemoryStore {
      override async put(key: string, body: Uint8Array, options?: PutOptions) {
        const etag = await super.put(key, body, options);
        const checkpoint = key === "queue.json" ? headOf(body).checkpoint : null;
        if (checkpoint !== null && heads.at(-1) !== checkpoint.key) heads.push(checkpoint.key);
        return etag;
      }
    }
    const store = new HeadWatch();
    const broker = await startBroker(store, {
      checkpointMinRecords: 1,
      checkpointMaxRecords: 3,
      checkpointMinIntervalMs: 1,
      archiveMaxJobs: 5,
      archiveMaxAgeMs: 0,
    });
    for (let step = 0; step < 120; step++) {
      const r = random();
      if (r < 0.5) {
        const n = 1 + Math.floor(random() * 300);
        await broker.request({
          op: "push",
          jobs: Array.from({ length: n }, (_, i) => ({ type: "t", payload: i })),
        });
      } else {
        const { jobs } = await broker.request({
          op: "claim",
          workerId: "w",
          max: 1 + Math.floor(random() * 200),
        });
        for (const job of jobs) {
          if (random() < 0.8) {
            await broker.request({ op: "complete", jobId: job.id, leaseToken: job.leaseToken });
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, random() < 0.3 ? 3 : 0));
      // Every object the current and the previous checkpoint name still exists, and loads.
      for (const key of heads.slice(-2)) {
        const manifest = await store.get(key);
        assert.notEqual(manifest, null, `seed ${seed} step ${step}: manifest ${key} collected`);
        for (const segment of decodeManifest(manifest!.body, key).segments) {
          assert.notEqual(await store.get(segment.key), null, `seed ${seed}: ${segment.key}`);
        }
      }
      if (step % 20 === 19) {
        const snapshot = await readQueueState({ store });
        assert.deepEqual(
          listJobs(snapshot!.state),
          listJobs(broker.state),
          `seed ${seed} step ${step}`,
        );
      }
    }
    assert.ok(
      broker.metrics.checkpoints >= 5,
      `seed ${seed}: ${broker.metrics.checkpoints} checkpoints`,
    );
    // Archives: each finished job archived once, none twice.
    const seen = new Set<string>();
    for (const key of await store.list("archive/")) {
      for (const job of decodeArchive((await store.get(key))!.body)) {
        assert.equal(seen.has(job.id), false, `job ${job.id} archived twice`);
        seen.add(job.id);
      }
    }
    await broker.stop();
  }
});

Deno.test("state store: a quiet leader checkpoints what the log holds, so a restart reads little", async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(1_000_000);
  const broker = await clock.settle(startBroker(store, { clock, checkpointMinIntervalMs: 1 }));
  await clock.settle(broker.request({
    op: "push",
    jobs: Array.from({ length: 500 }, (_, i) => ({ type: "t", payload: i })),
  }));
  assert.equal(headOf((await store.get("queue.json"))!.body).checkpoint, null);
  // No more requests: only the broker's own timers can lead to a checkpoint.
  await clock.runUntil(
    async () => headOf((await store.get("queue.json"))!.body).checkpoint !== null,
    { maxMs: 5_000, stepMs: 10 },
  );
  const snapshot = await readQueueState({ store });
  assert.equal(snapshot!.tail, 0, "nothing left to replay");
  assert.equal(snapshot!.state.totals.pushed, 500);
  await clock.settle(broker.stop());
});
