/**
 * Operational metrics: histograms fed by broker events (`commit`) and timed
 * store calls, and the Prometheus text exposition of everything a broker
 * knows — jobs by state and type, queue totals, broker counters, commit and
 * store latency, connections, leadership.
 *
 * @module
 */
import type { QueueStats } from "../protocol/operations.ts";

/** Upper bounds (seconds) of latency histograms. */
export const LATENCY_BUCKETS_S: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];
/** Upper bounds of the requests-per-commit histogram. */
export const REQUEST_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
/** Upper bounds (bytes) of the bytes-per-commit histogram. */
export const BYTE_BUCKETS: readonly number[] = [
  256,
  1024,
  4096,
  16_384,
  65_536,
  262_144,
  1_048_576,
  4_194_304,
  16_777_216,
  67_108_864,
];

/** A cumulative histogram with fixed buckets (Prometheus semantics). */
export class Histogram {
  /** Upper bounds, ascending (`+Inf` is implicit). */
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /** A histogram with these upper bounds. */
  constructor(buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = new Array(this.buckets.length).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]) {
        this.#counts[i]++;
        break;
      }
    }
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values recorded. */
  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per bucket (`le` semantics), then the total for `+Inf`. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (const n of this.#counts) out.push(running += n);
    out.push(this.#count);
    return out;
  }

  /** An estimate of quantile `q` (0..1): the upper bound of the bucket holding it; `undefined` when empty. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    const rank = q * this.#count;
    const cumulative = this.cumulative();
    for (let i = 0; i < this.buckets.length; i++) {
      if (cumulative[i] >= rank) return this.buckets[i];
    }
    return Infinity;
  }
}

/** A broker event as the metrics read it (see `BrokerEvent`). */
export interface MetricsEvent {
  /** What happened. */
  event: string;
  /** Detail fields. */
  [field: string]: unknown;
}

/** A timed store call as the metrics read it (see `StoreCall`). */
export interface MetricsStoreCall {
  /** `get`, `put`, `delete` or `list`. */
  op: string;
  /** Duration, ms. */
  ms: number;
  /** Whether it succeeded. */
  ok: boolean;
  /** The error code when it failed. */
  code?: string;
}

/**
 * Collects what only flows by: commit events and store call timings. Feed it
 * with `onEvent` (the broker's `log` option) and `onStoreCall` (an
 * `InstrumentedStore`'s `observe`).
 */
export class MetricsCollector {
  /** Commit latency (batch start → landed), seconds. */
  readonly commitSeconds: Histogram = new Histogram(LATENCY_BUCKETS_S);
  /** Client requests per commit. */
  readonly commitRequests: Histogram = new Histogram(REQUEST_BUCKETS);
  /** Operations (requests plus housekeeping) per commit. */
  readonly commitOperations: Histogram = new Histogram(REQUEST_BUCKETS);
  /** Bytes written per commit. */
  readonly commitBytes: Histogram = new Histogram(BYTE_BUCKETS);
  /** Store call latency by operation, seconds. */
  readonly storeSeconds: Map<string, Histogram> = new Map();
  /** Failed store calls by `op` and error code. */
  readonly storeErrors: Map<string, number> = new Map();
  /** Broker events by name. */
  readonly events: Map<string, number> = new Map();
  #commitEvents = 0;

  /** Records a broker event (every event is counted; `commit` feeds the commit histograms). */
  onEvent(event: MetricsEvent): void {
    this.events.set(event.event, (this.events.get(event.event) ?? 0) + 1);
    if (event.event !== "commit") return;
    this.#commitEvents++;
    if (typeof event.ms === "number") this.commitSeconds.observe(event.ms / 1000);
    if (typeof event.requests === "number") this.commitRequests.observe(event.requests);
    if (typeof event.operations === "number") this.commitOperations.observe(event.operations);
    if (typeof event.bytes === "number") this.commitBytes.observe(event.bytes);
  }

  /** Records a timed store call. */
  onStoreCall(call: MetricsStoreCall): void {
    let histogram = this.storeSeconds.get(call.op);
    if (histogram === undefined) {
      this.storeSeconds.set(call.op, histogram = new Histogram(LATENCY_BUCKETS_S));
    }
    histogram.observe(call.ms / 1000);
    if (!call.ok) {
      const key = `${call.op}\u0000${call.code ?? "error"}`;
      this.storeErrors.set(key, (this.storeErrors.get(key) ?? 0) + 1);
    }
  }

  /** Commit events seen. */
  get commitEvents(): number {
    return this.#commitEvents;
  }
}

/** Everything one scrape shows. */
export interface MetricsSnapshot {
  /** The queue's counters (`queueStats` of the broker's state). */
  stats: QueueStats;
  /** Jobs held in the state, by state then type (finished ones awaiting archive included). */
  jobsByStateAndType: Record<string, Record<string, number>>;
  /** The broker's own counters (`Broker.metrics`); every numeric field is exported. */
  broker: Record<string, unknown>;
  /** Leadership. */
  leader: { leader: boolean; brokerId: string; role?: string };
  /** WebSocket connections open. */
  connections: number;
  /** Connections with a push-delivery subscription, and their credits and claims in flight. */
  workers: { subscribed: number; credits: number; outstandingClaims: number };
  /** The collector of flowing metrics. */
  collector: MetricsCollector;
}

const BROKER_COUNTERS: Record<string, [string, string]> = {
  commits: ["osqueue_commits_total", "State writes that landed."],
  committedRequests: ["osqueue_committed_requests_total", "Client requests carried by commits."],
  readOnlyBatches: ["osqueue_read_only_batches_total", "Batches answered without a write."],
  conflicts: ["osqueue_conflicts_total", "Compare-and-swap conflicts seen by this broker."],
  ambiguousWrites: [
    "osqueue_ambiguous_writes_total",
    "Writes with an unknown outcome, resolved by re-reading.",
  ],
  archiveWrites: ["osqueue_archive_writes_total", "Archive objects written."],
};

const TOTALS: Record<string, string> = {
  pushed: "Jobs pushed (duplicates by idempotency key not counted).",
  completed: "Jobs completed.",
  failed: "Failed attempts reported.",
  retried: "Failed attempts scheduled for a retry.",
  dead: "Jobs dead-lettered.",
  expired: "Leases that ran out.",
  cancelled: "Jobs cancelled.",
};

/** Renders a snapshot in the Prometheus text format (version 0.0.4). */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const sample = (name: string, value: number, labels: Record<string, string> = {}) => {
    const entries = Object.entries(labels);
    const text = entries.length === 0
      ? ""
      : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
    out.push(`${name}${text} ${formatValue(value)}`);
  };
  const histogram = (
    name: string,
    help: string,
    series: [Record<string, string>, Histogram][],
  ) => {
    family(name, "histogram", help);
    for (const [labels, h] of series) {
      const cumulative = h.cumulative();
      h.buckets.forEach((le, i) =>
        sample(`${name}_bucket`, cumulative[i], { ...labels, le: String(le) })
      );
      sample(`${name}_bucket`, h.count, { ...labels, le: "+Inf" });
      sample(`${name}_sum`, h.sum, labels);
      sample(`${name}_count`, h.count, labels);
    }
  };

  const { stats } = snapshot;
  family("osqueue_jobs", "gauge", "Jobs by state and type (finished ones until archived).");
  const states = ["ready", "delayed", "active", "completed", "dead", "cancelled"];
  for (const state of states) {
    const byType = snapshot.jobsByStateAndType[state] ?? {};
    for (const type of Object.keys(byType).sort()) {
      sample("osqueue_jobs", byType[type], { state, type });
    }
  }
  family("osqueue_queue_jobs", "gauge", "Jobs by state, all types.");
  sample("osqueue_queue_jobs", stats.ready, { state: "ready" });
  sample("osqueue_queue_jobs", stats.delayed, { state: "delayed" });
  sample("osqueue_queue_jobs", stats.active, { state: "active" });
  sample("osqueue_queue_jobs", stats.finishedPending, { state: "finished_pending_archive" });
  for (const [key, help] of Object.entries(TOTALS)) {
    const name = `osqueue_jobs_${key}_total`;
    family(name, "counter", `${help} Queue-wide, since the queue was created.`);
    sample(name, (stats.totals as unknown as Record<string, number>)[key] ?? 0);
  }

  for (const [key, value] of Object.entries(snapshot.broker)) {
    if (typeof value !== "number") continue;
    const known = BROKER_COUNTERS[key];
    if (known !== undefined) {
      family(known[0], "counter", `${known[1]} This broker, since it started.`);
      sample(known[0], value);
    } else {
      const name = `osqueue_broker_${snake(key)}`;
      family(name, "gauge", `Broker metric ${key}.`);
      sample(name, value);
    }
  }

  const c = snapshot.collector;
  histogram("osqueue_commit_duration_seconds", "Commit latency: batch start to write landed.", [[
    {},
    c.commitSeconds,
  ]]);
  histogram("osqueue_commit_requests", "Client requests per commit.", [[{}, c.commitRequests]]);
  histogram("osqueue_commit_operations", "Operations (requests and housekeeping) per commit.", [[
    {},
    c.commitOperations,
  ]]);
  histogram("osqueue_commit_bytes", "Bytes written per commit.", [[{}, c.commitBytes]]);
  histogram(
    "osqueue_store_request_duration_seconds",
    "Object store call latency by operation.",
    [...c.storeSeconds].sort(([a], [b]) => a.localeCompare(b)).map(([op, h]) => [{ op }, h]),
  );
  family(
    "osqueue_store_errors_total",
    "counter",
    "Failed object store calls by operation and error code.",
  );
  for (const [key, n] of c.storeErrors) {
    const [op, code] = key.split("\u0000");
    sample("osqueue_store_errors_total", n, { op, code });
  }
  family(
    "osqueue_broker_events_total",
    "counter",
    "Broker events by name (commit, conflict, takeover, …).",
  );
  for (const [event, n] of [...c.events].sort(([a], [b]) => a.localeCompare(b))) {
    sample("osqueue_broker_events_total", n, { event });
  }

  family("osqueue_connections", "gauge", "WebSocket connections open.");
  sample("osqueue_connections", snapshot.connections);
  family("osqueue_workers", "gauge", "Connections with a push-delivery subscription.");
  sample("osqueue_workers", snapshot.workers.subscribed);
  family("osqueue_worker_credits", "gauge", "Credits granted by subscribed workers, summed.");
  sample("osqueue_worker_credits", snapshot.workers.credits);
  family("osqueue_parked_claims", "gauge", "Push-delivery claims waiting in the broker for a job.");
  sample("osqueue_parked_claims", snapshot.workers.outstandingClaims);

  family("osqueue_leader", "gauge", "1 when this broker is the leader.");
  sample("osqueue_leader", snapshot.leader.leader ? 1 : 0, { broker_id: snapshot.leader.brokerId });
  family("osqueue_epoch", "gauge", "The leader epoch of the state this broker holds.");
  sample("osqueue_epoch", stats.epoch);
  family("osqueue_state_commit", "gauge", "The commit counter of the state this broker holds.");
  sample("osqueue_state_commit", stats.commit);
  return out.join("\n") + "\n";
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, "_");
}
