import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import {
  type Attributes,
  OtelRecorder,
  type SpanContextLike,
  type SpanLike,
  type TracerLike,
} from "./otel.ts";

interface RecordedSpan {
  name: string;
  attributes: Attributes;
  startTime?: number;
  endTime?: number;
  links: SpanContextLike[];
  events: { name: string; time?: number }[];
  status?: { code: number; message?: string };
  context: SpanContextLike;
}

function recordingTracer(): TracerLike & { spans: RecordedSpan[] } {
  const spans: RecordedSpan[] = [];
  let next = 1;
  return {
    spans,
    startSpan(name, options = {}) {
      const recorded: RecordedSpan = {
        name,
        attributes: { ...options.attributes },
        startTime: options.startTime,
        links: (options.links ?? []).map((link) => link.context),
        events: [],
        context: {
          traceId: "t".repeat(32),
          spanId: String(next++).padStart(16, "0"),
          traceFlags: 1,
        },
      };
      const span: SpanLike = {
        setAttribute: (key, value) => (recorded.attributes[key] = value),
        setStatus: (status) => (recorded.status = status),
        addEvent: (name, _attributes, time) => recorded.events.push({ name, time }),
        end: (endTime) => {
          recorded.endTime = endTime;
          spans.push(recorded);
        },
        spanContext: () => recorded.context,
      };
      return span;
    },
  };
}

Deno.test("OtelRecorder: request spans and one job-life span from push to completion", async () => {
  const tracer = recordingTracer();
  let now = 1_000;
  const recorded: { name: string; value: number; attributes?: Attributes }[] = [];
  const recorder = new OtelRecorder({
    tracer,
    meter: {
      createHistogram: (name) => ({
        record: (value, attributes) => recorded.push({ name, value, attributes }),
      }),
    },
    clock: { now: () => now },
  });
  const broker = new Broker({ store: new MemoryStore(), clock: { now: () => now } });
  await broker.start();
  const backend = recorder.traceBackend(broker);
  try {
    const { jobs } = await backend.request({
      op: "push",
      jobs: [{ type: "mail", payload: 1 }, { type: "mail", payload: 2, maxAttempts: 1 }],
    });
    now += 40;
    const claimed = await backend.request({ op: "claim", workerId: "w-1", max: 2 });
    now += 25;
    await backend.request({
      op: "complete",
      jobId: jobs[0].id,
      leaseToken: claimed.jobs[0].leaseToken,
    });
    await backend.request({
      op: "fail",
      jobId: jobs[1].id,
      leaseToken: claimed.jobs[1].leaseToken,
      error: "boom",
    });
    await assert.rejects(() => backend.request({ op: "get", jobId: "zzz" }), /not found/);

    const names = tracer.spans.map((span) => span.name);
    assert.deepEqual(names, [
      "osqueue.push",
      "osqueue.claim",
      "osqueue.job",
      "osqueue.complete",
      "osqueue.job",
      "osqueue.fail",
      "osqueue.get",
    ]);
    const push = tracer.spans[0];
    assert.deepEqual(push.attributes["osqueue.job.ids"], jobs.map((job) => job.id));
    assert.equal(tracer.spans[1].attributes["osqueue.worker.id"], "w-1");
    const life = tracer.spans[2];
    assert.deepEqual(life.attributes, {
      "osqueue.job.id": jobs[0].id,
      "osqueue.job.type": "mail",
      "osqueue.job.outcome": "completed",
      "osqueue.job.attempts": 1,
      "osqueue.job.wait_ms": 40,
      "osqueue.job.run_ms": 25,
      "osqueue.worker.id": "w-1",
    });
    assert.equal(life.startTime, 1_000);
    assert.equal(life.endTime, 1_065);
    assert.deepEqual(life.links, [push.context]);
    assert.deepEqual(life.events, [{ name: "claimed", time: 1_040 }]);
    const dead = tracer.spans[4];
    assert.equal(dead.attributes["osqueue.job.outcome"], "dead");
    assert.deepEqual(dead.status, { code: 2, message: "boom" });
    const failed = tracer.spans[6];
    assert.equal(failed.attributes["osqueue.error.code"], "job_not_found");
    assert.equal(failed.status?.code, 2);
    assert.equal(recorder.trackedJobs, 0);

    recorder.onEvent({
      event: "commit",
      epoch: 2,
      seq: 9,
      requests: 3,
      operations: 4,
      bytes: 800,
      ms: 12,
    });
    const commit = tracer.spans.at(-1)!;
    assert.equal(commit.name, "osqueue.commit");
    assert.deepEqual(commit.attributes, {
      "osqueue.commit.epoch": 2,
      "osqueue.commit.seq": 9,
      "osqueue.commit.requests": 3,
      "osqueue.commit.operations": 4,
      "osqueue.commit.bytes": 800,
    });
    assert.equal(commit.endTime! - commit.startTime!, 12);
    recorder.onStoreCall({ op: "put", ms: 7, ok: false, code: "conflict" });
    assert.deepEqual(recorded, [
      { name: "osqueue.commit.duration", value: 12, attributes: undefined },
      { name: "osqueue.commit.requests", value: 3, attributes: undefined },
      { name: "osqueue.commit.bytes", value: 800, attributes: undefined },
      {
        name: "osqueue.store.duration",
        value: 7,
        attributes: {
          "osqueue.store.op": "put",
          "osqueue.store.ok": false,
          "osqueue.store.error": "conflict",
        },
      },
    ]);
  } finally {
    await broker.stop();
  }
});

Deno.test("OtelRecorder forgets the oldest tracked jobs past its bound", async () => {
  const recorder = new OtelRecorder({ tracer: recordingTracer(), maxTrackedJobs: 2 });
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  try {
    await recorder.traceBackend(broker).request({
      op: "push",
      jobs: [1, 2, 3].map((n) => ({ type: "t", payload: n })),
    });
    assert.equal(recorder.trackedJobs, 2);
  } finally {
    await broker.stop();
  }
});

Deno.test("OtelRecorder.observeQueue reports jobs by state, totals and leadership at collection", () => {
  const callbacks = new Map<
    string,
    (result: { observe(value: number, attributes?: Attributes): void }) => void
  >();
  const instrument = (name: string) => ({
    addCallback: (
      callback: (result: { observe(value: number, attributes?: Attributes): void }) => void,
    ) => {
      callbacks.set(name, callback);
    },
  });
  const recorder = new OtelRecorder({
    tracer: recordingTracer(),
    meter: {
      createHistogram: () => ({ record: () => {} }),
      createObservableGauge: instrument,
      createObservableCounter: instrument,
    },
  });
  let ready = 2;
  recorder.observeQueue(() => ({
    jobs: { ready, active: 1 },
    totals: { pushed: 5 },
    leader: true,
  }));
  const collect = (name: string) => {
    const seen: [number, Attributes | undefined][] = [];
    callbacks.get(name)!({ observe: (value, attributes) => seen.push([value, attributes]) });
    return seen;
  };
  assert.deepEqual(collect("osqueue.jobs"), [
    [2, { "osqueue.job.state": "ready" }],
    [1, { "osqueue.job.state": "active" }],
  ]);
  ready = 0;
  assert.deepEqual(collect("osqueue.jobs")[0], [0, { "osqueue.job.state": "ready" }]);
  assert.deepEqual(collect("osqueue.jobs.total"), [[5, { "osqueue.job.outcome": "pushed" }]]);
  assert.deepEqual(collect("osqueue.leader"), [[1, undefined]]);
});
