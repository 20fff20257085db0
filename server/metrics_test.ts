import assert from "node:assert/strict";
import { Histogram, MetricsCollector, type MetricsSnapshot, renderPrometheus } from "./metrics.ts";
import { MetricsHistory } from "./metrics_history.ts";
import { parsePrometheus } from "./_prometheus_parse.ts";

function snapshot(
  collector: MetricsCollector,
  broker: Record<string, unknown> = {},
): MetricsSnapshot {
  return {
    stats: {
      ready: 2,
      delayed: 1,
      active: 0,
      finishedPending: 0,
      totals: { pushed: 3, completed: 0, failed: 0, retried: 0, dead: 0, expired: 0, cancelled: 0 },
      byType: { 'we"ird\\type': 2, b: 1 },
      epoch: 4,
      commit: 17,
    },
    jobsByStateAndType: { ready: { 'we"ird\\type': 2 }, delayed: { b: 1 } },
    broker,
    leader: { leader: true, brokerId: "b-1" },
    connections: 2,
    workers: { subscribed: 1, credits: 8, outstandingClaims: 1 },
    collector,
  };
}

Deno.test("Histogram: cumulative buckets, sum, count, quantile estimates", () => {
  const h = new Histogram([1, 5, 10]);
  for (const v of [0.5, 2, 3, 7, 50]) h.observe(v);
  h.observe(NaN);
  assert.deepEqual(h.cumulative(), [1, 3, 4, 5]);
  assert.equal(h.count, 5);
  assert.equal(h.sum, 62.5);
  assert.equal(h.quantile(0.5), 5);
  assert.equal(h.quantile(0.8), 10);
  assert.equal(h.quantile(1), Infinity);
  assert.equal(new Histogram([1]).quantile(0.5), undefined);
});

Deno.test("renderPrometheus: commit histograms from commit events, store latency, gauges, escaping", () => {
  const collector = new MetricsCollector();
  collector.onEvent({
    event: "commit",
    epoch: 4,
    seq: 16,
    requests: 7,
    operations: 9,
    bytes: 5000,
    ms: 8,
  });
  collector.onEvent({
    event: "commit",
    epoch: 4,
    seq: 17,
    requests: 1,
    operations: 1,
    bytes: 300,
    ms: 120,
  });
  collector.onEvent({ event: "conflict", commit: 17 });
  collector.onStoreCall({ op: "put", ms: 4, ok: true });
  collector.onStoreCall({ op: "put", ms: 30, ok: false, code: "conflict" });
  const text = renderPrometheus(
    snapshot(collector, { commits: 16, conflicts: 1, parkedClaims: 3, note: "x" }),
  );
  const m = parsePrometheus(text);
  assert.equal(m.get('osqueue_commit_duration_seconds_bucket{le="0.01"}'), 1);
  assert.equal(m.get('osqueue_commit_duration_seconds_bucket{le="0.25"}'), 2);
  assert.equal(m.get("osqueue_commit_duration_seconds_count"), 2);
  assert.equal(m.get("osqueue_commit_duration_seconds_sum"), 0.128);
  assert.equal(m.get('osqueue_commit_requests_bucket{le="10"}'), 2);
  assert.equal(m.get("osqueue_commit_requests_sum"), 8);
  assert.equal(m.get('osqueue_commit_bytes_bucket{le="4096"}'), 1);
  assert.equal(m.get('osqueue_store_request_duration_seconds_count{op="put"}'), 2);
  assert.equal(m.get('osqueue_store_request_duration_seconds_bucket{op="put",le="0.005"}'), 1);
  assert.equal(m.get('osqueue_store_errors_total{op="put",code="conflict"}'), 1);
  assert.equal(m.get('osqueue_broker_events_total{event="commit"}'), 2);
  assert.equal(m.get('osqueue_broker_events_total{event="conflict"}'), 1);
  assert.equal(m.get("osqueue_commits_total"), 16);
  assert.equal(m.get("osqueue_conflicts_total"), 1);
  assert.equal(
    m.get("osqueue_broker_parked_claims"),
    3,
    "unknown numeric broker metrics are exported",
  );
  assert.ok(!text.includes("note"), "non-numeric fields are not");
  assert.equal(m.get('osqueue_jobs{state="ready",type="we\\"ird\\\\type"}'), 2);
  assert.equal(m.get('osqueue_jobs{state="delayed",type="b"}'), 1);
  assert.equal(m.get("osqueue_jobs_pushed_total"), 3);
  assert.equal(m.get('osqueue_leader{broker_id="b-1"}'), 1);
  assert.equal(m.get("osqueue_epoch"), 4);
  assert.equal(m.get("osqueue_connections"), 2);
  assert.equal(m.get("osqueue_worker_credits"), 8);
  assert.equal(m.get("osqueue_parked_claims"), 1);
  assert.match(text, /# TYPE osqueue_commit_duration_seconds histogram/);
  assert.match(text, /# TYPE osqueue_jobs_pushed_total counter/);
});

Deno.test("MetricsHistory: mean latency per interval, bounded size", () => {
  const collector = new MetricsCollector();
  const history = new MetricsHistory(2);
  const stats = snapshot(collector).stats;
  const take = (now: number) =>
    history.sample({
      now,
      stats,
      commits: 1,
      commitSeconds: collector.commitSeconds,
      putSeconds: collector.storeSeconds.get("put"),
    });
  assert.equal(take(1).commitMs, null);
  collector.onEvent({ event: "commit", ms: 10 });
  collector.onEvent({ event: "commit", ms: 30 });
  collector.onStoreCall({ op: "put", ms: 6, ok: true });
  const second = take(2);
  assert.equal(second.commitMs, 20);
  assert.equal(second.putMs, 6);
  assert.equal(take(3).commitMs, null, "no commits in that interval");
  assert.deepEqual(history.samples().map((s) => s.t), [2, 3]);
});
