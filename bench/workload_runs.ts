/**
 * One run of W1 (backlog drain) or W2 (latency) on one store.
 *
 * @module
 */
import type { BackendName } from "./backends.ts";
import { summarize } from "./stats.ts";
import {
  delta,
  payload,
  sleep,
  snapshot,
  startCluster,
  storedCompleted,
  TYPE,
  waitCompleted,
} from "./workload_cluster.ts";
import type { W1Options, W1Result, W2Options, W2Result } from "./workload_types.ts";

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
