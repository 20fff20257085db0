/**
 * The peers' workloads (see `/work/shared/peers.md`), run in distributed
 * mode: a {@linkcode Broker} behind {@linkcode serveBroker} in this process,
 * the producer and the workers talking to it over WebSocket through the
 * `worker/` client — producer and workers in one process, as the peers did.
 *
 * - **W1 backlog drain**: enqueue `jobs` jobs (payload `{id, message}` with a
 *   100-byte string), one push call per job with at most `inFlight` in
 *   flight; then start `workers` Worker instances × `concurrency` with no-op
 *   handlers and wait until the committed state counts every job completed.
 * - **W2 latency**: workers running; an open-loop producer sends `rate`
 *   jobs/s for `durationMs`; latency = handler start − push call.
 *
 * Every store call goes through a counting `FaultyStore` (no faults), so
 * "writes per 1,000 jobs" is store PUTs (state commits plus archive objects)
 * per job × 1000.
 *
 * @module
 */
import { Broker, type BrokerMetrics, type BrokerOptions } from "../broker/broker.ts";
import { type BrokerServer, serveBroker } from "../server/server.ts";
import { readQueueState } from "../broker/read_state.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import type { JsonValue } from "../protocol/operations.ts";
import { FaultyStore, type FaultyStoreStats } from "../storage/faulty_store.ts";
import { connectClient, type OsqueueClient } from "../worker/client.ts";
import { type JobContext, type UntypedSchemas, Worker } from "../worker/worker.ts";
import { type BackendName, type OpenedStore, openStore, type S3Settings } from "./backends.ts";
import type { ProgressLog, Section } from "./report.ts";
import { formatNumber, median, summarize } from "./stats.ts";

const MESSAGE = "x".repeat(100);
const TYPE = "bench";
const STATE_KEY = "queue.json";

/** Options shared by W1 and W2. */
export interface WorkloadOptions {
  /** The stores to run on. */
  backends: BackendName[];
  /** S3 settings, for the `s3` backend. */
  s3?: S3Settings;
  /** Worker instances (default 4). */
  workers?: number;
  /** Handlers per worker (default 16). */
  concurrency?: number;
  /** Repetitions; the tables show medians (default 1). */
  runs?: number;
  /** Extra broker options for experiments, e.g. `{minCommitIntervalMs: 2}` (default none). */
  broker?: Omit<BrokerOptions, "store" | "stateKey">;
  /** Progress lines. */
  log?: ProgressLog;
}

/** Options of {@linkcode runW1}. */
export interface W1Options extends WorkloadOptions {
  /** Jobs to enqueue and drain (default 20 000). */
  jobs?: number;
  /** Most push calls in flight (default 64). */
  inFlight?: number;
}

/** Options of {@linkcode runW2}. */
export interface W2Options extends WorkloadOptions {
  /** Jobs per second sent (default 500). */
  rate?: number;
  /** How long to send, ms (default 15 000). */
  durationMs?: number;
}

/** What one W1 run measured. */
export interface W1Result {
  /** The store. */
  backend: BackendName;
  /** Jobs enqueued and drained. */
  jobs: number;
  /** Push calls answered per second. */
  enqueuePerSecond: number;
  /** Jobs confirmed completed per second, from the workers' start. */
  drainPerSecond: number;
  /** Store PUTs per 1000 jobs while enqueuing. */
  enqueueWritesPer1000: number;
  /** Store PUTs per 1000 jobs while draining. */
  drainWritesPer1000: number;
  /** Mean operations per state commit while enqueuing (the broker's `committedRequests`). */
  enqueueOpsPerCommit: number;
  /** Mean operations per state commit while draining. */
  drainOpsPerCommit: number;
  /** Client requests (not `stats`) per state commit while enqueuing. */
  enqueueRequestsPerCommit: number;
  /** Client requests (not `stats`) per state commit while draining. */
  drainRequestsPerCommit: number;
  /** Size of the state after the enqueue, bytes. */
  peakStateBytes: number;
  /** Requests that failed (push errors, worker warnings). */
  errors: number;
}

/** What one W2 run measured. */
export interface W2Result {
  /** The store. */
  backend: BackendName;
  /** Jobs sent. */
  jobs: number;
  /** Jobs whose handler started. */
  handled: number;
  /** Jobs sent per second, as achieved. */
  sendPerSecond: number;
  /** Median latency, handler start − push call, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Largest latency, ms. */
  max: number;
  /** Store PUTs per 1000 jobs. */
  writesPer1000: number;
  /** Mean operations per state commit (the broker's `committedRequests`). */
  opsPerCommit: number;
  /** Client requests (not `stats`) per state commit. */
  requestsPerCommit: number;
  /** Requests that failed (push errors, worker warnings). */
  errors: number;
}

/** A broker server over a counting store, a producer client and (not yet started) workers. */
interface Cluster {
  opened: OpenedStore;
  /** Requests that reached the broker through the server, `stats` excluded. */
  requests: () => number;
  store: FaultyStore;
  broker: Broker;
  server: BrokerServer;
  producer: OsqueueClient;
  workers: { client: OsqueueClient; worker: Worker }[];
  warnings: () => number;
  close(): Promise<void>;
}

async function startCluster(
  backend: BackendName,
  options: WorkloadOptions,
  label: string,
  handler: (job: JobContext) => void,
): Promise<Cluster> {
  const opened = await openStore(backend, { label, s3: options.s3 });
  const store = new FaultyStore(opened.store);
  const broker = new Broker({ ...options.broker, store, stateKey: STATE_KEY });
  await broker.start();
  let requests = 0;
  const counted: QueueBackend = {
    request(operation, requestOptions) {
      if (operation.op !== "stats") requests++;
      return broker.request(operation, requestOptions);
    },
    leaderInfo: () => broker.leaderInfo(),
  };
  const server = serveBroker({ backend: counted, port: 0 });
  const producer = connectClient({ url: server.url, clientId: "bench-producer" });
  let warnings = 0;
  const workers = Array.from({ length: options.workers ?? 4 }, (_, i) => {
    const client = connectClient({ url: server.url, clientId: `bench-worker-${i}` });
    const worker = new Worker<UntypedSchemas>({
      client,
      workerId: `bench-worker-${i}`,
      concurrency: options.concurrency ?? 16,
      handlers: { [TYPE]: handler },
      log: (level) => {
        if (level === "warn" || level === "error") warnings++;
      },
    });
    return { client, worker };
  });
  return {
    opened,
    requests: () => requests,
    store,
    broker,
    server,
    producer,
    workers,
    warnings: () => warnings,
    async close() {
      await Promise.all(workers.map(({ worker }) => worker.stop({ timeoutMs: 5_000 })));
      await Promise.all(workers.map(({ client }) => client.close()));
      await producer.close();
      await server.shutdown();
      await broker.stop();
      await opened.cleanup();
    },
  };
}

interface Snapshot {
  at: number;
  requests: number;
  store: FaultyStoreStats;
  broker: BrokerMetrics;
}

function snapshot(cluster: Cluster): Snapshot {
  return {
    at: performance.now(),
    requests: cluster.requests(),
    store: cluster.store.stats,
    broker: cluster.broker.metrics,
  };
}

function delta(from: Snapshot, to: Snapshot, jobs: number) {
  const commits = to.broker.commits - from.broker.commits;
  const operations = to.broker.committedRequests - from.broker.committedRequests;
  return {
    seconds: (to.at - from.at) / 1000,
    writesPer1000: ((to.store.puts - from.store.puts) / jobs) * 1000,
    opsPerCommit: commits > 0 ? operations / commits : NaN,
    requestsPerCommit: commits > 0 ? (to.requests - from.requests) / commits : NaN,
  };
}

function payload(id: number): JsonValue {
  return { id, message: MESSAGE };
}

/** Polls `stats` until `target` jobs are completed (the count of the committed state). */
async function waitCompleted(client: OsqueueClient, target: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await client.stats();
    if (stats.totals.completed >= target) return;
    if (performance.now() > deadline) {
      throw new Error(`timed out: ${stats.totals.completed} of ${target} jobs completed`);
    }
    await sleep(5);
  }
}

/** Reads the state from the store itself (head, checkpoint, log) and returns its completed count. */
async function storedCompleted(cluster: Cluster): Promise<number> {
  const snapshot = await readQueueState({ store: cluster.opened.store, headKey: STATE_KEY });
  if (snapshot === null) throw new Error("the queue state is missing");
  return snapshot.state.totals.completed;
}

/** Runs W1 once on `backend`. */
export async function runW1Once(backend: BackendName, options: W1Options): Promise<W1Result> {
  const jobs = options.jobs ?? 20_000;
  const inFlight = options.inFlight ?? 64;
  const cluster = await startCluster(backend, options, "w1", () => {});
  try {
    await cluster.producer.stats(); // connect before timing
    let errors = 0;
    let next = 0;
    const start = snapshot(cluster);
    await Promise.all(Array.from({ length: Math.min(inFlight, jobs) }, async () => {
      while (next < jobs) {
        const id = next++;
        try {
          await cluster.producer.push({ type: TYPE, payload: payload(id) });
        } catch {
          errors++;
        }
      }
    }));
    const enqueued = snapshot(cluster);
    const peakStateBytes = cluster.broker.metrics.stateBytes;
    await Promise.all(cluster.workers.map(({ worker }) => worker.start()));
    await waitCompleted(cluster.producer, jobs - errors, 600_000);
    const drained = snapshot(cluster);
    const confirmed = await storedCompleted(cluster);
    if (confirmed < jobs - errors) {
      throw new Error(`the stored state counts ${confirmed} completed, expected ${jobs - errors}`);
    }
    const enqueue = delta(start, enqueued, jobs);
    const drain = delta(enqueued, drained, jobs);
    return {
      backend,
      jobs,
      enqueuePerSecond: jobs / enqueue.seconds,
      drainPerSecond: (jobs - errors) / drain.seconds,
      enqueueWritesPer1000: enqueue.writesPer1000,
      drainWritesPer1000: drain.writesPer1000,
      enqueueOpsPerCommit: enqueue.opsPerCommit,
      drainOpsPerCommit: drain.opsPerCommit,
      enqueueRequestsPerCommit: enqueue.requestsPerCommit,
      drainRequestsPerCommit: drain.requestsPerCommit,
      peakStateBytes,
      errors: errors + cluster.warnings(),
    };
  } finally {
    await cluster.close();
  }
}

/** Runs W2 once on `backend`. */
export async function runW2Once(backend: BackendName, options: W2Options): Promise<W2Result> {
  const rate = options.rate ?? 500;
  const durationMs = options.durationMs ?? 15_000;
  const total = Math.round((rate * durationMs) / 1000);
  const sentAt = new Float64Array(total).fill(NaN);
  const latencies: number[] = [];
  let handled = 0;
  let allHandled: (() => void) | undefined;
  const cluster = await startCluster(backend, options, "w2", (job) => {
    const now = performance.now();
    const id = (job.payload as { id: number }).id;
    if (id < 0 || id >= total || Number.isNaN(sentAt[id])) return; // warm-up job
    latencies.push(now - sentAt[id]);
    if (++handled === total) allHandled?.();
  });
  try {
    await Promise.all(cluster.workers.map(({ worker }) => worker.start()));
    // Warm-up: connections open, a few jobs through the whole path.
    await Promise.all(
      Array.from(
        { length: 16 },
        (_, i) => cluster.producer.push({ type: TYPE, payload: payload(-1 - i) }),
      ),
    );
    await waitCompleted(cluster.producer, 16, 30_000);

    const done = new Promise<void>((resolve) => allHandled = resolve);
    let errors = 0;
    const start = snapshot(cluster);
    const interval = 1000 / rate;
    let sent = 0;
    const t0 = performance.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (sent < due) {
        const id = sent++;
        sentAt[id] = performance.now();
        cluster.producer.push({ type: TYPE, payload: payload(id) }).catch(() => errors++);
      }
      await sleep(1);
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, durationMs + 60_000)
    );
    await Promise.race([done, timeout]);
    clearTimeout(timer);
    await waitCompleted(cluster.producer, 16 + handled, 60_000);
    const end = snapshot(cluster);
    const summary = summarize(latencies);
    const d = delta(start, end, total);
    return {
      backend,
      jobs: total,
      handled,
      sendPerSecond: total / sendSeconds,
      p50: summary.p50,
      p99: summary.p99,
      max: summary.max,
      writesPer1000: d.writesPer1000,
      opsPerCommit: d.opsPerCommit,
      requestsPerCommit: d.requestsPerCommit,
      errors: errors + cluster.warnings(),
    };
  } finally {
    await cluster.close();
  }
}

/** Runs W1 `runs` times per backend; returns the results and a section of medians. */
export async function runW1(
  options: W1Options,
): Promise<{ results: W1Result[][]; section: Section }> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? 1;
  const results: W1Result[][] = [];
  for (const backend of options.backends) {
    const perBackend: W1Result[] = [];
    for (let run = 0; run < runs; run++) {
      const result = await runW1Once(backend, options);
      perBackend.push(result);
      log(
        `W1 ${backend} run ${run + 1}/${runs}: enqueue ${
          formatNumber(result.enqueuePerSecond)
        }/s, ` +
          `drain ${formatNumber(result.drainPerSecond)}/s`,
      );
    }
    results.push(perBackend);
  }
  const jobs = options.jobs ?? 20_000;
  const m = (rs: W1Result[], f: (r: W1Result) => number) => median(rs.map(f));
  return {
    results,
    section: {
      title: `W1 backlog drain (${jobs.toLocaleString("en-US")} jobs)`,
      headers: [
        "store",
        "runs",
        "enqueue jobs/s",
        "drain jobs/s",
        "enqueue writes/1k jobs",
        "drain writes/1k jobs",
        "enqueue requests/commit",
        "drain requests/commit",
        "enqueue ops/commit",
        "drain ops/commit",
        "peak state",
        "errors",
      ],
      rows: results.map((rs) => [
        rs[0].backend,
        String(rs.length),
        formatNumber(m(rs, (r) => r.enqueuePerSecond)),
        formatNumber(m(rs, (r) => r.drainPerSecond)),
        formatNumber(m(rs, (r) => r.enqueueWritesPer1000), 1),
        formatNumber(m(rs, (r) => r.drainWritesPer1000), 1),
        formatNumber(m(rs, (r) => r.enqueueRequestsPerCommit), 1),
        formatNumber(m(rs, (r) => r.drainRequestsPerCommit), 1),
        formatNumber(m(rs, (r) => r.enqueueOpsPerCommit), 1),
        formatNumber(m(rs, (r) => r.drainOpsPerCommit), 1),
        `${(m(rs, (r) => r.peakStateBytes) / 1e6).toFixed(2)} MB`,
        String(rs.reduce((sum, r) => sum + r.errors, 0)),
      ]),
      notes: [
        `Enqueue: one \`push\` call per job over one WebSocket client, at most ` +
        `${options.inFlight ?? 64} in flight. Drain: ${options.workers ?? 4} Worker instances × ` +
        `concurrency ${options.concurrency ?? 16} (push delivery), no-op handlers, timed from ` +
        "`worker.start()` until `stats` (read from the committed state) counts every job " +
        "completed; then the state object is read back from the store to confirm.",
        "writes/1k jobs = store PUTs (state commits + archive objects) / jobs × 1000; " +
        "requests/commit = client requests (push, claim, complete, release; not the bench's " +
        "`stats` polls) per state write; ops/commit = the broker's `committedRequests / " +
        "commits` (the client requests carried by writes, counted by the broker itself; " +
        "read-only batches are not in it).",
        "Broker server, producer and workers in one Deno process; medians over runs.",
      ],
    },
  };
}

/** Runs W2 `runs` times per backend; returns the results and a section of medians. */
export async function runW2(
  options: W2Options,
): Promise<{ results: W2Result[][]; section: Section }> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? 1;
  const rate = options.rate ?? 500;
  const durationMs = options.durationMs ?? 15_000;
  const results: W2Result[][] = [];
  for (const backend of options.backends) {
    const perBackend: W2Result[] = [];
    for (let run = 0; run < runs; run++) {
      const result = await runW2Once(backend, options);
      perBackend.push(result);
      log(
        `W2 ${backend} run ${run + 1}/${runs}: p50 ${formatNumber(result.p50)} ms, ` +
          `p99 ${formatNumber(result.p99)} ms (${result.handled}/${result.jobs} handled)`,
      );
    }
    results.push(perBackend);
  }
  const m = (rs: W2Result[], f: (r: W2Result) => number) => median(rs.map(f));
  return {
    results,
    section: {
      title: `W2 latency (${rate} jobs/s for ${durationMs / 1000} s, open loop)`,
      headers: [
        "store",
        "runs",
        "jobs",
        "handled",
        "sent jobs/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "writes/1k jobs",
        "requests/commit",
        "ops/commit",
        "errors",
      ],
      rows: results.map((rs) => [
        rs[0].backend,
        String(rs.length),
        String(rs[0].jobs),
        String(Math.min(...rs.map((r) => r.handled))),
        formatNumber(m(rs, (r) => r.sendPerSecond)),
        formatNumber(m(rs, (r) => r.p50)),
        formatNumber(m(rs, (r) => r.p99)),
        formatNumber(m(rs, (r) => r.max)),
        formatNumber(m(rs, (r) => r.writesPer1000), 1),
        formatNumber(m(rs, (r) => r.requestsPerCommit), 1),
        formatNumber(m(rs, (r) => r.opsPerCommit), 1),
        String(rs.reduce((sum, r) => sum + r.errors, 0)),
      ]),
      notes: [
        `${options.workers ?? 4} Worker instances × concurrency ${options.concurrency ?? 16} ` +
        "running first (16 warm-up jobs through the path); then one `push` per job, sent on " +
        "schedule without waiting for replies (open loop); latency = handler start − push call " +
        "(same process, `performance.now()`).",
        "writes/1k jobs, requests/commit and ops/commit (as in W1) cover the measured window up " +
        "to the last job's completion.",
      ],
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
