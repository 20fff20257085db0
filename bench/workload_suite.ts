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
import type { Section } from "./report.ts";
import { formatNumber, median } from "./stats.ts";
import { runW1Once, runW2Once } from "./workload_runs.ts";
import type { BackendName } from "./backends.ts";
import type {
  W1Options,
  W1Result,
  W2Options,
  W2Result,
  WorkloadOptions,
} from "./workload_types.ts";

export type * from "./workload_types.ts";
export { runW1Once, runW2Once } from "./workload_runs.ts";

/** Runs W1 `runs` times per backend; returns the results and a section of medians. */
export async function runW1(
  options: W1Options,
): Promise<{ results: W1Result[][]; section: Section }> {
  const results = await repeatPerBackend(
    "W1",
    options,
    (backend) => runW1Once(backend, options),
    (result) =>
      `enqueue ${formatNumber(result.enqueuePerSecond)}/s, ` +
      `drain ${formatNumber(result.drainPerSecond)}/s`,
  );
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
  const rate = options.rate ?? 500;
  const durationMs = options.durationMs ?? 15_000;
  const results = await repeatPerBackend(
    "W2",
    options,
    (backend) => runW2Once(backend, options),
    (result) =>
      `p50 ${formatNumber(result.p50)} ms, p99 ${formatNumber(result.p99)} ms ` +
      `(${result.handled}/${result.jobs} handled)`,
  );
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

/**
 * Runs `once` `options.runs` times on each backend (results grouped per
 * backend), logging a line per run: `${name} ${backend} run i/n: ${describe(result)}`.
 */
async function repeatPerBackend<R>(
  name: string,
  options: WorkloadOptions,
  once: (backend: BackendName) => Promise<R>,
  describe: (result: R) => string,
): Promise<R[][]> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? 1;
  const results: R[][] = [];
  for (const backend of options.backends) {
    const perBackend: R[] = [];
    for (let run = 0; run < runs; run++) {
      const result = await once(backend);
      perBackend.push(result);
      log(`${name} ${backend} run ${run + 1}/${runs}: ${describe(result)}`);
    }
    results.push(perBackend);
  }
  return results;
}
